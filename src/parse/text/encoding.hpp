#pragma once
// Character encodings of what people send: UTF-8 expected, windows-1252 still common.

#include <string>
#include <string_view>

namespace liaison::parse {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(std::string_view s);

// The text as UTF-8: a UTF-8 BOM is dropped; text that is not valid UTF-8 is read as
// windows-1252 (through glibc's iconv), with U+FFFD for the few bytes it leaves undefined.
std::string toUtf8(std::string_view text);

}  // namespace liaison::parse
