#include "adapters/pg/pg_store.hpp"

#include "adapters/pg/pg_connection.hpp"
#include "core/json/json_out.hpp"

namespace liaison::pg {
namespace {

class PgTransaction : public StoreTransaction {
 public:
  explicit PgTransaction(PgConnection& db) : db_(db) {}
  ~PgTransaction() override {
    if (open_) (void)db_.script("ROLLBACK");
  }

  Result<std::string> holderOf(std::string_view type, std::string_view system,
                               std::string_view value, std::string_view proposed_id) override {
    // Waits for a concurrent holder to commit or roll back; then either we hold it or we see it.
    auto claimed = db_.exec(
        "INSERT INTO identifier_holder (type, system, value, resource_id) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (type, system, value) DO NOTHING RETURNING resource_id",
        {Param{type}, Param{system}, Param{value}, Param{proposed_id}});
    if (!claimed) return claimed.error();
    if (claimed->rows() == 1) return std::string(claimed->text(0, 0));
    auto holder = db_.exec(
        "SELECT resource_id FROM identifier_holder WHERE type = $1 AND system = $2 AND value = $3",
        {Param{type}, Param{system}, Param{value}});
    if (!holder) return holder.error();
    if (holder->rows() != 1)
      return makeError(Errc::DbSerialization, "identifiant réservé puis disparu");
    return std::string(holder->text(0, 0));
  }

  Result<std::vector<StoredVersion>> create(std::span<const NewResource> resources) override {
    std::vector<StoredVersion> out;
    if (resources.empty()) return out;
    // One round trip for all of them: a JSON array of {type, id, updated, content}.
    std::string batch;
    json::JsonOut w(batch);
    w.StartArray();
    for (const NewResource& r : resources) {
      w.StartObject();
      w.Key("type");
      w.String(r.type);
      w.Key("id");
      w.String(r.id);
      w.Key("updated");
      w.String(r.last_updated);
      w.Key("content");
      w.RawValue(r.json.data(), r.json.size());
      w.EndObject();
    }
    w.EndArray();
    auto inserted = db_.exec(
        "WITH input AS ("
        "  SELECT e->>'type' AS type, e->>'id' AS id, (e->>'updated')::timestamptz AS updated,"
        "         e->'content' AS content, n"
        "  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)),"
        " history AS ("
        "  INSERT INTO resource_history (type, id, version, last_updated, content)"
        "  SELECT type, id, 1, updated, content FROM input)"
        "INSERT INTO resource (type, id, version, last_updated, content)"
        " SELECT type, id, 1, updated, content FROM input ORDER BY n"
        " RETURNING type, id, version,"
        "  to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
        {Param{batch}});
    if (!inserted) return inserted.error();
    for (int i = 0; i < inserted->rows(); ++i) {
      out.push_back({std::string(inserted->text(i, 0)), std::string(inserted->text(i, 1)),
                     inserted->integer(i, 2), std::string(inserted->text(i, 3))});
    }
    return out;
  }

  Result<Unit> recordOutcome(std::int64_t journal_id, const StoredOutcome& outcome,
                             std::string_view quarantine_code) override {
    const std::string id = std::to_string(journal_id);
    auto r = db_.exec(
        "INSERT INTO ingest_outcome (journal_id, status, quarantine_code, outcome, response) "
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)",
        {Param{id}, Param{outcome.status}, Param{quarantine_code, false, quarantine_code.empty()},
         Param{outcome.outcome_json},
         Param{outcome.response_json, false, outcome.response_json.empty()}});
    if (!r) return r.error();
    return Unit{};
  }

  Result<Unit> commit() override {
    open_ = false;
    auto r = db_.script("COMMIT");
    if (!r) return r.error();
    return Unit{};
  }

 private:
  PgConnection& db_;
  bool open_ = true;
};

}  // namespace

PgStore::PgStore(std::unique_ptr<PgConnection> db) : db_(std::move(db)) {}
PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::open(const std::string& conninfo) {
  auto db = PgConnection::open(conninfo);
  if (!db) return db.error();
  return std::unique_ptr<PgStore>(new PgStore(std::move(*db)));
}

Result<JournalEntry> PgStore::journal(const InboundMessage& m) {
  const std::string size = std::to_string(m.bytes.size());
  auto inserted = db_->exec(
      "INSERT INTO message_journal (message_id, sha256, source, size, raw) "
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT ON CONSTRAINT message_journal_once DO NOTHING "
      "RETURNING id",
      {Param{m.message_id}, Param{m.sha256}, Param{m.source}, Param{size}, Param{m.bytes, true}});
  if (!inserted) return inserted.error();
  if (inserted->rows() == 1) return JournalEntry{inserted->integer(0, 0), false, std::nullopt};
  auto first = db_->exec("SELECT id FROM message_journal WHERE message_id = $1 AND sha256 = $2",
                         {Param{m.message_id}, Param{m.sha256}});
  if (!first) return first.error();
  if (first->rows() != 1) return makeError(Errc::DbSerialization, "message journalisé introuvable");
  JournalEntry entry{first->integer(0, 0), true, std::nullopt};
  auto outcome = outcomeOf(entry.id);
  if (!outcome) return outcome.error();
  entry.outcome = std::move(*outcome);
  return entry;
}

Result<std::optional<StoredOutcome>> PgStore::outcomeOf(std::int64_t journal_id) {
  const std::string id = std::to_string(journal_id);
  auto r = db_->exec(
      "SELECT status, outcome::text, coalesce(response::text, '') FROM ingest_outcome "
      "WHERE journal_id = $1",
      {Param{id}});
  if (!r) return r.error();
  if (r->rows() == 0) return std::optional<StoredOutcome>{};
  return std::optional<StoredOutcome>{StoredOutcome{
      std::string(r->text(0, 0)), std::string(r->text(0, 1)), std::string(r->text(0, 2))}};
}

Result<std::unique_ptr<StoreTransaction>> PgStore::begin() {
  if (auto r = db_->script("BEGIN"); !r) return r.error();
  return std::unique_ptr<StoreTransaction>(new PgTransaction(*db_));
}

}  // namespace liaison::pg
