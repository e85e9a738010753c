#pragma once
// Numbered SQL migrations (sql/V<n>__<name>.sql, compiled in), applied in order, each in its own
// transaction, under a PostgreSQL advisory lock so that two gateways never migrate at once.

#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"

namespace liaison::pg {

struct Migration {
  std::string_view file;  // "V001__store.sql"
  std::string_view sql;
};

const std::vector<Migration>& migrations();  // generated from sql/
int latestSchemaVersion();

struct MigrationReport {
  int from = 0;
  int to = 0;
  std::vector<std::string> applied;  // file names
};

// Applies what is missing, up to `up_to` (tests of a migration on data: stop before it).
// Needs a role that may create tables (the owner, not the gateway).
Result<MigrationReport> migrate(const std::string& conninfo, int up_to = latestSchemaVersion());

// The schema version of the database (0 when never migrated).
Result<int> schemaVersion(const std::string& conninfo);

// db-schema-outdated unless the database is at latestSchemaVersion(): checked at start.
Result<int> requireCurrentSchema(const std::string& conninfo);

}  // namespace liaison::pg
