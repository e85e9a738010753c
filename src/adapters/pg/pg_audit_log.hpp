#pragma once
// The audit trail written in batches (core/ports/store.hpp AuditLog): one connection and one
// thread of its own, one COPY per batch. record() returns only once its record is committed (or
// failed): the records of the requests that arrive while a COPY runs make the next batch (group
// commit), so that the trail is durable before any data is sent, without a transaction per read.
// On a database error the batch fails (its requests answer 503) and the writer reconnects for
// the next one. Stopping (stop(), or destruction) writes what is queued, waiting as long as the
// database takes, then refuses new records (false: their requests answer 503).

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/ports/store.hpp"

namespace liaison::pg {

class PgConnection;

// A PostgreSQL text[] literal ({"a","b"}) of the record's patients, for COPY and parameters.
std::string textArrayLiteral(const std::vector<std::string>& values);

class PgAuditLog : public AuditLog {
 public:
  static Result<std::unique_ptr<PgAuditLog>> open(const std::string& conninfo,
                                                  std::size_t capacity = 10000);
  ~PgAuditLog() override;  // stop()

  bool record(AuditRecord record) override;
  // Writes every record queued (each caller then returns), then stops the writer; records asked
  // for after that are refused. Returns once the queue is written or its write failed. Callers
  // still inside record() must return before the log is destroyed (the server stops first).
  void stop();
  // Blocks until everything recorded so far is in the database (tests, shutdown).
  void flush();

 private:
  PgAuditLog(std::string conninfo, std::unique_ptr<PgConnection> db, std::size_t capacity);
  void run();
  bool write(std::deque<AuditRecord>& batch);  // removes from `batch` what it wrote

  std::string conninfo_;
  std::unique_ptr<PgConnection> db_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable wake_;      // the writer: records to write, or stop
  std::condition_variable progress_;  // producers and flush(): room in the queue, batch written
  struct Ticket {                     // a caller waiting in record(), on its own stack
    bool done = false;
    bool written = false;
  };
  std::deque<AuditRecord> queue_;
  std::deque<Ticket*> tickets_;  // one per queued record, in the same order
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace liaison::pg
