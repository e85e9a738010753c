-- liaison store, revision 6: the audit trail's AuditEvent kept as json, not jsonb. Every read of
-- patient data appends one row, and nothing in the gateway queries inside that document: json
-- only checks the text on the way in, where jsonb builds its binary form (COPY of 200,000
-- AuditEvents of 475 bytes: 74-80k rows/s into jsonb, 92-104k into json;
-- bench/run-store-schema-bench), and json gives the same text back on the way out.
ALTER TABLE audit_event ALTER COLUMN content TYPE json USING content::json;
