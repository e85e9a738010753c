#pragma once
// auth::Secrets on libsodium: argon2id password hashes (crypto_pwhash_str, its self-describing
// "$argon2id$v=19$m=…,t=…,p=1$salt$hash" text), random tokens (randombytes_buf), SHA-256 and
// constant-time comparison (sodium_memcmp). An adapter of its own: core stays free of libraries,
// and rest/ receives the port, so the CLI and the server share one implementation.

#include <memory>
#include <string>

#include "core/auth/accounts.hpp"

namespace liaison::crypto {

class SodiumSecrets final : public auth::Secrets {
 public:
  // Calls sodium_init() (thread-safe, idempotent: once per process in effect); an error only if
  // libsodium cannot initialise (no entropy source), which nothing here can run without.
  static Result<std::unique_ptr<SodiumSecrets>> create();

  Result<std::string> hashPassword(std::string_view password) const override;
  bool verifyPassword(std::string_view hash, std::string_view password) const override;
  bool needsRehash(std::string_view hash) const override;
  const std::string& dummyHash() const override { return dummy_; }
  std::string randomToken() const override;
  std::string sha256(std::string_view bytes) const override;
  bool equal(std::string_view a, std::string_view b) const override;

 private:
  SodiumSecrets() = default;
  std::string dummy_;
};

}  // namespace liaison::crypto
