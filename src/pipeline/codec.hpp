#pragma once
// Digests and base64 through OpenSSL (XDS hashes are SHA-1 hex; FHIR Attachment.hash is the
// SHA-1 in base64; the message journal keys on SHA-256).

#include <cstdint>
#include <string>
#include <string_view>

namespace liaison::pipeline {

std::string base64(std::string_view bytes);
// The raw SHA-1 (20 bytes), to derive sha1Hex / sha1Base64 from one pass over the bytes.
std::string sha1(std::string_view bytes);
std::string hexOf(std::string_view raw);
std::string sha1Hex(std::string_view bytes);
std::string sha1Base64(std::string_view bytes);
std::string sha256Hex(std::string_view bytes);

// A fast 64-bit hash of an input, the seed of the ids of the Bundle made from it: stable across
// runs and platforms (not a digest: no security rests on it).
std::uint64_t contentSeed(std::string_view bytes);

}  // namespace liaison::pipeline
