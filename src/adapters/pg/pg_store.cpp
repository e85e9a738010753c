#include "adapters/pg/pg_store.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "adapters/pg/pg_audit_log.hpp"
#include "adapters/pg/pg_connection.hpp"
#include "core/json/json_out.hpp"

namespace liaison::pg {
namespace {

// A timestamptz column as a FHIR instant (UTC, milliseconds).
std::string instantOf(std::string_view column) {
  return "to_char(" + std::string(column) +
         " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}
// Its microseconds since the epoch: the part of a paging position that orders by time.
std::string microsOf(std::string_view column) {
  return "(extract(epoch FROM " + std::string(column) + ") * 1000000)::bigint";
}
// A stable position in last_updated order, "micros~id~version", of the row `row` ("" or "r.").
std::string positionOf(std::string_view row) {
  const std::string r(row);
  return microsOf(r + "last_updated") + "::text || '~' || " + r + "id || '~' || " + r + "version";
}
const std::string kInstant = instantOf("last_updated");

StoredResource storedAt(const PgResult& r, int row) {
  return {std::string(r.text(row, 0)), std::string(r.text(row, 1)), r.integer(row, 2),
          std::string(r.text(row, 3)), r.text(row, 4) == "t",       std::string(r.text(row, 5))};
}

// A version of a resource: meta.versionId and meta.lastUpdated set in the stored JSON ($3, $6;
// $4 is the same instant as timestamptz, and a parameter has one type).
constexpr std::string_view kVersionedContent =
    "jsonb_set(jsonb_set(CASE WHEN jsonb_typeof($5::jsonb->'meta') = 'object' THEN $5::jsonb "
    "ELSE jsonb_set($5::jsonb, '{meta}', '{}'::jsonb) END, '{meta,versionId}', to_jsonb($3::text)),"
    " '{meta,lastUpdated}', to_jsonb($6::text))";
// The version being replaced moves to resource_history (which holds superseded versions only:
// the current one is read from resource); both statements see the row as it was.
constexpr std::string_view kSupersede =
    "WITH old AS (INSERT INTO resource_history (type, id, version, last_updated, deleted, content,"
    " ess) SELECT type, id, version, last_updated, deleted, content, ess FROM resource"
    " WHERE type = $1 AND id = $2) ";
const std::string kUpdateResource =
    std::string(kSupersede) +
    "UPDATE resource SET version = $3::integer, last_updated = $4::timestamptz, "
    "deleted = false, content = " +
    std::string(kVersionedContent) + " WHERE type = $1 AND id = $2 RETURNING " + kInstant;
const std::string kInsertResource =
    "INSERT INTO resource (type, id, version, last_updated, content) "
    "VALUES ($1, $2, $3::integer, $4::timestamptz, " +
    std::string(kVersionedContent) + ") RETURNING " + kInstant;

// bytea comes back in PostgreSQL's hex text form ("\\x…"): the raw bytes.
std::string fromHex(std::string_view text) {
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') text.remove_prefix(2);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out(text.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]));
  return out;
}

// A text[] in its text form ("{a,b}" or "{\"a b\"}"): the elements, unquoted and unescaped.
std::vector<std::string> fromArray(std::string_view text) {
  std::vector<std::string> out;
  if (text.size() < 2) return out;
  text = text.substr(1, text.size() - 2);
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (c == '\\' && i + 1 < text.size()) {
      cur += text[++i];
    } else if (c == ',' && !quoted) {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!text.empty()) out.push_back(std::move(cur));
  return out;
}

// Strings as a JSON array, which SQL unpacks with jsonb_array_elements_text.
template <typename Strings>
std::string jsonArray(const Strings& strings) {
  std::string out;
  json::JsonOut w(out);
  w.StartArray();
  for (const auto& s : strings)
    w.String(s);
  w.EndArray();
  return out;
}

// Advisory locks of document claims: the two-key form, in a space of their own ("LIAD" in
// ASCII; the migrations' lock is a one-bigint key, a space that does not overlap), keyed by
// a 32-bit FNV-1a hash of a document key or set (a collision only makes two claims wait).
constexpr std::string_view kDocumentLocks = "1279869252";
std::int32_t lockOf(std::string_view key) {
  std::uint32_t h = 2166136261u;
  for (char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return static_cast<std::int32_t>(h);
}

// Search-index entries as the JSON the SQL below unpacks: [[param, kind, first, second], …].
void writeIndex(json::JsonOut& w, const std::vector<IndexEntry>& index) {
  w.StartArray();
  for (const IndexEntry& e : index) {
    w.StartArray();
    w.String(e.param);
    w.String(std::string_view(reinterpret_cast<const char*>(&e.kind), 1));
    w.String(e.first);
    w.String(e.second);
    w.EndArray();
  }
  w.EndArray();
}

// One audit record, by INSERT (the batched writer, PgAuditLog, uses COPY of the same columns).
Result<Unit> insertAudit(PgConnection& db, const AuditRecord& a) {
  auto r = db.execPrepared(
      "INSERT INTO audit_event (recorded, agent, action, subtype, what, outcome, principal, role, "
      "patients, ess, address) VALUES ($1::timestamptz, $2, $3, $4, $5, $6, $7, $8, $9::text[], "
      "$10::text[], $11)",
      {Param{a.recorded}, Param{a.agent}, Param{a.action}, Param{a.subtype}, Param{a.what},
       Param{a.outcome}, Param{a.principal}, Param{a.role}, Param{textArrayLiteral(a.patients)},
       Param{textArrayLiteral(a.ess)}, Param{a.address}});
  if (!r) return r.error();
  return Unit{};
}

class PgTransaction : public StoreTransaction {
 public:
  explicit PgTransaction(PgConnection& db) : db_(db) {}
  ~PgTransaction() override {
    if (open_) (void)db_.script("ROLLBACK");
  }

  Result<Holder> holderOf(std::string_view type, std::string_view system, std::string_view value,
                          std::string_view proposed_id) override {
    // Waits for a concurrent holder to commit or roll back; then either we hold it or we see it.
    auto claimed = db_.execPrepared(
        "INSERT INTO identifier_holder (type, system, value, resource_id) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (ess, type, system, value) DO NOTHING RETURNING resource_id",
        {Param{type}, Param{system}, Param{value}, Param{proposed_id}});
    if (!claimed) return claimed.error();
    if (claimed->rows() == 1) return Holder{std::string(claimed->text(0, 0)), true};
    auto holder = db_.execPrepared(
        "SELECT resource_id FROM identifier_holder WHERE type = $1 AND system = $2 AND value = $3",
        {Param{type}, Param{system}, Param{value}});
    if (!holder) return holder.error();
    if (holder->rows() != 1)
      return makeError(Errc::DbSerialization, "identifiant réservé puis disparu");
    return Holder{std::string(holder->text(0, 0)), false};
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
      w.Key("index");
      writeIndex(w, r.index);
      w.EndObject();
    }
    w.EndArray();
    // The resources first: their keys (pk) are what the search-index rows point at.
    auto inserted = db_.execPrepared(
        "WITH input AS ("
        "  SELECT e->>'type' AS type, e->>'id' AS id, (e->>'updated')::timestamptz AS updated,"
        "         e->'content' AS content, e->'index' AS index, n"
        "  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)),"
        " ins AS ("
        "  INSERT INTO resource (type, id, version, last_updated, content)"
        "  SELECT type, id, 1, updated, content FROM input ORDER BY n"
        "  RETURNING pk, type, id, version, last_updated, ess),"
        " idx AS ("
        "  SELECT ins.pk, ins.type, ins.id, ins.last_updated, ins.ess, x->>0 AS param,"
        "         x->>1 AS kind,"
        "         x->>2 AS first, x->>3 AS second"
        "  FROM input JOIN ins ON ins.type = input.type AND ins.id = input.id,"
        "       jsonb_array_elements(input.index) AS x),"
        " t AS (INSERT INTO search_token (res, type, param, system, value, ess)"
        "  SELECT pk, type, param, first, second, ess FROM idx WHERE kind = 't'),"
        " s AS (INSERT INTO search_string (res, type, param, value, last_updated, id, ess)"
        "  SELECT pk, type, param, second, last_updated, id, ess FROM idx WHERE kind = 's'),"
        " d AS (INSERT INTO search_date (res, type, param, low, high, ess)"
        "  SELECT pk, type, param, first::timestamptz, second::timestamptz, ess FROM idx"
        "  WHERE kind = 'd'),"
        " r AS (INSERT INTO search_reference (res, type, param, target, ess)"
        "  SELECT pk, type, param, second, ess FROM idx WHERE kind = 'r')"
        "SELECT ins.type, ins.id, ins.version, " +
            instantOf("ins.last_updated") +
            " FROM ins JOIN input ON ins.type = input.type AND ins.id = input.id ORDER BY input.n",
        {Param{batch}});
    if (!inserted) return inserted.error();
    for (int i = 0; i < inserted->rows(); ++i) {
      out.push_back({std::string(inserted->text(i, 0)), std::string(inserted->text(i, 1)),
                     inserted->integer(i, 2), std::string(inserted->text(i, 3))});
    }
    return out;
  }

  Result<StoredVersion> update(const NewResource& res,
                               std::optional<std::int64_t> if_match) override {
    auto current = db_.execPrepared(
        "SELECT version, deleted FROM resource WHERE type = $1 AND id = $2 FOR UPDATE",
        {Param{res.type}, Param{res.id}});
    if (!current) return current.error();
    std::int64_t version = 1;
    if (current->rows() == 1) version = current->integer(0, 0) + 1;
    if (if_match && (current->rows() == 0 || current->integer(0, 0) != *if_match)) {
      return makeError(
          Errc::RestPreconditionFailed,
          "If-Match: version " + std::to_string(*if_match) + " n'est pas la version courante");
    }
    const std::string v = std::to_string(version);
    const std::string sql = std::string(current->rows() == 1 ? kUpdateResource : kInsertResource);
    auto written =
        db_.execPrepared(sql, {Param{res.type}, Param{res.id}, Param{v}, Param{res.last_updated},
                               Param{res.json}, Param{res.last_updated}});
    if (!written) return written.error();
    if (auto r = replaceIndex(res.type, res.id, res.index); !r) return r.error();
    return StoredVersion{res.type, res.id, version, std::string(written->text(0, 0))};
  }

  Result<std::optional<StoredVersion>> remove(std::string_view type, std::string_view id,
                                              std::optional<std::int64_t> if_match) override {
    auto current = db_.execPrepared(
        "SELECT version, deleted FROM resource WHERE type = $1 AND id = $2 FOR UPDATE",
        {Param{type}, Param{id}});
    if (!current) return current.error();
    if (current->rows() == 0 || current->text(0, 1) == "t") return std::optional<StoredVersion>{};
    if (if_match && current->integer(0, 0) != *if_match)
      return makeError(Errc::RestPreconditionFailed, "If-Match: version périmée");
    const std::string v = std::to_string(current->integer(0, 0) + 1);
    auto done = db_.execPrepared(std::string(kSupersede) +
                                     "UPDATE resource SET version = $3::integer, "
                                     "last_updated = now(), deleted = true "
                                     "WHERE type = $1 AND id = $2 RETURNING " +
                                     kInstant,
                                 {Param{type}, Param{id}, Param{v}});
    if (!done) return done.error();
    if (auto r = replaceIndex(type, id, {}); !r) return r.error();
    return std::optional<StoredVersion>{StoredVersion{
        std::string(type), std::string(id), std::stoll(v), std::string(done->text(0, 0))}};
  }

  Result<Unit> recordOutcome(std::int64_t journal_id, const StoredOutcome& outcome,
                             std::string_view quarantine_code) override {
    const std::string id = std::to_string(journal_id);
    auto r = db_.execPrepared(
        "INSERT INTO ingest_outcome (journal_id, status, quarantine_code, outcome, response) "
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)",
        {Param{id}, Param{outcome.status}, Param{quarantine_code, false, quarantine_code.empty()},
         Param{outcome.outcome_json},
         Param{outcome.response_json, false, outcome.response_json.empty()}});
    if (!r) return r.error();
    return Unit{};
  }

  Result<Unit> replaceIndex(std::string_view type, std::string_view id,
                            const std::vector<IndexEntry>& index) {
    std::string rows;
    json::JsonOut w(rows);
    writeIndex(w, index);
    auto r = db_.execPrepared(
        "WITH k AS (SELECT pk, last_updated, ess FROM resource WHERE type = $1 AND id = $2),"
        " dt AS (DELETE FROM search_token WHERE res = (SELECT pk FROM k)),"
        " ds AS (DELETE FROM search_string WHERE res = (SELECT pk FROM k)),"
        " dd AS (DELETE FROM search_date WHERE res = (SELECT pk FROM k)),"
        " dr AS (DELETE FROM search_reference WHERE res = (SELECT pk FROM k)),"
        " idx AS (SELECT k.pk, k.last_updated, k.ess, x->>0 AS param, x->>1 AS kind,"
        "  x->>2 AS first, x->>3 AS second FROM k, jsonb_array_elements($3::jsonb) AS x),"
        " t AS (INSERT INTO search_token (res, type, param, system, value, ess)"
        "  SELECT pk, $1, param, first, second, ess FROM idx WHERE kind = 't'),"
        " s AS (INSERT INTO search_string (res, type, param, value, last_updated, id, ess)"
        "  SELECT pk, $1, param, second, last_updated, $2, ess FROM idx WHERE kind = 's'),"
        " d AS (INSERT INTO search_date (res, type, param, low, high, ess)"
        "  SELECT pk, $1, param, first::timestamptz, second::timestamptz, ess FROM idx"
        "  WHERE kind = 'd')"
        " INSERT INTO search_reference (res, type, param, target, ess)"
        "  SELECT pk, $1, param, second, ess FROM idx WHERE kind = 'r'",
        {Param{type}, Param{id}, Param{rows}});
    if (!r) return r.error();
    return Unit{};
  }

  Result<std::optional<StoredResource>> read(std::string_view type, std::string_view id) override {
    auto r = db_.execPrepared("SELECT type, id, version, " + kInstant +
                                  ", deleted, content::text FROM resource "
                                  "WHERE type = $1 AND id = $2 AND NOT deleted",
                              {Param{type}, Param{id}});
    if (!r) return r.error();
    if (r->rows() == 0) return std::optional<StoredResource>{};
    return std::optional<StoredResource>{storedAt(*r, 0)};
  }

  Result<Unit> putBinary(const BinaryContent& b) override {
    // A concurrent put of the same bytes waits for the first to commit, then writes nothing.
    const std::string size = std::to_string(b.bytes.size());
    auto r = db_.execPrepared(
        "INSERT INTO binary_content (id, content_type, size, content) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (ess, id) DO NOTHING",
        {Param{b.id}, Param{b.content_type}, Param{size}, Param{b.bytes, true}});
    if (!r) return r.error();
    return Unit{};
  }

  // Claims are serialized by transaction-level advisory locks on the document's key, its set and
  // every key it replaces: two claims that could touch the same rows share a lock, and each
  // reads what the other committed. The locks are taken in ascending order (no deadlock between
  // claims); the primary key still decides if anything slipped through.
  Result<DocumentClaim> claimDocument(const DocumentIdentity& identity, std::string_view document,
                                      std::span<const std::string> resources) override {
    if (identity.key.empty()) return makeError(Errc::Internal, "document sans clé d'identité");
    std::vector<std::int32_t> locks{lockOf(identity.key)};
    if (!identity.set.empty()) locks.push_back(lockOf(identity.set));
    for (const std::string& k : identity.replaces)
      locks.push_back(lockOf(k));
    std::sort(locks.begin(), locks.end());
    locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
    std::string lock_list = "{";
    for (std::int32_t k : locks)
      lock_list += (lock_list.size() > 1 ? "," : "") + std::to_string(k);
    lock_list += "}";
    // unnest yields the array in order: the locks are taken in that order.
    auto locked = db_.execPrepared("SELECT pg_advisory_xact_lock(" + std::string(kDocumentLocks) +
                                       ", k) FROM unnest($1::integer[]) AS k",
                                   {Param{lock_list}});
    if (!locked) return locked.error();

    // What is stored of this document, of its set, of what it replaces and of what replaces it
    // (this statement's snapshot is taken after the locks: it sees every claim before ours).
    const std::string replaces = jsonArray(identity.replaces);
    auto known = db_.execPrepared(
        "SELECT key, version, document, key = $1, "
        "key = ANY(ARRAY(SELECT jsonb_array_elements_text($3::jsonb))), "
        "replaces @> ARRAY[$1::text], set_key IS NOT DISTINCT FROM NULLIF($2, ''), "
        "superseded_by IS NULL, resources::text "
        "FROM document_version WHERE key = $1 OR set_key = NULLIF($2, '') "
        "OR key = ANY(ARRAY(SELECT jsonb_array_elements_text($3::jsonb))) "
        "OR replaces @> ARRAY[$1::text] ORDER BY version DESC, created_at DESC, key",
        {Param{identity.key}, Param{identity.set}, Param{replaces}});
    if (!known) return known.error();
    DocumentClaim claim;
    struct Related {
      std::string key;
      std::int64_t version;
      std::string document;
      bool replaced;       // this document replaces it
      bool replaces_this;  // it says it replaces this document
      bool same_set;
    };
    std::vector<Related> related;
    for (int i = 0; i < known->rows(); ++i) {
      if (known->text(i, 3) == "t") {
        claim.status = DocumentClaim::Status::Same;
        claim.current = known->text(i, 2);
        claim.resources = fromArray(known->text(i, 8));
        return claim;
      }
      if (known->text(i, 7) != "t") continue;  // retired already
      related.push_back({std::string(known->text(i, 0)), known->integer(i, 1),
                         std::string(known->text(i, 2)), known->text(i, 4) == "t",
                         known->text(i, 5) == "t",
                         !identity.set.empty() && known->text(i, 6) == "t"});
    }
    // A current version is newer than this one when it says it replaces it, or when it is of the
    // same set with a higher version number, both known (0: unknown, and then the later arrival
    // is current) and not replaced by this one explicitly. Rows come newest first.
    const Related* newer = nullptr;
    for (const Related& r : related) {
      if (r.replaces_this ||
          (!r.replaced && r.same_set && identity.version > 0 && r.version > identity.version)) {
        newer = &r;
        break;
      }
    }
    std::vector<std::string> retire;
    for (const Related& r : related) {
      // A late version retires only what it explicitly replaces; a current one, every other
      // current version of its set too.
      if (newer == nullptr ? !r.replaces_this : (r.replaced && !r.replaces_this))
        retire.push_back(r.key);
    }
    const std::string version = std::to_string(identity.version);
    const std::string derived = jsonArray(resources);
    const std::string retired_keys = jsonArray(retire);
    const std::string_view superseded_by = newer != nullptr ? newer->key : std::string_view{};
    auto written = db_.execPrepared(
        "WITH ins AS (INSERT INTO document_version (key, set_key, version, document, resources, "
        " replaces, superseded_by) VALUES ($1, NULLIF($2, ''), $3::bigint, $4, "
        " ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), "
        " ARRAY(SELECT jsonb_array_elements_text($6::jsonb)), NULLIF($7, '')) "
        " ON CONFLICT (ess, key) DO NOTHING RETURNING key),"
        " retired AS (UPDATE document_version d SET superseded_by = ins.key FROM ins"
        " WHERE d.key = ANY(ARRAY(SELECT jsonb_array_elements_text($8::jsonb)))"
        " AND d.superseded_by IS NULL RETURNING d.document, d.resources::text)"
        " SELECT 0, '', '' FROM ins UNION ALL SELECT 1, document, resources FROM retired",
        {Param{identity.key}, Param{identity.set}, Param{version}, Param{document}, Param{derived},
         Param{replaces}, Param{superseded_by}, Param{retired_keys}});
    if (!written) return written.error();
    bool inserted = false;
    for (int i = 0; i < written->rows(); ++i) {
      if (written->integer(i, 0) == 0) {
        inserted = true;
        continue;
      }
      claim.superseded.push_back(
          {std::string(written->text(i, 1)), fromArray(written->text(i, 2))});
    }
    if (!inserted) {  // the key is held by a claim that committed meanwhile: the same document
      auto held =
          db_.execPrepared("SELECT document, resources::text FROM document_version WHERE key = $1",
                           {Param{identity.key}});
      if (!held) return held.error();
      if (held->rows() != 1)
        return makeError(Errc::DbSerialization, "document réservé puis disparu");
      claim.status = DocumentClaim::Status::Same;
      claim.current = held->text(0, 0);
      claim.resources = fromArray(held->text(0, 1));
      return claim;
    }
    if (newer != nullptr) {
      claim.status = DocumentClaim::Status::Superseded;
      claim.current = newer->document;
    } else {
      claim.status =
          claim.superseded.empty() ? DocumentClaim::Status::New : DocumentClaim::Status::Supersedes;
    }
    return claim;
  }

  Result<Unit> addToDocument(std::string_view key,
                             std::span<const std::string> resources) override {
    if (resources.empty()) return Unit{};
    auto added = db_.execPrepared(
        "UPDATE document_version SET resources = resources || "
        "ARRAY(SELECT jsonb_array_elements_text($2::jsonb)) WHERE key = $1",
        {Param{key}, Param{jsonArray(resources)}});
    if (!added) return added.error();
    return Unit{};
  }

  Result<std::optional<std::string>> openRequestOf(std::string_view patient) override {
    // From the search index (the reference and token rows of each ServiceRequest), not from
    // the resources' JSON: the lookup index on the patient, then the request's status rows.
    auto r = db_.execPrepared(
        "SELECT r.id FROM search_reference x JOIN resource r ON r.pk = x.res "
        "WHERE x.type = 'ServiceRequest' AND x.param = 'subject' AND x.target = $1 "
        "AND r.type = 'ServiceRequest' AND NOT r.deleted AND EXISTS (SELECT 1 FROM search_token "
        "t WHERE t.res = r.pk AND t.type = 'ServiceRequest' AND t.param = 'status' "
        "AND t.value IN ('draft', 'active', 'on-hold')) "
        "ORDER BY r.last_updated DESC, r.id DESC LIMIT 1",
        {Param{patient}});
    if (!r) return r.error();
    if (r->rows() == 0) return std::optional<std::string>{};
    return std::optional<std::string>{"ServiceRequest/" + std::string(r->text(0, 0))};
  }

  Result<Unit> enqueue(const OutboundMail& m) override {
    std::string recipients;
    json::JsonOut w(recipients);
    w.StartArray();
    for (const std::string& r : m.recipients)
      w.String(r);
    w.EndArray();
    const std::string journal = std::to_string(m.journal_id);
    auto r = db_.execPrepared(
        "INSERT INTO outbox (kind, message_id, mail_from, recipients, raw, journal_id) "
        "VALUES ($1, $2, $3, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), $5, "
        "NULLIF($6::bigint, 0)) ON CONFLICT (message_id) DO NOTHING",
        {Param{m.kind}, Param{m.message_id}, Param{m.mail_from}, Param{recipients},
         Param{m.bytes, true}, Param{journal}});
    if (!r) return r.error();
    return Unit{};
  }

  Result<Unit> audit(const AuditRecord& record) override { return insertAudit(db_, record); }

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

// "micros~id~version" → its three parts; false when malformed.
bool splitCursor(std::string_view cursor, std::string& micros, std::string& id,
                 std::string& version) {
  const std::size_t a = cursor.find('~');
  const std::size_t b = cursor.rfind('~');
  if (a == std::string_view::npos || a == b) return false;
  micros = cursor.substr(0, a);
  id = cursor.substr(a + 1, b - a - 1);
  version = cursor.substr(b + 1);
  auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789-") == std::string_view::npos;
  };
  return digits(micros) && digits(version) && !id.empty();
}

std::string escapeLike(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// The SQL of one date comparison of [low, high) against the search range [sl, sh). Only the
// bounds used become parameters (PostgreSQL refuses a parameter it cannot type).
template <typename Bind>
std::string dateCondition(std::string_view op, const std::string& low, const std::string& high,
                          const SearchValue& v, Bind&& bind) {
  auto sl = [&] { return bind(v.first) + "::timestamptz"; };
  auto sh = [&] { return bind(v.second) + "::timestamptz"; };
  if (op == "gt") {
    const std::string h = sh();
    return "(" + low + " >= " + h + " OR " + high + " > " + h + ")";
  }
  if (op == "lt") return "(" + low + " < " + sl() + ")";
  if (op == "ge") {
    const std::string l = sl();
    return "(" + low + " >= " + l + " OR " + high + " > " + l + ")";
  }
  if (op == "le") return "(" + low + " < " + sh() + ")";
  const std::string l = sl();
  const std::string h = sh();
  const std::string eq =
      "(" + low + " >= " + l + " AND " + high + " <= " + h + " AND " + low + " < " + h + ")";
  return op == "ne" ? "NOT " + eq : eq;
}

}  // namespace

PgStore::PgStore(std::unique_ptr<PgConnection> db) : db_(std::move(db)) {}
PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::open(const std::string& conninfo) {
  auto db = PgConnection::open(conninfo);
  if (!db) return db.error();
  return std::unique_ptr<PgStore>(new PgStore(std::move(*db)));
}

void PgStore::setEss(std::span<const std::string> ess) {
  // An id outside the ESS ids' alphabet (a comma would make it two) is left out: never more.
  auto valid = [](std::string_view id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
  };
  ess_.clear();
  for (const std::string& e : ess) {
    if (e == "*") {
      ess_ = "*";
      return;
    }
    if (valid(e)) ess_ += (ess_.empty() ? "" : ",") + e;
  }
}

Result<Unit> PgStore::applyEss() {
  if (ess_set_ == ess_) return Unit{};
  ess_set_.reset();  // unknown until it succeeds
  auto r = db_->execPrepared("SELECT set_config('liaison.ess', $1, false)", {Param{ess_}});
  if (!r) return r.error();
  ess_set_ = ess_;
  return Unit{};
}

Result<JournalEntry> PgStore::journal(const InboundMessage& m) {
  const std::string size = std::to_string(m.bytes.size());
  const std::string& key = m.content_key.empty() ? m.sha256 : m.content_key;
  // Exactly once per ESS (V018): the one ESS the intake journals for, "" when it names none.
  const std::string ess = ess_ == "*" || ess_.find(',') != std::string::npos ? "" : ess_;
  // Each statement commits on its own (no transaction): the reuse check below runs after the
  // insert committed, so of two messages that share a Message-ID and arrive together, the one
  // journaled last always sees the other and is flagged.
  auto inserted = db_->execPrepared(
      "INSERT INTO message_journal (message_id, sha256, content_key, source, size, raw, ess) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT ON CONSTRAINT message_journal_once "
      "DO NOTHING RETURNING id",
      {Param{m.message_id}, Param{m.sha256}, Param{key}, Param{m.source}, Param{size},
       Param{m.bytes, true}, Param{ess}});
  if (!inserted) return inserted.error();
  if (inserted->rows() == 1) {
    JournalEntry entry{inserted->integer(0, 0), false, std::nullopt, false};
    if (!m.message_id.empty()) {
      auto reused = db_->execPrepared(
          "SELECT EXISTS (SELECT 1 FROM message_journal WHERE message_id = $1 "
          "AND content_key <> $2 AND ess = $3)",
          {Param{m.message_id}, Param{key}, Param{ess}});
      if (!reused) return reused.error();
      entry.message_id_reused = reused->text(0, 0) == "t";
    }
    return entry;
  }
  // Journaled before: that row, whether others share its Message-ID, and its outcome if any.
  auto first = db_->execPrepared(
      "SELECT j.id, $1 <> '' AND EXISTS (SELECT 1 FROM message_journal o "
      "WHERE o.message_id = $1 AND o.content_key <> $2 AND o.ess = $3), o.journal_id IS NOT NULL, "
      "o.status, o.outcome::text, coalesce(o.response::text, '') "
      "FROM message_journal j LEFT JOIN ingest_outcome o ON o.journal_id = j.id "
      "WHERE j.ess = $3 AND j.message_id = $1 AND j.content_key = $2",
      {Param{m.message_id}, Param{key}, Param{ess}});
  if (!first) return first.error();
  if (first->rows() != 1) return makeError(Errc::DbSerialization, "message journalisé introuvable");
  JournalEntry entry{first->integer(0, 0), true, std::nullopt, first->text(0, 1) == "t"};
  if (first->text(0, 2) == "t") {
    entry.outcome = StoredOutcome{std::string(first->text(0, 3)), std::string(first->text(0, 4)),
                                  std::string(first->text(0, 5))};
  }
  return entry;
}

Result<std::optional<StoredOutcome>> PgStore::outcomeOf(std::int64_t journal_id) {
  const std::string id = std::to_string(journal_id);
  auto r = db_->execPrepared(
      "SELECT status, outcome::text, coalesce(response::text, '') FROM ingest_outcome "
      "WHERE journal_id = $1",
      {Param{id}});
  if (!r) return r.error();
  if (r->rows() == 0) return std::optional<StoredOutcome>{};
  return std::optional<StoredOutcome>{StoredOutcome{
      std::string(r->text(0, 0)), std::string(r->text(0, 1)), std::string(r->text(0, 2))}};
}

Result<std::optional<StoredResource>> PgStore::read(std::string_view type, std::string_view id) {
  if (auto scoped = applyEss(); !scoped) return scoped.error();
  auto r = db_->execPrepared("SELECT type, id, version, " + kInstant +
                                 ", deleted, CASE WHEN deleted THEN '' ELSE content::text END "
                                 "FROM resource WHERE type = $1 AND id = $2",
                             {Param{type}, Param{id}});
  if (!r) return r.error();
  if (r->rows() == 0) return std::optional<StoredResource>{};
  return std::optional<StoredResource>{storedAt(*r, 0)};
}

Result<std::vector<StoredResource>> PgStore::readCurrent(std::span<const std::string> references) {
  std::vector<std::string_view> types, ids;
  for (const std::string& reference : references) {
    const std::string_view ref = reference;
    const std::size_t slash = ref.find('/');
    if (slash == std::string_view::npos) continue;
    types.push_back(ref.substr(0, slash));
    ids.push_back(ref.substr(slash + 1));
  }
  std::vector<StoredResource> out;
  if (types.empty()) return out;
  const std::string type_list = jsonArray(types);
  const std::string id_list = jsonArray(ids);
  // One statement for the whole list: the (type, id) pairs unpacked side by side, each joined on
  // the primary key, in the order asked.
  auto r = db_->execPrepared(
      "SELECT r.type, r.id, r.version, " + kInstant +
          ", r.deleted, r.content::text FROM ROWS FROM (jsonb_array_elements_text($1::jsonb), "
          "jsonb_array_elements_text($2::jsonb)) WITH ORDINALITY AS k(type, id, n) "
          "JOIN resource r ON r.type = k.type AND r.id = k.id WHERE NOT r.deleted ORDER BY k.n",
      {Param{type_list}, Param{id_list}});
  if (!r) return r.error();
  out.reserve(static_cast<std::size_t>(r->rows()));
  for (int i = 0; i < r->rows(); ++i)
    out.push_back(storedAt(*r, i));
  return out;
}

Result<std::optional<StoredResource>> PgStore::vread(std::string_view type, std::string_view id,
                                                     std::int64_t version) {
  if (auto scoped = applyEss(); !scoped) return scoped.error();
  const std::string v = std::to_string(version);
  auto r = db_->execPrepared("SELECT type, id, version, " + kInstant +
                                 ", deleted, CASE WHEN deleted THEN '' ELSE content::text END FROM "
                                 "resource WHERE type = $1 AND id = $2 AND version = $3::integer "
                                 "UNION ALL SELECT type, id, version, " +
                                 kInstant +
                                 ", deleted, CASE WHEN deleted THEN '' ELSE content::text END FROM "
                                 "resource_history WHERE type = $1 AND id = $2 AND version = $3",
                             {Param{type}, Param{id}, Param{v}});
  if (!r) return r.error();
  if (r->rows() == 0) return std::optional<StoredResource>{};
  return std::optional<StoredResource>{storedAt(*r, 0)};
}

Result<SearchPage> PgStore::history(std::string_view type, std::string_view id, int count,
                                    std::string_view after) {
  if (auto scoped = applyEss(); !scoped) return scoped.error();
  std::vector<Param> params{Param{type}};
  // Every version: the current ones in resource, the superseded ones in resource_history.
  std::string sql = "SELECT type, id, version, " + kInstant +
                    ", deleted, CASE WHEN deleted THEN '' ELSE content::text END, " +
                    positionOf("") +
                    " FROM ("
                    "SELECT type, id, version, last_updated, deleted, content FROM resource "
                    "UNION ALL SELECT type, id, version, last_updated, deleted, content "
                    "FROM resource_history) AS versions WHERE type = $1";
  std::string micros;
  std::string cursor_id;
  std::string version;
  if (!id.empty()) {
    params.push_back(Param{id});
    sql += " AND id = $2";
  }
  if (!after.empty()) {
    if (!splitCursor(after, micros, cursor_id, version))
      return makeError(Errc::FhirStructure, "curseur de pagination invalide");
    const std::size_t n = params.size();
    params.push_back(Param{micros});
    params.push_back(Param{cursor_id});
    params.push_back(Param{version});
    sql += " AND (" + microsOf("last_updated") + ", id, version) < ($" + std::to_string(n + 1) +
           "::bigint, $" + std::to_string(n + 2) + ", $" + std::to_string(n + 3) + "::integer)";
  }
  const std::string limit = std::to_string(count + 1);
  sql += " ORDER BY last_updated DESC, id DESC, version DESC LIMIT " + limit;
  auto r = db_->execPrepared(sql, params);
  if (!r) return r.error();
  SearchPage page;
  for (int i = 0; i < r->rows() && i < count; ++i)
    page.resources.push_back(storedAt(*r, i));
  if (r->rows() > count) page.next = std::string(r->text(count - 1, 6));
  return page;
}

Result<SearchPage> PgStore::search(const SearchRequest& q) {
  if (auto scoped = applyEss(); !scoped) return scoped.error();
  std::vector<std::string> values;  // parameters, owned here; $1 is the type
  values.emplace_back(q.type);
  auto param = [&values](std::string v) {
    values.push_back(std::move(v));
    return "$" + std::to_string(values.size());
  };
  bool inlined = false;  // a value written into the SQL: run unprepared
  // One clause as SQL: its alternatives OR-ed, on the index table aliased `x` (or on the
  // resource's last_updated, `updated`, for _lastUpdated). Each call binds its own parameters.
  auto condition = [&](const SearchClause& c, const std::string& x, const std::string& updated) {
    std::vector<std::string> alternatives;
    for (const SearchValue& v : c.any) {
      switch (c.kind) {
        case SearchKind::Token:
          alternatives.push_back(
              "(" + x + ".value = " + param(v.second) +
              (v.op == "system" ? " AND " + x + ".system = " + param(v.first) : "") + ")");
          break;
        case SearchKind::String:
          // Rows under "<param>" hold whole values, under "<param>#w" each later word onward
          // (map/search_parameters.hpp): a prefix matches either, exact and contains the whole.
          if (v.op == "exact") {
            alternatives.push_back("(" + x + ".param = " + param(c.param) + " AND " + x +
                                   ".value = " + param(v.second) + ")");
          } else if (v.op == "contains") {
            alternatives.push_back("(" + x + ".param = " + param(c.param) + " AND " + x +
                                   ".value LIKE " + param("%" + escapeLike(v.second) + "%") + ")");
          } else {
            // The prefix is written as a literal: how many rows it selects decides the plan
            // (a frequent prefix walks the newest resources, a rare one the lookup index), and
            // plans of prepared statements are generic (PgConnection). Not prepared, then.
            // Also as a range (>=, <= the prefix and the last code point): under row-level
            // security only leakproof operators may be index conditions, and LIKE is not.
            alternatives.push_back("(" + x + ".value >= " + db_->literal(v.second) + " AND " + x +
                                   ".value <= " + db_->literal(v.second + "\xF4\x8F\xBF\xBF") +
                                   " AND " + x + ".value LIKE " +
                                   db_->literal(escapeLike(v.second) + "%") + ")");
            inlined = true;
          }
          break;
        case SearchKind::Date:
          alternatives.push_back(c.param == "_lastUpdated"
                                     ? dateCondition(v.op, updated, updated, v, param)
                                     : dateCondition(v.op, x + ".low", x + ".high", v, param));
          break;
        case SearchKind::Reference:
          alternatives.push_back(x + ".target = " + param(v.second));
          break;
      }
    }
    std::string any;
    for (const std::string& a : alternatives)
      any += (any.empty() ? "" : " OR ") + a;
    return any;
  };
  auto tableOf = [](SearchKind kind) {
    return kind == SearchKind::Token    ? "search_token"
           : kind == SearchKind::String ? "search_string"
           : kind == SearchKind::Date   ? "search_date"
                                        : "search_reference";
  };
  auto paramsOf = [&](const SearchClause& c, const std::string& x) {
    return c.kind == SearchKind::String ? x + ".param IN (" + param(c.param) + ", " +
                                              param(c.param + std::string(kWordSuffix)) + ")"
                                        : x + ".param = " + param(c.param);
  };
  // Every clause but _lastUpdated as EXISTS on its index table, correlated to `owner` (the
  // resource's key) and `owner_type`; _lastUpdated on `updated`.
  auto filters = [&](const std::string& owner, const std::string& owner_type,
                     const std::string& updated, const SearchClause* skip) {
    std::string where;
    for (const SearchClause& c : q.all) {
      if (&c == skip || c.any.empty()) continue;
      const std::string any = condition(c, "x", updated);
      if (c.param == "_lastUpdated") {
        where += " AND (" + any + ")";
        continue;
      }
      where += " AND EXISTS (SELECT 1 FROM " + std::string(tableOf(c.kind)) +
               " x WHERE x.res = " + owner + " AND x.type = " + owner_type + " AND " +
               paramsOf(c, "x") + " AND (" + any + "))";
    }
    return where;
  };
  std::vector<Param> params;
  auto bind = [&params, &values] {
    params.clear();
    for (const std::string& v : values)
      params.push_back(Param{v});
  };

  SearchPage page;
  if (q.total || q.count_only) {
    const std::string count_sql =
        "SELECT count(*) FROM resource r WHERE r.type = $1 AND NOT r.deleted" +
        filters("r.pk", "r.type", "r.last_updated", nullptr);
    bind();
    auto total = inlined ? db_->exec(count_sql, params) : db_->execPrepared(count_sql, params);
    if (!total) return total.error();
    page.total = total->integer(0, 0);
    if (q.count_only) return page;
    values.resize(1);  // the page's statement binds its own: none of the count's may stay unused
    inlined = false;
  }
  std::string micros;
  std::string cursor_id;
  std::string version;
  if (!q.after.empty() && !splitCursor(q.after, micros, cursor_id, version))
    return makeError(Errc::FhirStructure, "curseur de pagination invalide");
  const std::string cmp = q.oldest_first ? ">" : "<";
  const std::string dir = q.oldest_first ? " ASC" : " DESC";
  auto after = [&](const std::string& updated, const std::string& id) {
    if (q.after.empty()) return std::string();
    return " AND (" + microsOf(updated) + ", " + id + ") " + cmp + " (" + param(micros) +
           "::bigint, " + param(cursor_id) + ")";
  };
  const std::string limit = " LIMIT " + std::to_string(q.count + 1);

  // A search on one string parameter alone (a name) takes its page from the index rows, which
  // carry the resource's last_updated and id (migration V010): a frequent prefix matches
  // thousands of rows, and fetching each resource only to sort them was the whole cost. Other
  // searches filter the resources with EXISTS on each index table.
  const SearchClause* by_string = nullptr;
  int indexed = 0;
  for (const SearchClause& c : q.all) {
    if (c.any.empty() || c.param == "_lastUpdated") continue;
    ++indexed;
    if (c.kind == SearchKind::String) by_string = &c;
  }
  std::string where = "r.type = $1 AND NOT r.deleted";
  if (indexed == 1 && by_string != nullptr) {
    where += " AND r.pk IN (SELECT s.res FROM search_string s WHERE s.type = $1 AND " +
             paramsOf(*by_string, "s") + " AND (" + condition(*by_string, "s", "") + ")" +
             filters("s.res", "s.type", "s.last_updated", by_string) +
             after("s.last_updated", "s.id") +
             " GROUP BY s.res, s.last_updated, s.id ORDER BY s.last_updated" + dir + ", s.id" +
             dir + limit + ")";
  } else {
    where += filters("r.pk", "r.type", "r.last_updated", nullptr) + after("r.last_updated", "r.id");
  }
  const std::string sql = "SELECT r.type, r.id, r.version, " + instantOf("r.last_updated") +
                          ", r.deleted, r.content::text, " + positionOf("r.") +
                          " FROM resource r WHERE " + where + " ORDER BY r.last_updated" + dir +
                          ", r.id" + dir + limit;
  bind();
  auto r = inlined ? db_->exec(sql, params) : db_->execPrepared(sql, params);
  if (!r) return r.error();
  for (int i = 0; i < r->rows() && i < q.count; ++i)
    page.resources.push_back(storedAt(*r, i));
  if (r->rows() > q.count && q.count > 0) page.next = std::string(r->text(q.count - 1, 6));
  return page;
}

namespace {

const std::string kOutboxColumns =
    "id, kind, message_id, mail_from, recipients::text, status, attempts, " +
    instantOf("next_attempt_at") + ", coalesce(last_error, ''), " + instantOf("created_at") +
    ", coalesce(" + instantOf("sent_at") + ", ''), coalesce(report, ''), coalesce(journal_id, 0)";

OutboxEntry outboxAt(const PgResult& r, int row) {
  OutboxEntry e;
  e.id = r.integer(row, 0);
  e.kind = r.text(row, 1);
  e.message_id = r.text(row, 2);
  e.mail_from = r.text(row, 3);
  e.recipients = fromArray(r.text(row, 4));
  e.status = r.text(row, 5);
  e.attempts = static_cast<int>(r.integer(row, 6));
  e.next_attempt_at = r.text(row, 7);
  e.last_error = r.text(row, 8);
  e.created_at = r.text(row, 9);
  e.sent_at = r.text(row, 10);
  e.report = r.text(row, 11);
  e.journal_id = r.integer(row, 12);
  return e;
}

}  // namespace

Result<std::vector<UnfinishedMessage>> PgStore::unfinished(int limit, int min_age_seconds) {
  const std::string n = std::to_string(limit);
  const std::string age = std::to_string(min_age_seconds);
  auto r = db_->execPrepared(
      "SELECT j.id, j.source, j.raw FROM message_journal j "
      "WHERE NOT EXISTS (SELECT 1 FROM ingest_outcome o WHERE o.journal_id = j.id) "
      "AND j.received_at <= now() - make_interval(secs => $2::integer) "
      "ORDER BY j.received_at, j.id LIMIT $1::integer",
      {Param{n}, Param{age}});
  if (!r) return r.error();
  std::vector<UnfinishedMessage> out;
  out.reserve(static_cast<std::size_t>(r->rows()));
  for (int i = 0; i < r->rows(); ++i)
    out.push_back({r->integer(i, 0), std::string(r->text(i, 1)), fromHex(r->text(i, 2))});
  return out;
}

Result<int> PgStore::recordAttempt(std::int64_t journal_id) {
  const std::string id = std::to_string(journal_id);
  auto r = db_->execPrepared(
      "INSERT INTO ingest_attempt (journal_id) VALUES ($1) ON CONFLICT (journal_id) DO UPDATE "
      "SET attempts = ingest_attempt.attempts + 1, last_at = now() RETURNING attempts",
      {Param{id}});
  if (!r) return r.error();
  return static_cast<int>(r->integer(0, 0));
}

Result<std::vector<OutboxEntry>> PgStore::lease(std::string_view worker, int max,
                                                int lease_seconds) {
  const std::string n = std::to_string(max);
  const std::string secs = std::to_string(lease_seconds);
  auto r = db_->execPrepared(
      "WITH due AS (SELECT id AS due_id FROM outbox WHERE "
      "(status = 'pending' AND next_attempt_at <= now()) OR "
      "(status = 'sending' AND lease_until < now()) "
      "ORDER BY next_attempt_at, id LIMIT $2::integer FOR UPDATE SKIP LOCKED) "
      "UPDATE outbox o SET status = 'sending', leased_by = $1, attempts = o.attempts + 1, "
      "lease_until = now() + make_interval(secs => $3::integer) FROM due WHERE o.id = due.due_id "
      "RETURNING " +
          kOutboxColumns + ", raw",
      {Param{worker}, Param{n}, Param{secs}});
  if (!r) return r.error();
  std::vector<OutboxEntry> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back(outboxAt(*r, i));
    out.back().bytes = fromHex(r->text(i, 13));
  }
  return out;
}

Result<Unit> PgStore::markSent(std::int64_t id) {
  const std::string i = std::to_string(id);
  // A report may have come first (a fast MDN): it is kept.
  auto r = db_->execPrepared(
      "UPDATE outbox SET status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END, "
      "sent_at = now(), leased_by = NULL, lease_until = NULL, last_error = NULL WHERE id = $1",
      {Param{i}});
  if (!r) return r.error();
  return Unit{};
}

Result<Unit> PgStore::retryLater(std::int64_t id, std::int64_t delay_ms, std::string_view error) {
  const std::string i = std::to_string(id);
  const std::string ms = std::to_string(delay_ms);
  auto r = db_->execPrepared(
      "UPDATE outbox SET status = 'pending', leased_by = NULL, lease_until = NULL, "
      "next_attempt_at = now() + make_interval(secs => $2::double precision / 1000), "
      "last_error = $3 WHERE id = $1 AND status = 'sending'",
      {Param{i}, Param{ms}, Param{error}});
  if (!r) return r.error();
  return Unit{};
}

Result<Unit> PgStore::markFailed(std::int64_t id, std::string_view error) {
  const std::string i = std::to_string(id);
  auto r = db_->execPrepared(
      "UPDATE outbox SET status = 'failed', leased_by = NULL, lease_until = NULL, "
      "last_error = $2 WHERE id = $1",
      {Param{i}, Param{error}});
  if (!r) return r.error();
  return Unit{};
}

Result<bool> PgStore::recordReport(std::string_view message_id, std::string_view status,
                                   std::string_view report) {
  auto r = db_->execPrepared(
      "UPDATE outbox SET status = $2, report = $3, leased_by = NULL, lease_until = NULL, "
      "sent_at = coalesce(sent_at, now()) WHERE message_id = $1 RETURNING id",
      {Param{message_id}, Param{status}, Param{report}});
  if (!r) return r.error();
  return r->rows() > 0;
}

Result<PgStore::MailboxHold> PgStore::holdMailbox(std::string_view mailbox, std::string_view holder,
                                                  int seconds, std::string_view gone) {
  const std::string secs = std::to_string(seconds);
  // One statement: insert, or take over an expired lease, or renew our own. Concurrent takers
  // serialise on the row; the WHERE is evaluated on its latest version, so one of them wins.
  auto r = db_->execPrepared(
      "INSERT INTO mailbox_lease AS l (mailbox, holder, lease_until) "
      "VALUES ($1, $2, now() + make_interval(secs => $3::integer)) "
      "ON CONFLICT (mailbox) DO UPDATE SET "
      "acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END, "
      "holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until, renewed_at = now() "
      "WHERE l.holder = EXCLUDED.holder OR l.lease_until < now() OR l.holder = $4 "
      "RETURNING acquired_at = now()",
      {Param{mailbox}, Param{holder}, Param{secs}, Param{gone}});
  if (!r) return r.error();
  MailboxHold hold;
  if (r->rows() == 1) {
    hold.held = true;
    hold.acquired = r->text(0, 0) == "t";
    hold.holder = std::string(holder);
    return hold;
  }
  auto other =
      db_->execPrepared("SELECT holder FROM mailbox_lease WHERE mailbox = $1", {Param{mailbox}});
  if (!other) return other.error();
  if (other->rows() == 1) hold.holder = std::string(other->text(0, 0));
  return hold;
}

Result<Unit> PgStore::releaseMailbox(std::string_view mailbox, std::string_view holder) {
  auto r = db_->execPrepared(
      "UPDATE mailbox_lease SET lease_until = '-infinity' WHERE mailbox = $1 AND holder = $2",
      {Param{mailbox}, Param{holder}});
  if (!r) return r.error();
  return Unit{};
}

Result<std::vector<OutboxEntry>> PgStore::list(std::string_view status, int count) {
  const std::string n = std::to_string(count);
  auto r = db_->execPrepared("SELECT " + kOutboxColumns +
                                 " FROM outbox WHERE ($1 = '' OR status = $1) "
                                 "ORDER BY created_at DESC, id DESC LIMIT $2::integer",
                             {Param{status}, Param{n}});
  if (!r) return r.error();
  std::vector<OutboxEntry> out;
  for (int i = 0; i < r->rows(); ++i)
    out.push_back(outboxAt(*r, i));
  return out;
}

Result<std::optional<BinaryContent>> PgStore::readBinary(std::string_view id) {
  if (auto scoped = applyEss(); !scoped) return scoped.error();
  auto r = db_->execPrepared(
      "SELECT content_type, content FROM binary_content WHERE id = $1 LIMIT 1", {Param{id}});
  if (!r) return r.error();
  if (r->rows() == 0) return std::optional<BinaryContent>{};
  return std::optional<BinaryContent>{
      BinaryContent{std::string(id), std::string(r->text(0, 0)), fromHex(r->text(0, 1))}};
}

Result<Unit> PgStore::audit(const AuditRecord& a) {
  return insertAudit(*db_, a);
}

Result<SearchPage> PgStore::searchAudit(const AuditQuery& q) {
  std::vector<std::string> values;  // parameters, owned here
  auto param = [&values](std::string v) {
    values.push_back(std::move(v));
    return "$" + std::to_string(values.size());
  };
  std::string where = "true";
  // Array columns: `&&` (any of) on the GIN index of patients (V014); text columns: = ANY.
  for (const auto& any : q.patients)
    where += " AND patients && " + param(textArrayLiteral(any)) + "::text[]";
  for (const auto& any : q.principals)
    where += " AND principal = ANY(" + param(textArrayLiteral(any)) + "::text[])";
  for (const auto& any : q.subtypes)
    where += " AND subtype = ANY(" + param(textArrayLiteral(any)) + "::text[])";
  for (const auto& any : q.actions)
    where += " AND action = ANY(" + param(textArrayLiteral(any)) + "::text[])";
  for (const SearchValue& v : q.recorded)
    where += " AND " + dateCondition(v.op, "recorded", "recorded", v, param);
  if (!q.id.empty()) {
    if (q.id.find_first_not_of("0123456789") != std::string::npos || q.id.size() > 18)
      return SearchPage{};
    where += " AND id = " + param(q.id) + "::bigint";
  }
  // Keyset paging on the id, newest first: the cursor is the last id of the previous page.
  if (!q.after.empty()) {
    if (q.after.find_first_not_of("0123456789") != std::string::npos || q.after.size() > 18)
      return makeError(Errc::RestSearchInvalid, "Curseur de page invalide");
    where += " AND id < " + param(q.after) + "::bigint";
  }
  const int count = std::max(q.count, 0);
  // The page's ids from the table and its indexes, then their AuditEvents from the view.
  auto r = db_->execPrepared("SELECT id::text, " + instantOf("recorded") +
                                 ", content::text FROM audit_event_fhir WHERE id IN (SELECT id "
                                 "FROM audit_event WHERE " +
                                 where + " ORDER BY id DESC LIMIT " + std::to_string(count + 1) +
                                 ") ORDER BY audit_event_fhir.id DESC",  // the number, not id::text
                             std::vector<Param>(values.begin(), values.end()));
  if (!r) return r.error();
  SearchPage page;
  for (int i = 0; i < r->rows() && i < count; ++i)
    page.resources.push_back(StoredResource{"AuditEvent", std::string(r->text(i, 0)), 1,
                                            std::string(r->text(i, 1)), false,
                                            std::string(r->text(i, 2))});
  if (r->rows() > count && count > 0) page.next = page.resources.back().id;
  return page;
}

Result<std::vector<std::string>> PgStore::patientsOfBinary(std::string_view id) {
  // The attachment's url as the intake writes it (pipeline/message_intake.cpp): "Binary/<id>";
  // the containment query uses the index of V017.
  std::string probe;
  json::JsonOut w(probe);
  w.StartArray();
  w.StartObject();
  w.Key("attachment");
  w.StartObject();
  w.Key("url");
  w.String("Binary/" + std::string(id));
  w.EndObject();
  w.EndObject();
  w.EndArray();
  auto r = db_->execPrepared(
      "SELECT DISTINCT substr(content -> 'subject' ->> 'reference', 9) FROM resource "
      "WHERE type = 'DocumentReference' AND NOT deleted AND content -> 'content' @> $1::jsonb "
      "AND content -> 'subject' ->> 'reference' LIKE 'Patient/%' ORDER BY 1",
      {Param{probe}});
  if (!r) return r.error();
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i)
    out.emplace_back(r->text(i, 0));
  return out;
}

Result<std::int64_t> PgStore::reindex(const Extractor& extract, int batch) {
  // Every ESS's resources; their index rows take each resource's ESS.
  static const std::string kEvery[] = {"*"};
  setEss(kEvery);
  if (auto scoped = applyEss(); !scoped) return scoped.error();
  std::int64_t done = 0;
  std::string after_type;
  std::string after_id;
  const std::string limit = std::to_string(batch);
  for (;;) {
    auto page = db_->execPrepared(
        "SELECT type, id, content::text FROM resource WHERE NOT deleted AND (type, id) > ($1, $2) "
        "ORDER BY type, id LIMIT $3::integer",
        {Param{after_type}, Param{after_id}, Param{limit}});
    if (!page) return page.error();
    if (page->rows() == 0) return done;
    auto tx = begin();
    if (!tx) return tx.error();
    auto& t = static_cast<PgTransaction&>(**tx);
    for (int i = 0; i < page->rows(); ++i) {
      const std::string_view type = page->text(i, 0);
      const std::string_view id = page->text(i, 1);
      if (auto r = t.replaceIndex(type, id, extract(type, page->text(i, 2))); !r) return r.error();
    }
    if (auto c = (*tx)->commit(); !c) return c.error();
    done += page->rows();
    after_type = std::string(page->text(page->rows() - 1, 0));
    after_id = std::string(page->text(page->rows() - 1, 1));
  }
}

Result<std::unique_ptr<StoreTransaction>> PgStore::begin() {
  if (auto scoped = applyEss(); !scoped) return scoped.error();
  if (auto r = db_->script("BEGIN"); !r) return r.error();
  return std::unique_ptr<StoreTransaction>(new PgTransaction(*db_));
}

}  // namespace liaison::pg
