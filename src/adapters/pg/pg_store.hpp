#pragma once
// The store on PostgreSQL (core/ports/store.hpp). One connection per PgStore: a thread uses its
// own (the server will keep a pool of them).

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/ports/store.hpp"

namespace liaison::pg {

class PgConnection;

class PgStore : public Store, public Outbox {
 public:
  // Connects; does not migrate (see migrations.hpp).
  static Result<std::unique_ptr<PgStore>> open(const std::string& conninfo);
  ~PgStore() override;

  void setEss(std::span<const std::string> ess) override;
  Result<JournalEntry> journal(const InboundMessage& message) override;
  Result<std::optional<StoredOutcome>> outcomeOf(std::int64_t journal_id) override;
  Result<std::unique_ptr<StoreTransaction>> begin() override;
  Result<std::optional<StoredResource>> read(std::string_view type, std::string_view id) override;
  Result<std::optional<StoredResource>> vread(std::string_view type, std::string_view id,
                                              std::int64_t version) override;
  Result<std::vector<StoredResource>> readCurrent(std::span<const std::string> references) override;
  Result<SearchPage> history(std::string_view type, std::string_view id, int count,
                             std::string_view after) override;
  Result<SearchPage> search(const SearchRequest& request) override;
  Result<Unit> audit(const AuditRecord& record) override;
  Result<SearchPage> searchAudit(const AuditQuery& query) override;
  Result<std::vector<std::string>> patientsOfBinary(std::string_view id) override;
  Result<std::optional<BinaryContent>> readBinary(std::string_view id) override;
  Result<std::vector<UnfinishedMessage>> unfinished(int limit, int min_age_seconds) override;
  Result<int> recordAttempt(std::int64_t journal_id) override;
  Outbox* outbox() override { return this; }

  Result<std::vector<OutboxEntry>> lease(std::string_view worker, int max,
                                         int lease_seconds) override;
  Result<Unit> markSent(std::int64_t id) override;
  Result<Unit> retryLater(std::int64_t id, std::int64_t delay_ms, std::string_view error) override;
  Result<Unit> markFailed(std::int64_t id, std::string_view error) override;
  Result<bool> recordReport(std::string_view message_id, std::string_view status,
                            std::string_view report) override;
  Result<std::vector<OutboxEntry>> list(std::string_view status, int count) override;

  // The lease of a mailbox (sql/V012__mailbox_lease.sql): two gateways on one database poll each
  // mailbox one at a time. holdMailbox takes the lease for `holder` until now + `seconds` when it
  // is free, expired or already `holder`'s (then it is renewed); `held` false when another
  // holder's lease runs (`holder` then names it). `acquired`: taken now, not renewed. With
  // `gone`, a holder known to be dead (a process of this host that no longer exists), its lease
  // is taken over before it runs out.
  struct MailboxHold {
    bool held = false;
    bool acquired = false;
    std::string holder;
  };
  Result<MailboxHold> holdMailbox(std::string_view mailbox, std::string_view holder, int seconds,
                                  std::string_view gone = {});
  // Gives the lease up (a graceful stop): another gateway may take the mailbox at once.
  Result<Unit> releaseMailbox(std::string_view mailbox, std::string_view holder);

  // Rebuilds the search index of every current resource (after search-parameters.json or a
  // migration changed what is indexed), in transactions of `batch` resources. Returns the count.
  using Extractor =
      std::function<std::vector<IndexEntry>(std::string_view type, std::string_view json)>;
  Result<std::int64_t> reindex(const Extractor& extract, int batch = 500);

 private:
  explicit PgStore(std::unique_ptr<PgConnection> db);
  // Sets liaison.ess on the session when it is not what setEss asked for: one round trip when
  // the scope changes, none when a pooled connection serves the same ESS again. Outside any
  // transaction (a session setting made in a transaction that rolls back would be undone).
  Result<Unit> applyEss();
  std::unique_ptr<PgConnection> db_;
  std::string ess_;                     // as setEss asked: "a", "a,b", "*" or "" (none)
  std::optional<std::string> ess_set_;  // what the session holds (nullopt: not known)
};

}  // namespace liaison::pg
