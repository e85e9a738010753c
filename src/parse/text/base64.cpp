#include "parse/text/base64.hpp"

#include <array>
#include <climits>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LIAISON_BASE64_AVX2 1
#endif

namespace liaison::parse {
namespace {

// Four tables, one per position in a quad: the character's 6 bits already shifted to their
// place in the 24-bit group, or kBad for anything outside the alphabet ('=' and white space
// included, which the slow path sorts out). A quad is four loads and three ORs, read in place
// (no compacted copy of the text first); with AVX2, blocks of 32 characters go at once.
constexpr std::uint32_t kBad = 0x01000000;

struct Tables {
  std::array<std::array<std::uint32_t, 256>, 4> at{};
};

constexpr Tables makeTables() {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  Tables t;
  for (auto& table : t.at) {
    for (auto& v : table)
      v = kBad;
  }
  for (std::uint32_t i = 0; i < kAlphabet.size(); ++i) {
    const auto c = static_cast<unsigned char>(kAlphabet[i]);
    t.at[0][c] = i << 18;
    t.at[1][c] = i << 12;
    t.at[2][c] = i << 6;
    t.at[3][c] = i;
  }
  return t;
}

constexpr Tables kTables = makeTables();

bool isSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::uint32_t quad(const unsigned char* q) {
  return kTables.at[0][q[0]] | kTables.at[1][q[1]] | kTables.at[2][q[2]] | kTables.at[3][q[3]];
}

#ifdef LIAISON_BASE64_AVX2
// 32 characters → 24 bytes with AVX2, or false (nothing written) when the block holds anything
// outside the alphabet: white space, padding or garbage, which the scalar code then sorts out.
// W. Muła's classification by nibbles (as aklomp/base64 and simdutf use it): a character is in
// the alphabet iff the table entries of its low and high nibbles share no bit.
__attribute__((target("avx2"))) bool decode32(const unsigned char* in, unsigned char* out) {
  const __m256i lut_lo =
      _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B,
                       0x1B, 0x1B, 0x1A, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                       0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
  const __m256i lut_hi =
      _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10,
                       0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10,
                       0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
  // What to add to a character, by its high nibble ('/' apart), to get its 6-bit value.
  const __m256i lut_roll =
      _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 19, 4, -65,
                       -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i mask_2f = _mm256_set1_epi8(0x2F);
  __m256i text = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
  const __m256i hi_nibbles = _mm256_and_si256(_mm256_srli_epi32(text, 4), mask_2f);
  const __m256i lo_nibbles = _mm256_and_si256(text, mask_2f);
  const __m256i hi = _mm256_shuffle_epi8(lut_hi, hi_nibbles);
  const __m256i lo = _mm256_shuffle_epi8(lut_lo, lo_nibbles);
  if (_mm256_testz_si256(lo, hi) == 0) return false;
  const __m256i eq_2f = _mm256_cmpeq_epi8(text, mask_2f);
  text = _mm256_add_epi8(text, _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(eq_2f, hi_nibbles)));
  // 4 × 6 bits → 3 bytes per 32-bit lane, then the 12 bytes of each 128-bit half together.
  const __m256i pairs = _mm256_maddubs_epi16(text, _mm256_set1_epi32(0x01400140));
  __m256i bytes = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
  bytes = _mm256_shuffle_epi8(
      bytes, _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1, 0, 6, 5,
                              4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
  bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
  alignas(32) unsigned char block[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(block), bytes);
  std::memcpy(out, block, 24);
  return true;
}

bool hasAvx2() {
  static const bool yes = __builtin_cpu_supports("avx2") != 0;
  return yes;
}
#endif

}  // namespace

std::optional<std::string> decodeBase64(std::string_view encoded) {
  std::string out(encoded.size() / 4 * 3, '\0');
  auto* w = reinterpret_cast<unsigned char*>(out.data());
  const auto* p = reinterpret_cast<const unsigned char*>(encoded.data());
  const unsigned char* const end = p + encoded.size();
  auto put = [&w](std::uint32_t v) {
    w[0] = static_cast<unsigned char>(v >> 16);
    w[1] = static_cast<unsigned char>(v >> 8);
    w[2] = static_cast<unsigned char>(v);
    w += 3;
  };
#ifdef LIAISON_BASE64_AVX2
  const bool avx2 = hasAvx2();
#else
  constexpr bool avx2 = false;
#endif
  for (;;) {
#ifdef LIAISON_BASE64_AVX2
    // Blocks of 32 characters without white space: most of a 76-character MIME line.
    if (avx2) {
      while (end - p >= 32 && decode32(p, w)) {
        p += 32;
        w += 24;
      }
    }
#endif
    // Whole quads without white space, up to the line end (with AVX2, back to blocks soon).
    int quads = avx2 ? 8 : INT_MAX;
    for (; quads > 0 && end - p >= 4; --quads) {
      const std::uint32_t v = quad(p);
      if ((v & kBad) != 0) break;
      put(v);
      p += 4;
    }
    if (quads == 0) continue;
    // One quad gathered across white space, or the padded last one, or the end.
    unsigned char q[4];
    int n = 0;
    while (n < 4 && p < end) {
      const unsigned char c = *p++;
      if (!isSpace(c)) q[n++] = c;
    }
    if (n == 0) break;               // only white space was left
    if (n < 4) return std::nullopt;  // a length that is not a multiple of 4
    if (const std::uint32_t v = quad(q); (v & kBad) == 0) {
      put(v);
      continue;
    }
    // Padding: "xx==" or "xxx=", and nothing but white space after it.
    int padding = 0;
    if (q[3] == '=') padding = q[2] == '=' ? 2 : 1;
    if (padding == 0) return std::nullopt;  // a character outside the alphabet
    const std::uint32_t v =
        kTables.at[0][q[0]] | kTables.at[1][q[1]] | (padding == 1 ? kTables.at[2][q[2]] : 0);
    if ((v & kBad) != 0) return std::nullopt;  // "Q===", "====", '=' inside the quad
    w[0] = static_cast<unsigned char>(v >> 16);
    if (padding == 1) w[1] = static_cast<unsigned char>(v >> 8);
    w += 3 - padding;
    while (p < end) {
      if (!isSpace(*p++)) return std::nullopt;  // data after the padding
    }
    break;
  }
  out.resize(static_cast<std::size_t>(w - reinterpret_cast<unsigned char*>(out.data())));
  return out;
}

}  // namespace liaison::parse
