-- liaison store, revision 13: who, as the authorization step knows it (issue 14). `agent` keeps
-- the whole line ("client:<name> role=<role> (<subject, SAN or token>)"); the principal and the
-- role that allowed the access (or "" when it was refused) get columns of their own, so that
-- "what did this client do" is a plain, indexed query, and the FHIR view gives them as
-- AuditEvent.agent.who.identifier and agent.role. Columns with a constant default: no rewrite of
-- the table (PostgreSQL 11+), whatever its size.
ALTER TABLE audit_event ADD COLUMN principal text NOT NULL DEFAULT '',
                        ADD COLUMN role      text NOT NULL DEFAULT '';
CREATE INDEX audit_event_principal ON audit_event (principal, recorded) WHERE principal <> '';

CREATE OR REPLACE VIEW audit_event_fhir AS
SELECT id, recorded, json_strip_nulls(json_build_object(
  'resourceType', 'AuditEvent',
  'type', json_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-event-type',
                            'code', 'rest'),
  'subtype', CASE WHEN subtype <> '' THEN json_build_array(json_build_object(
               'system', 'http://hl7.org/fhir/restful-interaction', 'code', subtype)) END,
  'action', action,
  'recorded', to_char(recorded AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'outcome', outcome,
  'agent', json_build_array(json_build_object(
    'who', json_build_object('display', agent,
                             'identifier', CASE WHEN principal <> '' THEN json_build_object(
                               'system', 'urn:liaison:principal', 'value', principal) END),
    'role', CASE WHEN role <> '' THEN json_build_array(json_build_object('text', role)) END,
    'requestor', true)),
  'source', json_build_object('observer', json_build_object('display', 'liaison')),
  'entity', json_build_array(json_build_object('what', json_build_object('display', what)))
)) AS content
FROM audit_event;
