-- liaison store, revision 11 (issue 12): documents' bytes kept once, out of the resources; each
-- received document's identity, so that the same document is stored once and a new version
-- retires the old one; and the journal's exactly-once key freed from relays' trace headers.

-- The bytes of a document (a PDF, a CDA), stored once under their SHA-256 whoever sends them
-- again: INSERT … ON CONFLICT DO NOTHING. They used to sit base64-encoded in the
-- DocumentReference's JSON, a third larger, and copied again with each version of it.
-- Named binary_content: BINARY is a reserved word in PostgreSQL. The id is checked against the
-- content itself, so that no bytes are ever served under another document's hash.
CREATE TABLE binary_content (
  id           text COLLATE "C" PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
  content_type text        NOT NULL,
  size         integer     NOT NULL,
  content      bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (size = octet_length(content)),
  CHECK (id = encode(sha256(content), 'hex'))
);
-- Content never changes under its hash: no UPDATE, no DELETE.
GRANT SELECT, INSERT ON binary_content TO liaison_gateway;

-- The journal's exactly-once key: (Message-ID, content key), where the content key is the hash
-- of the mail without the header fields that relays add or rewrite (Received, Return-Path…):
-- the same mail delivered twice is one message. Existing rows keep their bytes' hash as key,
-- which is what the key of a message without trace headers is. Written by the migration once
-- (the gateway's role still may not UPDATE the journal); an UPDATE rather than a copy of the
-- table: ingest_outcome, ingest_attempt and outbox reference its ids, and the bytes, stored out
-- of line (TOAST) when large, are not rewritten. The constraint keeps its name, which ingest
-- names (ON CONFLICT ON CONSTRAINT message_journal_once).
ALTER TABLE message_journal ADD COLUMN content_key text COLLATE "C";
UPDATE message_journal SET content_key = sha256;
ALTER TABLE message_journal
  ALTER COLUMN content_key SET NOT NULL,
  ALTER COLUMN message_id TYPE text COLLATE "C",
  ALTER COLUMN sha256 TYPE text COLLATE "C",
  ADD CONSTRAINT message_journal_content_key_check CHECK (content_key ~ '^[0-9a-f]{64}$'),
  DROP CONSTRAINT message_journal_once,
  ADD CONSTRAINT message_journal_once UNIQUE (message_id, content_key);

-- One row per document identity stored: its key (the XDS uniqueId / CDA id, "<system>|<value>",
-- or "sha256|<hex>" for a file without one), the set it is a version of (CDA setId) and its
-- version, the DocumentReference that holds it and what was derived from it ("Type/id"), the
-- keys it says it replaces (CDA relatedDocument RPLC), and the version that retired it (NULL
-- while it is current). The primary key makes a document stored once whatever the concurrency;
-- claims of one set are ordered by advisory locks (PgStore, claimDocument).
CREATE TABLE document_version (
  key           text COLLATE "C" PRIMARY KEY CHECK (key <> ''),
  set_key       text COLLATE "C" CHECK (set_key <> ''),  -- NULL: not part of a set
  version       bigint      NOT NULL DEFAULT 0 CHECK (version >= 0),  -- 0: unknown
  document      text COLLATE "C" NOT NULL CHECK (document ~ '^DocumentReference/[A-Za-z0-9.-]{1,64}$'),
  resources     text[] COLLATE "C" NOT NULL DEFAULT '{}',
  replaces      text[] COLLATE "C" NOT NULL DEFAULT '{}',
  superseded_by text COLLATE "C" REFERENCES document_version (key) CHECK (superseded_by <> key),
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- The versions of a set, and the documents that say they replace a given one (a late older
-- version finds the newer that replaced it, even without version numbers). Every claim looks
-- up the GIN index as often as it inserts into it: without fastupdate, a lookup never has to
-- read a pending list of recent insertions (up to 4 MB until the next vacuum).
CREATE INDEX document_version_set ON document_version (set_key) WHERE set_key IS NOT NULL;
CREATE INDEX document_version_replaces ON document_version USING gin (replaces)
  WITH (fastupdate = off);
-- A version is retired by setting superseded_by; a copy received later may add resources.
GRANT SELECT, INSERT ON document_version TO liaison_gateway;
-- superseded_by when a newer version arrives; resources when a copy received later brings what
-- the first did not (a PDF rendition made again, an entry a newer mapping reads).
GRANT UPDATE (superseded_by, resources) ON document_version TO liaison_gateway;
