-- liaison store, revision 2: search indexes of the current versions.
--
-- One table per kind of search parameter, filled from profiles/fhir/search-parameters.json when a
-- version is written and replaced on update. Why tables rather than expression indexes on the
-- JSONB: a parameter often has several values per resource (identifiers, codings, names), FHIR
-- string search wants accent- and case-folded prefixes, and dates are ranges; each table is then
-- one narrow btree on (type, param, value, …) that EXPLAIN shows as an Index Only Scan feeding a
-- semi-join on the resource's primary key.

CREATE TABLE search_token (
  type   text NOT NULL,
  id     text NOT NULL,
  param  text NOT NULL,
  system text NOT NULL DEFAULT '',
  value  text NOT NULL
);
CREATE INDEX search_token_lookup ON search_token (type, param, value, system, id);
CREATE INDEX search_token_owner ON search_token (type, id);

CREATE TABLE search_string (
  type  text NOT NULL,
  id    text NOT NULL,
  param text NOT NULL,
  value text NOT NULL  -- lower case, accents removed, punctuation as spaces
);
CREATE INDEX search_string_lookup ON search_string (type, param, value text_pattern_ops, id);
CREATE INDEX search_string_owner ON search_string (type, id);

CREATE TABLE search_date (
  type  text        NOT NULL,
  id    text        NOT NULL,
  param text        NOT NULL,
  low   timestamptz NOT NULL,
  high  timestamptz NOT NULL  -- exclusive: a day is [00:00, next day 00:00)
);
CREATE INDEX search_date_lookup ON search_date (type, param, low, high, id);
CREATE INDEX search_date_owner ON search_date (type, id);

CREATE TABLE search_reference (
  type   text NOT NULL,
  id     text NOT NULL,
  param  text NOT NULL,
  target text NOT NULL  -- "Patient/123"
);
CREATE INDEX search_reference_lookup ON search_reference (type, param, target, id);
CREATE INDEX search_reference_owner ON search_reference (type, id);

-- Paging by last update (the default order), newest first, stable with the id as tie-breaker.
CREATE INDEX resource_by_type_updated_id ON resource (type, last_updated DESC, id DESC)
  WHERE NOT deleted;
DROP INDEX resource_by_type_updated;

-- Who read what: one row per read, search or ingest (also kept as FHIR AuditEvent JSON).
CREATE TABLE audit_event (
  id       bigserial   PRIMARY KEY,
  recorded timestamptz NOT NULL DEFAULT now(),
  agent    text        NOT NULL,  -- the client certificate's subject, or the local operator
  action   text        NOT NULL,  -- C R U D E (FHIR AuditEvent.action)
  what     text        NOT NULL,  -- "Patient/123", "Patient?…" (parameter names only), "message 42"
  outcome  text        NOT NULL,  -- 0 success, 4 minor, 8 serious failure (FHIR codes)
  content  jsonb       NOT NULL
);
CREATE INDEX audit_event_recorded ON audit_event (recorded);

GRANT SELECT, INSERT, DELETE ON search_token, search_string, search_date, search_reference
  TO liaison_gateway;
GRANT SELECT, INSERT ON audit_event TO liaison_gateway;
GRANT USAGE ON SEQUENCE audit_event_id_seq TO liaison_gateway;
