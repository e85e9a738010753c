#include "adapters/pg/pg_audit_log.hpp"

#include <chrono>

#include "adapters/pg/pg_connection.hpp"
#include "core/json/json_out.hpp"

namespace liaison::pg {

namespace {
constexpr std::size_t kBatch = 500;
}

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
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

void PgAuditLog::record(AuditRecord record) {
  std::unique_lock lock(mutex_);
  progress_.wait(lock, [this] { return queue_.size() < capacity_ || stopping_; });
  queue_.push_back(std::move(record));
  if (queue_.size() == 1) wake_.notify_one();
}

void PgAuditLog::flush() {
  std::unique_lock lock(mutex_);
  wake_.notify_one();
  progress_.wait(lock, [this] { return queue_.empty() && in_flight_ == 0; });
}

bool PgAuditLog::write(const std::deque<AuditRecord>& batch) {
  std::string rows;
  json::JsonOut w(rows);
  w.StartArray();
  for (const AuditRecord& a : batch) {
    w.StartArray();
    w.String(a.agent);
    w.String(a.action);
    w.String(a.what);
    w.String(a.outcome);
    w.RawValue(a.json.data(), a.json.size());
    w.EndArray();
  }
  w.EndArray();
  if (!db_ || !db_->ok()) {
    auto db = PgConnection::open(conninfo_);
    if (!db) return false;
    db_ = std::move(*db);
  }
  auto r = db_->execPrepared(
      "INSERT INTO audit_event (agent, action, what, outcome, content) "
      "SELECT x->>0, x->>1, x->>2, x->>3, x->4 FROM jsonb_array_elements($1::jsonb) AS x",
      {Param{rows}});
  if (!r && !db_->ok()) db_.reset();
  return r.has_value();
}

void PgAuditLog::run() {
  std::unique_lock lock(mutex_);
  auto give_up_at = std::chrono::steady_clock::time_point::max();
  for (;;) {
    wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty() && stopping_) return;
    std::deque<AuditRecord> batch;
    while (!queue_.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    in_flight_ = batch.size();
    lock.unlock();
    const bool written = write(batch);
    lock.lock();
    if (!written) {
      // Keep the batch at the front and retry; while stopping, for 10 s at most.
      for (auto it = batch.rbegin(); it != batch.rend(); ++it)
        queue_.push_front(std::move(*it));
      in_flight_ = 0;
      if (stopping_) {
        if (give_up_at == std::chrono::steady_clock::time_point::max())
          give_up_at = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        if (std::chrono::steady_clock::now() > give_up_at) return;
      }
      progress_.notify_all();
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      lock.lock();
      continue;
    }
    in_flight_ = 0;
    progress_.notify_all();
  }
}

}  // namespace liaison::pg
