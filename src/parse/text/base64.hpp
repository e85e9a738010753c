#pragma once
// Base64 as MIME (RFC 2045 §6.8) and CDA (xs:base64Binary) carry it: decoded by OpenSSL.

#include <optional>
#include <string>
#include <string_view>

namespace liaison::parse {

// Strict base64: white space (space, TAB, CR, LF) anywhere is skipped; any other character
// outside the alphabet, a length that is not a multiple of 4, or data after the padding is an
// error (std::nullopt). Empty input decodes to empty bytes. GMime's own decoder skips all of
// these silently, which would hide a truncated or corrupted attachment.
std::optional<std::string> decodeBase64(std::string_view encoded);

}  // namespace liaison::parse
