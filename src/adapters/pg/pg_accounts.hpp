#pragma once
// People's accounts and sessions in PostgreSQL (core/auth/accounts.hpp's AccountStore; the
// tables of V015__user_accounts.sql). One connection per instance.

#include <memory>
#include <string>

#include "core/auth/accounts.hpp"

namespace liaison::pg {

class PgConnection;

class PgAccounts final : public auth::AccountStore {
 public:
  static Result<std::unique_ptr<PgAccounts>> open(const std::string& conninfo);
  ~PgAccounts() override;

  Result<std::optional<auth::Account>> find(std::string_view name) override;
  Result<std::vector<auth::Account>> list() override;
  Result<Unit> add(const auth::Account& account) override;
  Result<Unit> setPassword(std::string_view name, std::string_view hash) override;
  Result<Unit> setDisabled(std::string_view name, bool disabled) override;
  Result<bool> recordFailure(std::string_view name, int max_failures,
                             std::chrono::minutes lockout) override;
  Result<Unit> recordSuccess(std::string_view name) override;
  Result<Unit> createSession(std::string_view token_sha256, std::string_view account,
                             const auth::SessionSettings& settings,
                             std::string_view client_address) override;
  Result<std::optional<auth::SessionUser>> touchSession(
      std::string_view token_sha256, const auth::SessionSettings& settings) override;
  Result<Unit> deleteSession(std::string_view token_sha256) override;

 private:
  explicit PgAccounts(std::unique_ptr<PgConnection> db);
  std::unique_ptr<PgConnection> db_;
};

}  // namespace liaison::pg
