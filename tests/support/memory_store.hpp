#pragma once
// A FAKE store port (core/ports/store.hpp) in memory, for the REST fuzzer (fuzz/rest_fuzz.cpp:
// a fuzzer cannot run PostgreSQL, and needs thousands of requests a second) and the REST API
// tests that need no database. It keeps resources with their versions, the journal, binaries
// and identifier holders well enough for FhirApi's handlers to run their whole course (create,
// read, update with If-Match, delete, history, a transaction, a message); search ignores its
// clauses (the SQL is not what is fuzzed) and returns the type's current resources, newest first. A
// transaction works on a copy of the state and swaps it in at commit. Not thread-safe: the fuzzer
// calls one request at a time. Not a model of PgStore's semantics.

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/auth/authenticator.hpp"
#include "core/ports/store.hpp"

namespace liaison::fake {

struct MemoryState {
  // "Type/id" → versions, oldest first (a deleted version has deleted = true and no json).
  std::map<std::string, std::vector<StoredResource>> resources;
  std::map<std::string, std::string> holders;  // "Type|system|value" → id
  std::map<std::string, BinaryContent> binaries;
  std::map<std::string, std::int64_t> journal;  // content key → journal id
  std::map<std::int64_t, StoredOutcome> outcomes;
  std::map<std::string, std::vector<std::string>> documents;  // identity key → "Type/id"
  std::vector<OutboundMail> outbox;
  std::int64_t next_journal_id = 1;
  std::int64_t clock = 0;  // orders versions for history and search
  // When set, every write of a transaction fails with it (as PgStore would with PostgreSQL's
  // message in the detail): for tests of what clients are told.
  std::optional<Error> failing_writes;
  // Calls of Store::read and Store::readCurrent: for tests of how many round trips a request
  // makes.
  int reads = 0;
  int batch_reads = 0;

  static std::string key(std::string_view type, std::string_view id) {
    return std::string(type) + "/" + std::string(id);
  }
  const StoredResource* current(std::string_view type, std::string_view id) const {
    auto it = resources.find(key(type, id));
    if (it == resources.end() || it->second.empty() || it->second.back().deleted) return nullptr;
    return &it->second.back();
  }
  StoredVersion write(StoredResource r) {
    auto& versions = resources[key(r.type, r.id)];
    r.version = versions.empty() ? 1 : versions.back().version + 1;
    versions.push_back(r);
    ++clock;
    return StoredVersion{r.type, r.id, r.version, r.last_updated};
  }
};

class MemoryTransaction final : public StoreTransaction {
 public:
  explicit MemoryTransaction(std::shared_ptr<MemoryState> committed)
      : committed_(std::move(committed)), state_(*committed_) {}

  Result<Holder> holderOf(std::string_view type, std::string_view system, std::string_view value,
                          std::string_view proposed_id) override {
    const std::string k = std::string(type) + "|" + std::string(system) + "|" + std::string(value);
    if (auto it = state_.holders.find(k); it != state_.holders.end())
      return Holder{it->second, false};
    state_.holders.emplace(k, std::string(proposed_id));
    return Holder{std::string(proposed_id), true};
  }

  Result<std::vector<StoredVersion>> create(std::span<const NewResource> resources) override {
    if (state_.failing_writes) return *state_.failing_writes;
    std::vector<StoredVersion> out;
    for (const NewResource& r : resources) {
      if (state_.resources.count(MemoryState::key(r.type, r.id)) != 0)
        return makeError(Errc::DbConflict, "exists");
      out.push_back(state_.write(StoredResource{r.type, r.id, 0, r.last_updated, false, r.json}));
    }
    return out;
  }

  Result<StoredVersion> update(const NewResource& r,
                               std::optional<std::int64_t> if_match) override {
    if (state_.failing_writes) return *state_.failing_writes;
    auto it = state_.resources.find(MemoryState::key(r.type, r.id));
    const std::int64_t now =
        it == state_.resources.end() || it->second.empty() ? 0 : it->second.back().version;
    if (if_match && *if_match != now) return makeError(Errc::RestPreconditionFailed, "version");
    return state_.write(StoredResource{r.type, r.id, 0, r.last_updated, false, r.json});
  }

  Result<std::optional<StoredVersion>> remove(std::string_view type, std::string_view id,
                                              std::optional<std::int64_t> if_match) override {
    const StoredResource* c = state_.current(type, id);
    if (c == nullptr) return std::optional<StoredVersion>();
    if (if_match && *if_match != c->version)
      return makeError(Errc::RestPreconditionFailed, "version");
    return std::optional<StoredVersion>(state_.write(
        StoredResource{std::string(type), std::string(id), 0, c->last_updated, true, ""}));
  }

  Result<Unit> recordOutcome(std::int64_t journal_id, const StoredOutcome& outcome,
                             std::string_view) override {
    if (!state_.outcomes.emplace(journal_id, outcome).second)
      return makeError(Errc::DbConflict, "outcome");
    return Unit{};
  }

  Result<std::optional<StoredResource>> read(std::string_view type, std::string_view id) override {
    const StoredResource* c = state_.current(type, id);
    return c == nullptr ? std::optional<StoredResource>() : std::optional<StoredResource>(*c);
  }

  Result<Unit> putBinary(const BinaryContent& binary) override {
    state_.binaries.emplace(binary.id, binary);
    return Unit{};
  }

  Result<DocumentClaim> claimDocument(const DocumentIdentity& identity, std::string_view document,
                                      std::span<const std::string> resources) override {
    DocumentClaim claim;
    auto [it, fresh] = state_.documents.try_emplace(identity.key);
    if (!fresh) {
      claim.status = DocumentClaim::Status::Same;
      claim.current = it->second.empty() ? std::string(document) : it->second.front();
      claim.resources.assign(it->second.begin() + (it->second.empty() ? 0 : 1), it->second.end());
      return claim;
    }
    it->second.emplace_back(document);
    it->second.insert(it->second.end(), resources.begin(), resources.end());
    return claim;
  }

  Result<Unit> addToDocument(std::string_view key,
                             std::span<const std::string> resources) override {
    auto& list = state_.documents[std::string(key)];
    list.insert(list.end(), resources.begin(), resources.end());
    return Unit{};
  }

  Result<std::optional<std::string>> openRequestOf(std::string_view) override {
    return std::optional<std::string>();
  }

  Result<Unit> enqueue(const OutboundMail& mail) override {
    state_.outbox.push_back(mail);
    return Unit{};
  }

  Result<Unit> audit(const AuditRecord&) override { return Unit{}; }

  Result<Unit> commit() override {
    *committed_ = std::move(state_);
    return Unit{};
  }

 private:
  std::shared_ptr<MemoryState> committed_;
  MemoryState state_;
};

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(std::shared_ptr<MemoryState> state) : state_(std::move(state)) {}

  Result<std::optional<StoredResource>> read(std::string_view type, std::string_view id) override {
    ++state_->reads;
    const StoredResource* c = state_->current(type, id);
    return c == nullptr ? std::optional<StoredResource>() : std::optional<StoredResource>(*c);
  }

  Result<std::vector<StoredResource>> readCurrent(
      std::span<const std::string> references) override {
    ++state_->batch_reads;
    std::vector<StoredResource> out;
    for (const std::string& ref : references) {
      const std::size_t slash = ref.find('/');
      if (slash == std::string::npos) continue;
      if (const StoredResource* c = state_->current(std::string_view(ref).substr(0, slash),
                                                    std::string_view(ref).substr(slash + 1)))
        out.push_back(*c);
    }
    return out;
  }

  Result<std::optional<StoredResource>> vread(std::string_view type, std::string_view id,
                                              std::int64_t version) override {
    auto it = state_->resources.find(MemoryState::key(type, id));
    if (it == state_->resources.end()) return std::optional<StoredResource>();
    for (const StoredResource& r : it->second) {
      if (r.version == version) return std::optional<StoredResource>(r);
    }
    return std::optional<StoredResource>();
  }

  Result<SearchPage> history(std::string_view type, std::string_view id, int count,
                             std::string_view) override {
    SearchPage page;
    for (const auto& [k, versions] : state_->resources) {
      if (!id.empty() ? k != MemoryState::key(type, id)
                      : k.compare(0, type.size() + 1, std::string(type) + "/") != 0)
        continue;
      for (auto v = versions.rbegin(); v != versions.rend(); ++v) {
        if (static_cast<int>(page.resources.size()) >= std::max(count, 0)) return page;
        page.resources.push_back(*v);
      }
    }
    return page;
  }

  Result<SearchPage> search(const SearchRequest& request) override {
    SearchPage page;
    std::int64_t n = 0;
    for (const auto& [k, versions] : state_->resources) {
      if (k.compare(0, request.type.size() + 1, request.type + "/") != 0 || versions.empty() ||
          versions.back().deleted)
        continue;
      ++n;
      if (!request.count_only && static_cast<int>(page.resources.size()) < request.count)
        page.resources.push_back(versions.back());
    }
    if (request.total || request.count_only) page.total = n;
    return page;
  }

  Result<Unit> audit(const AuditRecord&) override { return Unit{}; }
  Result<SearchPage> searchAudit(const AuditQuery&) override { return SearchPage{}; }
  Result<std::vector<std::string>> patientsOfBinary(std::string_view) override {
    return std::vector<std::string>{};
  }

  Result<std::optional<BinaryContent>> readBinary(std::string_view id) override {
    auto it = state_->binaries.find(std::string(id));
    if (it == state_->binaries.end()) return std::optional<BinaryContent>();
    return std::optional<BinaryContent>(it->second);
  }

  Result<JournalEntry> journal(const InboundMessage& message) override {
    const std::string key = message.content_key.empty() ? message.sha256 : message.content_key;
    JournalEntry entry;
    if (auto it = state_->journal.find(message.message_id + "|" + key);
        it != state_->journal.end()) {
      entry.id = it->second;
      entry.duplicate = true;
      if (auto o = state_->outcomes.find(it->second); o != state_->outcomes.end())
        entry.outcome = o->second;
      return entry;
    }
    entry.id = state_->next_journal_id++;
    state_->journal.emplace(message.message_id + "|" + key, entry.id);
    return entry;
  }

  Result<std::optional<StoredOutcome>> outcomeOf(std::int64_t journal_id) override {
    auto it = state_->outcomes.find(journal_id);
    if (it == state_->outcomes.end()) return std::optional<StoredOutcome>();
    return std::optional<StoredOutcome>(it->second);
  }

  Result<std::unique_ptr<StoreTransaction>> begin() override {
    return std::unique_ptr<StoreTransaction>(std::make_unique<MemoryTransaction>(state_));
  }

  Result<std::vector<UnfinishedMessage>> unfinished(int, int) override {
    return std::vector<UnfinishedMessage>();
  }

  Result<int> recordAttempt(std::int64_t) override { return 1; }

 private:
  std::shared_ptr<MemoryState> state_;
};

// A FAKE authenticator: every request is one principal holding every role of the shipped policy
// (profiles/policy.json) in the test profile's ESS (one: a write needs one ESS), so that the
// fuzzer and the tests reach the handlers rather than the 401 that FhirApi answers without one.
// Authorization and per-ESS isolation have tests of their own.
class AllowAll final : public auth::Authenticator {
 public:
  auth::Authentication authenticate(const auth::Credentials&) const override {
    auth::Authentication a;
    a.status = auth::Authentication::Status::Ok;
    a.principal = auth::Principal{
        "fake-everything",
        auth::PrincipalKind::Client,
        {"reader", "intake-client", "secretariat", "ipa", "medecin", "coordinator", "ops", "admin"},
        {"cardio-plus"},
        "fake"};
    return a;
  }
};

}  // namespace liaison::fake
