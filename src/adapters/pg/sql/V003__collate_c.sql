-- liaison store, revision 3: identifiers and index values compare byte-wise (COLLATE "C").
-- They are codes, ids, URLs and folded ASCII-ish text, never sorted for people; the clusters run
-- with a C.UTF-8 or a language locale, where every comparison went through strcoll; byte-wise
-- comparison is cheaper on every index insertion and lookup (bench/run-api-bench measures the
-- bulk ingest) and lets a plain btree serve LIKE 'prefix%'. Every column compared across tables
-- changes together (one collation).
ALTER TABLE resource         ALTER COLUMN type TYPE text COLLATE "C",
                             ALTER COLUMN id   TYPE text COLLATE "C";
ALTER TABLE resource_history ALTER COLUMN type TYPE text COLLATE "C",
                             ALTER COLUMN id   TYPE text COLLATE "C";
ALTER TABLE identifier_holder ALTER COLUMN type        TYPE text COLLATE "C",
                              ALTER COLUMN system      TYPE text COLLATE "C",
                              ALTER COLUMN value       TYPE text COLLATE "C",
                              ALTER COLUMN resource_id TYPE text COLLATE "C";
ALTER TABLE search_token     ALTER COLUMN type   TYPE text COLLATE "C",
                             ALTER COLUMN id     TYPE text COLLATE "C",
                             ALTER COLUMN param  TYPE text COLLATE "C",
                             ALTER COLUMN system TYPE text COLLATE "C",
                             ALTER COLUMN value  TYPE text COLLATE "C";
ALTER TABLE search_string    ALTER COLUMN type  TYPE text COLLATE "C",
                             ALTER COLUMN id    TYPE text COLLATE "C",
                             ALTER COLUMN param TYPE text COLLATE "C",
                             ALTER COLUMN value TYPE text COLLATE "C";
ALTER TABLE search_date      ALTER COLUMN type  TYPE text COLLATE "C",
                             ALTER COLUMN id    TYPE text COLLATE "C",
                             ALTER COLUMN param TYPE text COLLATE "C";
ALTER TABLE search_reference ALTER COLUMN type   TYPE text COLLATE "C",
                             ALTER COLUMN id     TYPE text COLLATE "C",
                             ALTER COLUMN param  TYPE text COLLATE "C",
                             ALTER COLUMN target TYPE text COLLATE "C";
