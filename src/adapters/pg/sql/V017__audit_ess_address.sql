-- liaison store, revision 17: the audit trail names the principal's ESS and the client's address
-- (issue 14: "the principal, its role and ESS, the client address"), and the admin's search of
-- the trail (GET /AuditEvent) filters the view on its columns. Columns with a constant default:
-- no rewrite of the table, whatever its size.
ALTER TABLE audit_event ADD COLUMN ess     text[] NOT NULL DEFAULT '{}',
                        ADD COLUMN address text   NOT NULL DEFAULT '';

-- GET /Binary/<id> names the patients of the DocumentReferences whose attachment is that Binary
-- ("Binary/<id>" in content[].attachment.url): a containment query on the content array, kept
-- small by indexing that array only, and of DocumentReferences only.
CREATE INDEX resource_document_attachment ON resource
  USING gin ((content -> 'content') jsonb_path_ops) WHERE type = 'DocumentReference';

-- The FHIR view, with the ESS and the address.
-- Who: the requestor agent carries the client's address as agent.network (type 2, an IP address);
-- each ESS the principal belongs to is an agent of its own, an organization identified by the ESS
-- name, not the requestor: R4's AuditEvent has no field for "on behalf of which organization" in
-- the requestor, and an agent's `who` may be an Organization; an entity would say the ESS was
-- what was accessed, which it was not.
CREATE OR REPLACE VIEW audit_event_fhir AS
SELECT id, recorded, json_strip_nulls(json_build_object(
  'resourceType', 'AuditEvent',
  'id', id::text,
  'type', json_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-event-type',
                            'code', 'rest'),
  'subtype', CASE WHEN subtype <> '' THEN json_build_array(json_build_object(
               'system', 'http://hl7.org/fhir/restful-interaction', 'code', subtype)) END,
  'action', action,
  'recorded', to_char(recorded AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'outcome', outcome,
  'agent', (SELECT json_agg(a ORDER BY n) FROM (
      SELECT 0 AS n, json_build_object(
        'who', json_build_object('display', agent,
                                 'identifier', CASE WHEN principal <> '' THEN json_build_object(
                                   'system', 'urn:liaison:principal', 'value', principal) END),
        'role', CASE WHEN role <> '' THEN json_build_array(json_build_object('text', role)) END,
        'requestor', true,
        'network', CASE WHEN address <> '' THEN json_build_object('address', address,
                                                                    'type', '2') END) AS a
      UNION ALL
      SELECT e.n, json_build_object(
               'type', json_build_object('text', 'ESS'),
               'who', json_build_object('type', 'Organization',
                                        'identifier', json_build_object(
                                          'system', 'urn:liaison:ess', 'value', e.ess),
                                        'display', 'ESS ' || e.ess),
               'requestor', false)
      FROM unnest(ess) WITH ORDINALITY AS e(ess, n)) agents),
  'source', json_build_object('observer', json_build_object('display', 'liaison')),
  'entity', (SELECT json_agg(e ORDER BY n) FROM (
      SELECT 0 AS n, json_build_object('what', json_build_object('display', what)) AS e
      UNION ALL
      SELECT p.n, json_build_object(
               'what', json_build_object('reference', 'Patient/' || p.patient),
               'type', json_build_object('system',
                                         'http://terminology.hl7.org/CodeSystem/audit-entity-type',
                                         'code', '1', 'display', 'Person'),
               'role', json_build_object('system',
                                         'http://terminology.hl7.org/CodeSystem/object-role',
                                         'code', '1', 'display', 'Patient'))
      FROM unnest(patients) WITH ORDINALITY AS p(patient, n)) entities)
)) AS content, patients
FROM audit_event;
