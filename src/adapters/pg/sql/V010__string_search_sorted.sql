-- liaison store, revision 10: the rows of string parameters (names) carry their resource's
-- last_updated and id, the order of search results. A search on a name prefix alone used to
-- fetch every matching resource to sort them and keep the newest page (Patient?name=lau on the
-- 1-million-resource benchmark: 2,119 matches, 20-31 ms, bench/run-api-bench explain.txt); now it
-- sorts the index rows and fetches only the page's resources. The rows are rewritten with their
-- resource on every version, so the copies cannot drift. Copied into the new shape and swapped,
-- as in revision 7.
CREATE TABLE search_string_sorted (
  res          bigint      NOT NULL,
  type         text COLLATE "C" NOT NULL,
  param        text COLLATE "C" NOT NULL,
  value        text COLLATE "C" NOT NULL,  -- lower case, accents removed, punctuation as spaces
  last_updated timestamptz NOT NULL,       -- the resource's, to sort by without reading it
  id           text COLLATE "C" NOT NULL   -- the resource's, the order's tie-breaker
);
INSERT INTO search_string_sorted (res, type, param, value, last_updated, id)
  SELECT x.res, x.type, x.param, x.value, r.last_updated, r.id
  FROM search_string x JOIN resource r ON r.pk = x.res;
DROP TABLE search_string;
ALTER TABLE search_string_sorted RENAME TO search_string;
CREATE INDEX search_string_lookup ON search_string (type, param, value text_pattern_ops)
  INCLUDE (res, last_updated, id);
CREATE INDEX search_string_owner ON search_string (res);
GRANT SELECT, INSERT, DELETE ON search_string TO liaison_gateway;
-- Statistics now, not at autovacuum's next pass: the planner sizes a prefix's matches by them.
ANALYZE search_string;
