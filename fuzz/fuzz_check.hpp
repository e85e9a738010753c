#pragma once
// Shared by the libFuzzer harnesses: invariant checks that stop the fuzzer on violation.

#include <string_view>

namespace liaison::fuzz {

// A violated invariant is a finding: trap, so that libFuzzer saves the input as a crash.
inline void require(bool ok) {
  if (!ok) __builtin_trap();
}

inline bool hasUpperAscii(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

inline bool hasControl(std::string_view s) {
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

inline std::string_view asText(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace liaison::fuzz
