// The pure rules of local accounts (core/auth/accounts) and the libsodium secrets behind them.
#include "core/auth/accounts.hpp"

#include <gtest/gtest.h>

#include "adapters/crypto/sodium_secrets.hpp"

namespace liaison::auth {
namespace {

TEST(Accounts, UserNames) {
  EXPECT_TRUE(validUserName("alice.fictif"));
  EXPECT_TRUE(validUserName("sec-1@cardio_plus"));
  EXPECT_FALSE(validUserName(""));
  EXPECT_FALSE(validUserName("a b"));
  EXPECT_FALSE(validUserName("a,b"));  // lists of names are comma-separated
  EXPECT_FALSE(validUserName(std::string(65, 'a')));
}

TEST(Accounts, PasswordPolicy) {
  EXPECT_TRUE(checkPasswordPolicy("alice", "FICTIF-correct-horse"));
  auto short_one = checkPasswordPolicy("alice", "Court-123");
  ASSERT_FALSE(short_one);
  EXPECT_EQ(short_one.error().code, Errc::PasswordRefused);
  // Characters, not bytes: 11 "é" are 22 bytes and still too short.
  std::string accents;
  for (int i = 0; i < 11; ++i)
    accents += "\xC3\xA9";
  EXPECT_FALSE(checkPasswordPolicy("bob", accents));
  EXPECT_TRUE(checkPasswordPolicy("bob", accents + "x\xC3\xA9"));  // 13 characters
  EXPECT_FALSE(checkPasswordPolicy("alice", "xxALICExx-2026-!"));  // contains the name
  EXPECT_FALSE(checkPasswordPolicy("bob", std::string(20, 'z')));
  EXPECT_FALSE(checkPasswordPolicy("bob", std::string(kMaxPasswordLength + 1, 'k') + "x"));
}

TEST(Accounts, Base64Url) {
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
}

TEST(Accounts, SodiumSecrets) {
  auto s = crypto::SodiumSecrets::create();
  ASSERT_TRUE(s);
  auto hash = (*s)->hashPassword("FICTIF-correct-horse");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE((*s)->verifyPassword(*hash, "FICTIF-correct-horse"));
  EXPECT_FALSE((*s)->verifyPassword(*hash, "FICTIF-correct-horsE"));
  EXPECT_FALSE((*s)->verifyPassword("not a hash", "FICTIF-correct-horse"));
  EXPECT_FALSE((*s)->needsRehash(*hash));
  // Weaker parameters (t=1) than ours: to be rehashed at the next change.
  std::string weaker = *hash;
  weaker.replace(weaker.find(",t=2,"), 5, ",t=1,");
  EXPECT_TRUE((*s)->needsRehash(weaker));
  EXPECT_EQ((*s)->dummyHash().rfind("$argon2id$", 0), 0u);
  const std::string a = (*s)->randomToken(), b = (*s)->randomToken();
  EXPECT_EQ(a.size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_NE(a, b);
  EXPECT_EQ((*s)->sha256("abc").size(), 32u);
  EXPECT_TRUE((*s)->equal("abc", "abc"));
  EXPECT_FALSE((*s)->equal("abc", "abd"));
  EXPECT_FALSE((*s)->equal("abc", "abcd"));
  EXPECT_NE(csrfToken(**s, a), csrfToken(**s, b));
  EXPECT_EQ(csrfToken(**s, a), csrfToken(**s, a));
  EXPECT_NE(csrfToken(**s, a), a);
}

}  // namespace
}  // namespace liaison::auth
