-- liaison store, revision 14: "who saw patient X" (issue 14). Each record names the patients
-- whose data the request returned or wrote (a read, each resource of a search page, _include'd
-- ones too, history, vread, writes), as an array column: the records are written by COPY in
-- batches, with no id coming back for rows of a child table, and an array with a constant default
-- is added without rewriting the table, whatever its size. A GIN index answers
-- `patients @> ARRAY[$1]`, newest first through `recorded`.
ALTER TABLE audit_event ADD COLUMN patients text[] NOT NULL DEFAULT '{}';
CREATE INDEX audit_event_patients ON audit_event USING gin (patients);

-- The FHIR view: each patient an entity of type Patient (what: Patient/<id>), after the
-- entity that says what was asked.
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
  'agent', json_build_array(json_build_object(
    'who', json_build_object('display', agent,
                             'identifier', CASE WHEN principal <> '' THEN json_build_object(
                               'system', 'urn:liaison:principal', 'value', principal) END),
    'role', CASE WHEN role <> '' THEN json_build_array(json_build_object('text', role)) END,
    'requestor', true)),
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
