-- liaison store, revision 16: per-ESS isolation (issue 14). One gateway may serve several ESS:
-- every stored row of patient data belongs to one ESS (`ess`, the ESS profile's id), and
-- PostgreSQL itself shows and lets write only the rows of the ESS named by the session setting
-- liaison.ess (row-level security), so that a query that forgets its WHERE cannot leak.
--
-- liaison.ess holds the ESS of the request (PgStore::setEss): one id, several joined by commas
-- (a principal of several ESS reading), or '*' (every ESS: an administrator's principal, the
-- migrations, `liaison reindex`). Unset or '' shows nothing (fail closed). New rows take their
-- ESS from it (the column default), which only a single id satisfies: a write with '*' or a
-- list fails (the CHECK below), a write into an ESS the setting does not name fails (the
-- policies' WITH CHECK). Rows derived from another row (history, search index) copy its ESS.
-- What this protects from is a query of the gateway that forgets its scope, not a gateway that
-- is taken over: the gateway's role may set liaison.ess to anything (a setting, not a
-- privilege).
--
-- Not isolated (no ESS column or no policy): the message journal, ingest outcomes and attempts,
-- the outbox, the mailbox leases and the audit trail: the gateway's own records and ops data,
-- never served by FHIR reads (the outbox only to `ops`).
--
-- Rows stored before this revision: their ESS is the setting liaison.migration_ess, which the
-- operator gives to the migration (PGOPTIONS='-c liaison.migration_ess=cardio-plus' liaison
-- migrate): before this revision a gateway served one ESS, but which one only the operator
-- knows (the configuration's "ess" profile). A database with data and no such setting is not
-- migrated (an error says so) rather than guessed; an empty one needs none.
DO $$
BEGIN
  IF coalesce(current_setting('liaison.migration_ess', true), '') = '' THEN
    IF EXISTS (SELECT 1 FROM resource) OR EXISTS (SELECT 1 FROM binary_content)
       OR EXISTS (SELECT 1 FROM identifier_holder) OR EXISTS (SELECT 1 FROM document_version) THEN
      RAISE EXCEPTION 'V016: la base contient des données : donner leur ESS par le paramètre '
                      'liaison.migration_ess (PGOPTIONS=''-c liaison.migration_ess=<id de l''ESS>'')';
    END IF;
    PERFORM set_config('liaison.migration_ess', 'none', true);
  END IF;
END
$$;

-- The column, with the existing rows' ESS as a constant (PostgreSQL 11+ adds it without
-- rewriting the table: current_setting is stable, evaluated once), then the default of new rows.
ALTER TABLE resource
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');
ALTER TABLE resource_history
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');
ALTER TABLE identifier_holder
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');
ALTER TABLE binary_content
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');
ALTER TABLE document_version
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');
-- The index rows take their resource's ESS (they are rewritten with it on every version).
ALTER TABLE search_token
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');
ALTER TABLE search_string
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');
ALTER TABLE search_date
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');
ALTER TABLE search_reference
  ADD COLUMN ess text COLLATE "C" NOT NULL DEFAULT current_setting('liaison.migration_ess');

-- New rows: the request's ESS, which must be one id (not '*', not a list; the policies then
-- check that it is the request's).
ALTER TABLE resource          ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT resource_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE resource_history  ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT resource_history_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE identifier_holder ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT identifier_holder_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE binary_content    ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT binary_content_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE document_version  ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT document_version_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE search_token      ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT search_token_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE search_string     ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT search_string_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE search_date       ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT search_date_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE search_reference  ALTER COLUMN ess SET DEFAULT current_setting('liaison.ess'),
  ADD CONSTRAINT search_reference_ess_check CHECK (ess ~ '^[A-Za-z0-9._-]{1,64}$');

-- Unique per ESS: the same INS referred to two ESS is two Patients, one in each (an ESS never
-- learns that another knows the patient); the same document or bytes sent to two ESS are stored
-- in each. Resource ids stay global (FHIR URLs): those derived from a document include its ESS
-- (pipeline/stored_intake.cpp), the others are new per transaction.
ALTER TABLE identifier_holder DROP CONSTRAINT identifier_holder_pkey,
  ADD PRIMARY KEY (ess, type, system, value);
ALTER TABLE binary_content DROP CONSTRAINT binary_content_pkey, ADD PRIMARY KEY (ess, id);
ALTER TABLE document_version DROP CONSTRAINT document_version_superseded_by_fkey,
  DROP CONSTRAINT document_version_pkey, ADD PRIMARY KEY (ess, key),
  ADD CONSTRAINT document_version_superseded_by_fkey FOREIGN KEY (ess, superseded_by)
    REFERENCES document_version (ess, key);

-- The search indexes carry the ESS as their last column, so that the policy's test is answered
-- from the index (Index Only Scan, as before) rather than by reading each row. search_string's
-- lookup also loses text_pattern_ops: under RLS a LIKE (not leakproof) may not be an index
-- condition, and PgStore::search gives a prefix as a range (>= and <=, leakproof) that the
-- default operator class of a COLLATE "C" column serves.
DROP INDEX search_token_lookup;
CREATE INDEX search_token_lookup ON search_token (type, param, value, system, res, ess);
DROP INDEX search_string_lookup;
CREATE INDEX search_string_lookup ON search_string (type, param, value)
  INCLUDE (res, last_updated, id, ess);
DROP INDEX search_date_lookup;
CREATE INDEX search_date_lookup ON search_date (type, param, low, high, res, ess);
DROP INDEX search_reference_lookup;
CREATE INDEX search_reference_lookup ON search_reference (type, param, target, res, ess);

-- The policies: one per table, for every command; USING decides what is seen (and may be
-- updated or deleted), WITH CHECK what may be written. FORCE: the tables' owner is held to them
-- too (superusers and roles with BYPASSRLS never are: the gateway's login role must be neither).
-- The test runs on every row a statement reads: the usual case, one ESS, first (a text
-- comparison, and OR stops at the first true); the list is split only for a scope of several.
DO $$
DECLARE
  t text;
  visible constant text :=
    'ess = current_setting(''liaison.ess'', true)'
    ' OR current_setting(''liaison.ess'', true) = ''*'''
    ' OR ess = ANY (string_to_array(current_setting(''liaison.ess'', true), '',''))';
BEGIN
  FOREACH t IN ARRAY ARRAY['resource', 'resource_history', 'identifier_holder', 'binary_content',
                           'document_version', 'search_token', 'search_string', 'search_date',
                           'search_reference'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY ess_isolation ON %I FOR ALL USING (%s) WITH CHECK (%s)', t,
                   visible, visible);
  END LOOP;
END
$$;
