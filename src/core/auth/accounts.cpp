#include "core/auth/accounts.hpp"

#include <algorithm>
#include <cctype>

namespace liaison::auth {

bool validUserName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' ||
           c == '-';
  });
}

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

Result<Unit> checkPasswordPolicy(std::string_view name, std::string_view password) {
  auto refuse = [](std::string why) { return makeError(Errc::PasswordRefused, std::move(why)); };
  if (password.size() > kMaxPasswordLength)
    return refuse("Mot de passe trop long (au plus " + std::to_string(kMaxPasswordLength) +
                  " octets).");
  // Code points, not bytes: "é" is one character to whoever chose it.
  const auto characters = static_cast<std::size_t>(
      std::count_if(password.begin(), password.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  if (characters < kMinPasswordLength)
    return refuse("Mot de passe trop court (au moins " + std::to_string(kMinPasswordLength) +
                  " caractères).");
  if (!name.empty() && lower(password).find(lower(name)) != std::string::npos)
    return refuse("Le mot de passe ne doit pas contenir le nom de l'utilisateur.");
  if (std::all_of(password.begin(), password.end(), [&](char c) { return c == password.front(); }))
    return refuse("Le mot de passe ne doit pas répéter un seul caractère.");
  return Unit{};
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::string csrfToken(const Secrets& secrets, std::string_view session_token) {
  return base64url(secrets.sha256("liaison-csrf\n" + std::string(session_token)));
}

}  // namespace liaison::auth
