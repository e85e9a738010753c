-- liaison store, revision 5: attempts at processing interrupted messages. A message whose
-- processing stops the gateway (a crash) would otherwise be processed again at every start, and
-- stop it every time: after a few attempts it is quarantined (ingest-aborted) for review, its
-- bytes kept in the journal.
CREATE TABLE ingest_attempt (
  journal_id bigint      PRIMARY KEY REFERENCES message_journal (id),
  attempts   integer     NOT NULL DEFAULT 1,
  last_at    timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON ingest_attempt TO liaison_gateway;
