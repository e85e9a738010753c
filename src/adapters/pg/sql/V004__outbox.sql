-- liaison store, revision 4: the outbox of mails liaison sends (MDNs, notices), and reports
-- (MDN/DSN) as a journaled message's outcome.

-- A mail to send is queued in the same transaction as what caused it (an ingest outcome), so it
-- exists if and only if that committed; workers lease rows (FOR UPDATE SKIP LOCKED) so that
-- several gateways on one database never send a row at the same time, and a lease that expires
-- (the worker died) makes the row due again: at-least-once delivery.
CREATE TABLE outbox (
  id              bigserial   PRIMARY KEY,
  kind            text        NOT NULL COLLATE "C",
  message_id      text        NOT NULL COLLATE "C" UNIQUE,
  mail_from       text        NOT NULL,
  recipients      text[]      NOT NULL CHECK (cardinality(recipients) > 0),
  raw             bytea       NOT NULL,
  journal_id      bigint      REFERENCES message_journal (id),
  status          text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'delivered', 'displayed')),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  leased_by       text,
  lease_until     timestamptz,
  last_error      text,
  report          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz
);
-- What workers look for: due rows, and rows whose lease expired.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE status = 'sending';
CREATE INDEX outbox_by_status ON outbox (status, created_at);

-- A report (an MDN or a DSN about one of our mails) is journaled like every inbound message; its
-- outcome says so.
ALTER TABLE ingest_outcome DROP CONSTRAINT ingest_outcome_status_check;
ALTER TABLE ingest_outcome ADD CONSTRAINT ingest_outcome_status_check
  CHECK (status IN ('accepted', 'incomplete', 'quarantined', 'report'));

-- Interrupted messages (journaled, no outcome) are found without a scan of the whole journal.
CREATE INDEX message_journal_received ON message_journal (received_at);

GRANT SELECT, INSERT, UPDATE ON outbox TO liaison_gateway;
GRANT USAGE ON SEQUENCE outbox_id_seq TO liaison_gateway;
