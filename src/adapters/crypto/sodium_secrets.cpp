#include "adapters/crypto/sodium_secrets.hpp"

#include <sodium.h>

namespace liaison::crypto {
namespace {
// INTERACTIVE (2 passes over 64 MiB, ~0.1 s per hash on one core here) rather than MODERATE
// (256 MiB, ~0.5–0.7 s): a login costs a worker thread and 64 MiB while it hashes; with
// MODERATE, four concurrent logins would take 1 GiB and most of the 2 cores for seconds — a
// denial of service for the API that login rate limits only partly contain. Online guessing is
// stopped by the lock-out, not by the hash; the hash's cost matters if the table leaks, where
// argon2id at 64 MiB still makes GPUs pay in memory.
constexpr unsigned long long kOps = crypto_pwhash_OPSLIMIT_INTERACTIVE;
constexpr std::size_t kMem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
}  // namespace

Result<std::unique_ptr<SodiumSecrets>> SodiumSecrets::create() {
  if (sodium_init() < 0) return makeError(Errc::Internal, "libsodium: initialisation impossible");
  std::unique_ptr<SodiumSecrets> s(new SodiumSecrets());
  // A password nobody knows: an unknown user's login is verified against it, as long as any.
  auto dummy = s->hashPassword(s->randomToken());
  if (!dummy) return dummy.error();
  s->dummy_ = std::move(*dummy);
  return s;
}

Result<std::string> SodiumSecrets::hashPassword(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kOps, kMem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return makeError(Errc::Internal, "libsodium: mémoire insuffisante pour hacher le mot de passe");
  return std::string(out);
}

bool SodiumSecrets::verifyPassword(std::string_view hash, std::string_view password) const {
  // crypto_pwhash_str_verify reads a NUL-terminated string.
  const std::string h(hash);
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

bool SodiumSecrets::needsRehash(std::string_view hash) const {
  const std::string h(hash);
  return crypto_pwhash_str_needs_rehash(h.c_str(), kOps, kMem) != 0;
}

std::string SodiumSecrets::randomToken() const {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  return auth::base64url(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

std::string SodiumSecrets::sha256(std::string_view bytes) const {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

bool SodiumSecrets::equal(std::string_view a, std::string_view b) const {
  // The lengths are public (every token has the same); the bytes are compared in constant time.
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace liaison::crypto
