#include "pipeline/codec.hpp"

#include <openssl/evp.h>

#include <array>
#include <bit>
#include <cstring>

namespace liaison::pipeline {
namespace {

// Fetched once: EVP_sha1() / EVP_sha256() make every EVP_Digest fetch the implementation again.
const EVP_MD* sha1Md() {
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    return fetched != nullptr ? fetched : EVP_sha1();
  }();
  return md;
}

const EVP_MD* sha256Md() {
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

std::string digest(const EVP_MD* md, std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int n = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &n, md, nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out.data()), n);
}

}  // namespace

std::string hexOf(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    out += kHex[u >> 4];
    out += kHex[u & 0xF];
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

std::string sha1(std::string_view bytes) {
  return digest(sha1Md(), bytes);
}
std::string sha1Hex(std::string_view bytes) {
  return hexOf(digest(sha1Md(), bytes));
}
std::string sha1Base64(std::string_view bytes) {
  return base64(digest(sha1Md(), bytes));
}
std::string sha256Hex(std::string_view bytes) {
  return hexOf(digest(sha256Md(), bytes));
}

std::uint64_t contentSeed(std::string_view s) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  std::uint64_t h = 0xCBF29CE484222325ULL ^ (s.size() * kMul);
  for (std::size_t i = 0; i + 8 <= s.size(); i += 8) {
    std::uint64_t word = 0;  // the 8 bytes as a little-endian word, whatever the host
    std::memcpy(&word, s.data() + i, 8);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  }
  for (std::size_t i = s.size() & ~std::size_t{7}; i < s.size(); ++i)
    h = (h ^ static_cast<unsigned char>(s[i])) * kMul;
  return h ^ (h >> 32);
}

}  // namespace liaison::pipeline
