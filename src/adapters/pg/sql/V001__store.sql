-- liaison store, revision 1: the raw message journal, ingest outcomes, versioned FHIR resources,
-- the INS → Patient index, and the least-privilege role of the gateway.

-- Every inbound message's exact bytes, before anything else is done with it. Never updated in
-- place (the gateway's role may only INSERT and SELECT here). The same Message-ID and content
-- are one message: the unique constraint is what makes ingest exactly-once.
CREATE TABLE message_journal (
  id          bigserial PRIMARY KEY,
  message_id  text        NOT NULL DEFAULT '',
  sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  source      text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  size        integer     NOT NULL,
  raw         bytea       NOT NULL,
  CONSTRAINT message_journal_once UNIQUE (message_id, sha256)
);

-- What became of a journaled message, written in the same transaction as its resources. A
-- journaled message without a row here was interrupted and is processed again.
CREATE TABLE ingest_outcome (
  journal_id      bigint      PRIMARY KEY REFERENCES message_journal (id),
  status          text        NOT NULL CHECK (status IN ('accepted', 'incomplete', 'quarantined')),
  quarantine_code text,
  outcome         jsonb       NOT NULL,
  response        jsonb,
  finished_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'quarantined') = (quarantine_code IS NOT NULL))
);
CREATE INDEX ingest_outcome_quarantined ON ingest_outcome (finished_at) WHERE status = 'quarantined';

-- The current version of each resource, and every version in the history.
CREATE TABLE resource (
  type         text        NOT NULL,
  id           text        NOT NULL CHECK (id ~ '^[A-Za-z0-9.-]{1,64}$'),
  version      integer     NOT NULL CHECK (version > 0),
  last_updated timestamptz NOT NULL,
  deleted      boolean     NOT NULL DEFAULT false,
  content      jsonb       NOT NULL,
  PRIMARY KEY (type, id)
);
CREATE INDEX resource_by_type_updated ON resource (type, last_updated);

CREATE TABLE resource_history (
  type         text        NOT NULL,
  id           text        NOT NULL,
  version      integer     NOT NULL,
  last_updated timestamptz NOT NULL,
  deleted      boolean     NOT NULL DEFAULT false,
  content      jsonb       NOT NULL,
  PRIMARY KEY (type, id, version)
);

-- One Patient per INS, one Practitioner per RPPS, one Organization per FINESS, whatever the
-- concurrency: the primary key decides, not a prior read.
CREATE TABLE identifier_holder (
  type        text NOT NULL,
  system      text NOT NULL,
  value       text NOT NULL,
  resource_id text NOT NULL,
  PRIMARY KEY (type, system, value)
);

-- The gateway's privileges, granted to a role the operator gives to the server's login role
-- (GRANT liaison_gateway TO <login>). No DDL, no UPDATE or DELETE of the journal.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'liaison_gateway') THEN
    CREATE ROLE liaison_gateway NOLOGIN;
  END IF;
END
$$;
GRANT SELECT, INSERT ON message_journal, ingest_outcome, resource_history, identifier_holder
  TO liaison_gateway;
GRANT SELECT, INSERT, UPDATE ON resource TO liaison_gateway;
GRANT USAGE ON SEQUENCE message_journal_id_seq TO liaison_gateway;
GRANT SELECT ON schema_migrations TO liaison_gateway;
