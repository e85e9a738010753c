#include "adapters/pg/pg_audit_log.hpp"

#include <chrono>

#include "adapters/pg/pg_connection.hpp"

namespace liaison::pg {

namespace {
// At most this many records per COPY. There is no wait for more: every caller waits for its own
// record, so a batch is what arrived while the previous COPY ran (group commit), one COPY per
// request when idle, a few hundred rows per COPY under load.
constexpr std::size_t kBatch = 500;
}  // namespace

Result<std::unique_ptr<PgAuditLog>> PgAuditLog::open(const std::string& conninfo,
                                                     std::size_t capacity) {
  auto db = PgConnection::open(conninfo);
  if (!db) return db.error();
  return std::unique_ptr<PgAuditLog>(new PgAuditLog(conninfo, std::move(*db), capacity));
}

PgAuditLog::PgAuditLog(std::string conninfo, std::unique_ptr<PgConnection> db, std::size_t capacity)
    : conninfo_(std::move(conninfo)), db_(std::move(db)), capacity_(capacity) {
  writer_ = std::thread([this] { run(); });
}

PgAuditLog::~PgAuditLog() {
  stop();
}

void PgAuditLog::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  progress_.notify_all();
  if (writer_.joinable()) writer_.join();  // the writer returns once the queue is empty
}

bool PgAuditLog::record(AuditRecord record) {
  Ticket ticket;
  std::unique_lock lock(mutex_);
  progress_.wait(lock, [this] { return queue_.size() < capacity_ || stopping_; });
  // Stopping: no writer may be left to take it; what is unrecorded is not served.
  if (stopping_) return false;
  queue_.push_back(std::move(record));
  tickets_.push_back(&ticket);
  if (queue_.size() == 1) wake_.notify_one();
  progress_.wait(lock, [&ticket] { return ticket.done; });
  return ticket.written;
}

void PgAuditLog::flush() {
  std::unique_lock lock(mutex_);
  progress_.wait(lock, [this] { return queue_.empty() && in_flight_ == 0; });
}

std::string textArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const std::string& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

namespace {

void appendRow(std::string& rows, const AuditRecord& a) {
  for (const std::string* field :
       {&a.recorded, &a.agent, &a.action, &a.subtype, &a.what, &a.outcome, &a.principal, &a.role}) {
    appendCopyField(rows, *field);
    rows += '\t';
  }
  appendCopyField(rows, textArrayLiteral(a.patients));
  rows += '\t';
  appendCopyField(rows, textArrayLiteral(a.ess));
  rows += '\t';
  appendCopyField(rows, a.address);
  rows += '\n';
}

constexpr std::string_view kCopy =
    "COPY audit_event (recorded, agent, action, subtype, what, outcome, principal, role, "
    "patients, ess, address) FROM STDIN";

// What stands in for a record PostgreSQL refused (bytes that are not UTF-8, a NUL, a constraint
// added by the operator…): when, how and the outcome stay; who in printable ASCII; what is
// replaced by a marker an auditor can search for.
constexpr std::string_view kRefusedWhat = "urn:liaison:audit-record-refused";

AuditRecord refusedStandIn(const AuditRecord& a) {
  AuditRecord out = a;
  for (std::string* who : {&out.agent, &out.principal, &out.role})
    for (char& c : *who)
      if (c < 0x20 || c > 0x7E) c = '?';
  out.what = kRefusedWhat;
  for (std::vector<std::string>* list : {&out.patients, &out.ess})
    for (std::string& p : *list)  // who was seen, and where from, stay in printable ASCII
      for (char& c : p)
        if (c < 0x20 || c > 0x7E) c = '?';
  for (char& c : out.address)
    if (c < 0x20 || c > 0x7E) c = '?';
  return out;
}

}  // namespace

bool PgAuditLog::write(std::deque<AuditRecord>& batch) {
  // COPY rather than INSERT … SELECT from a JSON array: no statement to plan and no array to
  // parse as jsonb before the rows are built. The batch is one COPY: all of it or none of it.
  std::string rows;
  for (const AuditRecord& a : batch)
    appendRow(rows, a);
  if (!db_ || !db_->ok()) {
    auto db = PgConnection::open(conninfo_);
    if (!db) return false;
    db_ = std::move(*db);
  }
  auto r = db_->copyIn(kCopy, rows);
  if (r) {
    batch.clear();
    return true;
  }
  if (!db_->ok() || r.error().code == Errc::DbUnavailable) {
    db_.reset();
    return false;  // the database is away: the whole batch is retried
  }
  // PostgreSQL refused the data itself: one record, retried, would block the trail (and, once
  // the queue is full, every read). Each record alone, then; one refused again is kept with a
  // stand-in (refusedStandIn).
  // Written records leave the batch, so that a failure midway retries only the rest.
  while (!batch.empty()) {
    const AuditRecord& a = batch.front();
    rows.clear();
    appendRow(rows, a);
    if (!db_->copyIn(kCopy, rows)) {
      if (!db_->ok()) {
        db_.reset();
        return false;
      }
      rows.clear();
      appendRow(rows, refusedStandIn(a));
      if (!db_->copyIn(kCopy, rows)) return false;
    }
    batch.pop_front();
  }
  return true;
}

void PgAuditLog::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty() && stopping_) return;
    std::deque<AuditRecord> batch;
    std::vector<Ticket*> tickets;
    while (!queue_.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      tickets.push_back(tickets_.front());
      tickets_.pop_front();
    }
    in_flight_ = batch.size();
    lock.unlock();
    write(batch);  // what it wrote left `batch`, from the front
    lock.lock();
    // Not retried: the requests of what is left answer 503, their data unsent.
    const std::size_t written = tickets.size() - batch.size();
    for (std::size_t k = 0; k < tickets.size(); ++k) {
      tickets[k]->done = true;
      tickets[k]->written = k < written;
    }
    in_flight_ = 0;
    progress_.notify_all();
  }
}

}  // namespace liaison::pg
