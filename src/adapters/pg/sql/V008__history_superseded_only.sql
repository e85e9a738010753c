-- liaison store, revision 8: resource_history keeps the superseded versions only; the current
-- version of every resource is read from resource. Each resource's content was written twice
-- on every create and update (resource and resource_history): in COPY of the same 100,000
-- resources into the schema with and without the history copy, 9,098 and 10,224 resources/s
-- (bench/run-store-schema-bench).
-- History, vread and the instance and type histories read both tables.
DELETE FROM resource_history h USING resource r
 WHERE h.type = r.type AND h.id = r.id AND h.version = r.version;
