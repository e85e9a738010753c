#pragma once
// The store on PostgreSQL (core/ports/store.hpp). One connection per PgStore: a thread uses its
// own (the server will keep a pool of them).

#include <memory>
#include <string>

#include "core/ports/store.hpp"

namespace liaison::pg {

class PgConnection;

class PgStore : public Store {
 public:
  // Connects; does not migrate (see migrations.hpp).
  static Result<std::unique_ptr<PgStore>> open(const std::string& conninfo);
  ~PgStore() override;

  Result<JournalEntry> journal(const InboundMessage& message) override;
  Result<std::optional<StoredOutcome>> outcomeOf(std::int64_t journal_id) override;
  Result<std::unique_ptr<StoreTransaction>> begin() override;

 private:
  explicit PgStore(std::unique_ptr<PgConnection> db);
  std::unique_ptr<PgConnection> db_;
};

}  // namespace liaison::pg
