-- liaison store, revision 7: search-index rows point at their resource by a bigint key instead of
-- repeating (type, id). The id is a 36-character UUID, and every index row carried it twice (the
-- lookup index and the owner index): writing the index was most of an ingest's cost. COPY of the
-- same 100,000 generated resources' rows (bench/run-store-schema-bench): 9,098 resources/s into
-- revision 6, 12,381 without the history copy and the text owner indexes, 13,039 with the bigint
-- key and its owner index (this revision and the next).
-- Each search table is copied into its new shape and swapped, rather than updated in place: an
-- UPDATE of every row would leave the old rows behind as dead tuples (the table twice its size
-- until a VACUUM FULL). Rows of no resource are not copied: nothing could find them.
ALTER TABLE resource ADD COLUMN pk bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE resource ADD CONSTRAINT resource_pk_unique UNIQUE (pk);

CREATE TABLE search_token_keyed (
  res    bigint NOT NULL,
  type   text COLLATE "C" NOT NULL,
  param  text COLLATE "C" NOT NULL,
  system text COLLATE "C" NOT NULL DEFAULT '',
  value  text COLLATE "C" NOT NULL
);
INSERT INTO search_token_keyed (res, type, param, system, value)
  SELECT r.pk, x.type, x.param, x.system, x.value
  FROM search_token x JOIN resource r ON r.type = x.type AND r.id = x.id;
DROP TABLE search_token;
ALTER TABLE search_token_keyed RENAME TO search_token;
CREATE INDEX search_token_lookup ON search_token (type, param, value, system, res);
CREATE INDEX search_token_owner ON search_token (res);

CREATE TABLE search_string_keyed (
  res   bigint NOT NULL,
  type  text COLLATE "C" NOT NULL,
  param text COLLATE "C" NOT NULL,
  value text COLLATE "C" NOT NULL  -- lower case, accents removed, punctuation as spaces
);
INSERT INTO search_string_keyed (res, type, param, value)
  SELECT r.pk, x.type, x.param, x.value
  FROM search_string x JOIN resource r ON r.type = x.type AND r.id = x.id;
DROP TABLE search_string;
ALTER TABLE search_string_keyed RENAME TO search_string;
CREATE INDEX search_string_lookup ON search_string (type, param, value text_pattern_ops, res);
CREATE INDEX search_string_owner ON search_string (res);

CREATE TABLE search_date_keyed (
  res   bigint      NOT NULL,
  type  text COLLATE "C" NOT NULL,
  param text COLLATE "C" NOT NULL,
  low   timestamptz NOT NULL,
  high  timestamptz NOT NULL  -- exclusive: a day is [00:00, next day 00:00)
);
INSERT INTO search_date_keyed (res, type, param, low, high)
  SELECT r.pk, x.type, x.param, x.low, x.high
  FROM search_date x JOIN resource r ON r.type = x.type AND r.id = x.id;
DROP TABLE search_date;
ALTER TABLE search_date_keyed RENAME TO search_date;
CREATE INDEX search_date_lookup ON search_date (type, param, low, high, res);
CREATE INDEX search_date_owner ON search_date (res);

CREATE TABLE search_reference_keyed (
  res    bigint NOT NULL,
  type   text COLLATE "C" NOT NULL,
  param  text COLLATE "C" NOT NULL,
  target text COLLATE "C" NOT NULL  -- "Patient/123"
);
INSERT INTO search_reference_keyed (res, type, param, target)
  SELECT r.pk, x.type, x.param, x.target
  FROM search_reference x JOIN resource r ON r.type = x.type AND r.id = x.id;
DROP TABLE search_reference;
ALTER TABLE search_reference_keyed RENAME TO search_reference;
CREATE INDEX search_reference_lookup ON search_reference (type, param, target, res);
CREATE INDEX search_reference_owner ON search_reference (res);

GRANT SELECT, INSERT, DELETE ON search_token, search_string, search_date, search_reference
  TO liaison_gateway;
