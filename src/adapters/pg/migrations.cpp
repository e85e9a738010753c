#include "adapters/pg/migrations.hpp"

#include <charconv>

#include "adapters/pg/pg_connection.hpp"

namespace liaison::pg {
namespace {

// pg_advisory_lock key: "liaison" in ASCII, as a bigint.
constexpr std::string_view kLockKey = "30515164586667886";

int versionOf(std::string_view file) {  // "V012__x.sql" → 12
  int v = 0;
  if (file.size() > 1 && file[0] == 'V')
    std::from_chars(file.data() + 1, file.data() + file.size(), v);
  return v;
}

Result<int> currentVersion(PgConnection& db) {
  auto exists = db.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists) return exists.error();
  if (exists->text(0, 0) != "t") return 0;
  auto max = db.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!max) return max.error();
  return static_cast<int>(max->integer(0, 0));
}

}  // namespace

int latestSchemaVersion() {
  int latest = 0;
  for (const Migration& m : migrations())
    latest = std::max(latest, versionOf(m.file));
  return latest;
}

Result<MigrationReport> migrate(const std::string& conninfo, int up_to) {
  auto db = PgConnection::open(conninfo);
  if (!db) return db.error();
  PgConnection& c = **db;
  if (auto locked = c.exec("SELECT pg_advisory_lock(" + std::string(kLockKey) + ")"); !locked)
    return locked.error();
  // Migrations see and rewrite every ESS's rows (sql/V016__ess_isolation.sql: the tables' owner
  // is held to the row-level security policies too).
  if (auto all = c.exec("SELECT set_config('liaison.ess', '*', false)"); !all) return all.error();
  MigrationReport report;
  auto run = [&]() -> Result<Unit> {
    if (auto r = c.script("CREATE TABLE IF NOT EXISTS schema_migrations ("
                          " version integer PRIMARY KEY, file text NOT NULL,"
                          " applied_at timestamptz NOT NULL DEFAULT now())");
        !r) {
      return r.error();
    }
    auto from = currentVersion(c);
    if (!from) return from.error();
    report.from = report.to = *from;
    for (const Migration& m : migrations()) {
      const int v = versionOf(m.file);
      if (v <= report.to || v > up_to) continue;
      if (auto r = c.script("BEGIN"); !r) return r.error();
      auto applied = c.script(m.sql);
      if (applied) {
        const std::string version = std::to_string(v);
        auto recorded = c.exec("INSERT INTO schema_migrations (version, file) VALUES ($1, $2)",
                               {Param{version}, Param{m.file}});
        if (!recorded) applied = recorded.error();
      }
      if (!applied) {
        (void)c.script("ROLLBACK");
        return makeError(applied.error().code, std::string(m.file) + ": " + applied.error().detail);
      }
      if (auto r = c.script("COMMIT"); !r) return r.error();
      report.applied.emplace_back(m.file);
      report.to = v;
    }
    return Unit{};
  };
  auto result = run();
  (void)c.exec("SELECT pg_advisory_unlock(" + std::string(kLockKey) + ")");
  if (!result) return result.error();
  return report;
}

Result<int> schemaVersion(const std::string& conninfo) {
  auto db = PgConnection::open(conninfo);
  if (!db) return db.error();
  return currentVersion(**db);
}

Result<int> requireCurrentSchema(const std::string& conninfo) {
  auto v = schemaVersion(conninfo);
  if (!v) return v.error();
  if (*v != latestSchemaVersion()) {
    return makeError(Errc::DbSchemaOutdated,
                     "schéma de base en version " + std::to_string(*v) + ", attendu " +
                         std::to_string(latestSchemaVersion()) + " : lancer `liaison db migrate`");
  }
  return *v;
}

}  // namespace liaison::pg
