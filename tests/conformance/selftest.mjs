#!/usr/bin/env node
// Self-test of validate.mjs: known-good and known-bad resources built in memory must be flagged
// exactly as expected (no missing and no extra errors), then the command line is exercised on
// files (.json / .ndjson / directories, exit codes, summary line, cache vs --no-cache output).
// Exit status 0 when everything matches, 1 otherwise.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createChecker } from './validate.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VALIDATE = path.join(HERE, 'validate.mjs');

const PAT = 'urn:uuid:6f1c2a3e-8d4b-4c7a-9e1f-0a2b3c4d5e6f';
const SR = 'urn:uuid:0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f';
const MISSING = 'urn:uuid:deadbeef-0000-4000-8000-000000000000';
const INS = '1.2.250.1.213.1.4.8'; // INS-NIR OID

const validPatient = {
  resourceType: 'Patient',
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Jeanne Dupont</div>' },
  identifier: [{ use: 'official', system: `urn:oid:${INS}`, value: '2800175123456' }],
  name: [{ use: 'official', family: 'Dupont', given: ['Jeanne', 'Marie'] }],
  telecom: [
    { system: 'email', value: 'jeanne.dupont@patient.mssante.fr', use: 'home' },
    { system: 'phone', value: '+33612345678', use: 'mobile' },
  ],
  gender: 'female',
  birthDate: '1950-01-01',
  address: [{ use: 'home', type: 'physical', line: ['1 rue de la Paix'], city: 'Paris', postalCode: '75001', country: 'FR' }],
  photo: [{ contentType: 'image/png', url: 'http://example.org/p.png' }], // mimetypes: skipped value set
};

const condition = (clinicalStatus) => ({
  resourceType: 'Condition',
  clinicalStatus,
  code: { text: 'Hypertension' },
  subject: { reference: 'Patient/1' },
});
const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';

const transaction = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    { fullUrl: PAT, resource: { resourceType: 'Patient', gender: 'male' }, request: { method: 'POST', url: 'Patient' } },
    {
      fullUrl: SR,
      resource: {
        resourceType: 'ServiceRequest',
        status: 'active',
        intent: 'bogus',
        subject: { reference: PAT },
        requester: { reference: MISSING },
      },
      request: { method: 'POST', url: 'ServiceRequest' },
    },
  ],
};

const validTransaction = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    { fullUrl: PAT, resource: { resourceType: 'Patient', gender: 'male' }, request: { method: 'POST', url: 'Patient' } },
    {
      fullUrl: SR,
      resource: { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: PAT } },
      request: { method: 'POST', url: 'ServiceRequest' },
    },
    { request: { method: 'DELETE', url: 'Patient/123' } },
  ],
};

// Each case: expected errors as [location, check] ("binding", "bundle", "medplum:<code>").
// Warnings are listed separately and must match too when `warnings` is given.
const CASES = [
  { name: 'valid Patient', resource: validPatient, errors: [] },
  { name: 'Patient gender "x"', resource: { resourceType: 'Patient', gender: 'x' }, errors: [['Patient.gender', 'binding']] },
  {
    name: 'Observation status "done"',
    resource: { resourceType: 'Observation', status: 'done', code: { text: 'x' }, valueQuantity: { value: 1, comparator: '<' } },
    errors: [['Observation.status', 'binding']],
  },
  {
    name: 'transaction: ServiceRequest intent "bogus" + dangling urn:uuid',
    resource: transaction,
    errors: [
      ['Bundle.entry[1].resource.intent', 'binding'],
      ['Bundle.entry[1].resource.requester.reference', 'bundle'],
    ],
  },
  // warnings: [] also proves medplum's false "Invalid reference: got urn:uuid" warnings are filtered out
  { name: 'valid transaction (POST, POST, DELETE)', resource: validTransaction, errors: [], warnings: [] },
  {
    name: 'urn:uuid reference to an entry of the wrong resource type',
    resource: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: PAT, resource: { resourceType: 'Organization', name: 'CH' } },
        { fullUrl: SR, resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: PAT }, performer: [{ reference: PAT }] } },
      ],
    },
    errors: [['Bundle.entry[1].resource.subject.reference', 'bundle']], // performer may be an Organization
    warnings: [],
  },
  {
    name: 'document Bundle: first entry not a Composition (medplum bdl-11); fullUrl disagrees with id',
    resource: {
      resourceType: 'Bundle',
      type: 'document',
      identifier: { system: 'urn:ietf:rfc:3986', value: SR },
      timestamp: '2024-01-01T00:00:00Z',
      entry: [{ fullUrl: 'http://example.org/fhir/Patient/1', resource: { resourceType: 'Patient', id: '2' } }],
    },
    errors: [
      ['Bundle', 'medplum:invariant'],
      ['Bundle.entry[0].fullUrl', 'bundle'],
    ],
  },
  {
    name: 'two types for one choice element (medplum only warns)',
    resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'a', valueBoolean: true },
    errors: [['Observation', 'structure']],
  },
  {
    name: 'Patient identifier.use "bogus"',
    resource: { resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.3', value: '1' }, { use: 'bogus', value: '2' }] },
    errors: [['Patient.identifier[1].use', 'binding']],
  },
  {
    name: 'nested datatypes: HumanName/ContactPoint/Address/Narrative',
    resource: {
      resourceType: 'Patient',
      text: { status: 'bogus', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' },
      name: [{ use: 'nick', family: 'X' }],
      telecom: [{ system: 'fax2', value: '1', use: 'car' }],
      address: [{ use: 'home', type: 'bogus', city: 'Paris' }],
      contact: [{ gender: 'x', telecom: [{ system: 'phone', value: '1', use: 'work' }] }], // backbone element
    },
    errors: [
      ['Patient.text.status', 'binding'],
      ['Patient.name[0].use', 'binding'],
      ['Patient.telecom[0].system', 'binding'],
      ['Patient.telecom[0].use', 'binding'],
      ['Patient.address[0].type', 'binding'],
      ['Patient.contact[0].gender', 'binding'],
    ],
  },
  {
    name: 'choice type valueQuantity.comparator "="',
    resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1, comparator: '=' } },
    errors: [['Observation.valueQuantity.comparator', 'binding']],
  },
  {
    name: 'Timing.repeat.periodUnit (datatype in backbone) + Dosage',
    resource: {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { text: 'paracetamol' },
      subject: { reference: 'Patient/1' },
      dosageInstruction: [{ timing: { repeat: { frequency: 3, period: 1, periodUnit: 'd' } } }, { timing: { repeat: { frequency: 1, period: 1, periodUnit: 'week' } } }],
    },
    errors: [['MedicationRequest.dosageInstruction[1].timing.repeat.periodUnit', 'binding']],
  },
  {
    name: 'contentReference (Questionnaire.item.item) and primitive extension',
    resource: {
      resourceType: 'Questionnaire',
      status: 'active',
      item: [{ linkId: '1', type: 'group', item: [{ linkId: '1.1', type: 'bogus' }] }],
      _status: { extension: [{ url: 'http://example.org/x', valueIdentifier: { use: 'bogus', value: '1' } }] },
    },
    errors: [
      ['Questionnaire.item[0].item[0].type', 'binding'],
      ['Questionnaire._status.extension[0].valueIdentifier.use', 'binding'],
    ],
  },
  {
    name: 'contained resource',
    resource: { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o', name: 'X', telecom: [{ system: 'pigeon', value: '1' }] }], managingOrganization: { reference: '#o' } },
    errors: [['Patient.contained[0].telecom[0].system', 'binding']],
  },
  {
    name: 'CodeableConcept required binding (Condition.clinicalStatus) valid',
    resource: condition({ coding: [{ system: CLINICAL, code: 'active' }] }),
    errors: [],
  },
  {
    name: 'CodeableConcept: one good coding among several is enough',
    resource: condition({ coding: [{ system: 'http://example.org/local', code: 'A' }, { system: CLINICAL, code: 'resolved' }] }),
    errors: [],
  },
  {
    name: 'CodeableConcept: bad code',
    resource: condition({ coding: [{ system: CLINICAL, code: 'bogus' }] }),
    errors: [['Condition.clinicalStatus', 'binding']],
  },
  {
    name: 'CodeableConcept: right code, wrong system',
    resource: condition({ coding: [{ system: 'http://snomed.info/sct', code: 'active' }] }),
    errors: [['Condition.clinicalStatus', 'binding']],
  },
  {
    name: 'CodeableConcept: coding without system (warning only)',
    resource: condition({ coding: [{ code: 'active' }] }),
    errors: [],
    warnings: [['Condition.clinicalStatus', 'binding']],
  },
  {
    name: 'Bundle: type, request.method bindings; duplicate and malformed fullUrl; missing request',
    resource: {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: PAT, resource: { resourceType: 'Patient' }, request: { method: 'FOO', url: 'Patient' } },
        { fullUrl: PAT, resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Observation' } },
        { fullUrl: 'urn:uuid:ABC', resource: { resourceType: 'Patient' } },
      ],
    },
    errors: [
      ['Bundle.entry[0].request.method', 'binding'],
      ['Bundle.entry[1].fullUrl', 'bundle'], // duplicate
      ['Bundle.entry[1].request.url', 'bundle'], // POST Observation with a Patient
      ['Bundle.entry[2].fullUrl', 'bundle'], // not a lower-case uuid
      ['Bundle.entry[2]', 'bundle'], // no request
      ['Bundle', 'medplum:invariant'], // bdl-3
    ],
  },
  {
    name: 'Bundle.type "bogus"',
    resource: { resourceType: 'Bundle', type: 'bogus' },
    errors: [['Bundle.type', 'binding']],
  },
  {
    name: 'medplum descends into Bundle.entry.resource (structure)',
    resource: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ fullUrl: PAT, resource: { resourceType: 'Patient', birthDate: '01/02/1950', foo: 1 } }],
    },
    errors: [
      ['Bundle.entry[0].resource.birthDate', 'medplum:structure'],
      ['Bundle.entry[0].resource.foo', 'medplum:structure'],
    ],
  },
  {
    name: 'nested Bundle: inner reference resolves in the outer Bundle',
    resource: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: PAT, resource: { resourceType: 'Patient' } },
        {
          fullUrl: SR,
          resource: {
            resourceType: 'Bundle',
            type: 'collection',
            entry: [{ fullUrl: 'urn:uuid:11111111-2222-4333-8444-555555555555', resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: PAT }, focus: [{ reference: MISSING }] } }],
          },
        },
      ],
    },
    errors: [['Bundle.entry[1].resource.entry[0].resource.focus[0].reference', 'bundle']],
  },
  {
    name: 'attachment contentType and Money.currency are not checked (external code systems)',
    resource: {
      resourceType: 'DocumentReference',
      status: 'current',
      content: [{ attachment: { contentType: 'application/x-definitely-not-a-type', data: 'SGVsbG8=' } }],
    },
    errors: [],
  },
];

const key = ([loc, check]) => `${loc} {${check}}`;
let failures = 0;
const fail = (msg) => {
  failures++;
  console.log(`FAIL ${msg}`);
};

const t0 = performance.now();
const checker = createChecker();
const startup = performance.now() - t0;

for (const c of CASES) {
  const { issues } = checker.check(structuredClone(c.resource));
  const got = (sev) => issues.filter((i) => i.severity === sev).map((i) => `${i.location} {${i.check}}`).sort();
  const compare = (sev, expected) => {
    const want = expected.map(key).sort();
    const have = got(sev);
    // multiset difference: the same location/check may legitimately appear twice
    const minus = (a, b) => {
      const rest = [...b];
      return a.filter((x) => {
        const i = rest.indexOf(x);
        if (i < 0) return true;
        rest.splice(i, 1);
        return false;
      });
    };
    const missing = minus(want, have);
    const extra = minus(have, want);
    if (missing.length || extra.length) {
      fail(`${c.name}: ${sev}s differ`);
      for (const m of missing) console.log(`    missing ${m}`);
      for (const x of extra) console.log(`    unexpected ${x}: ${issues.find((i) => `${i.location} {${i.check}}` === x)?.message}`);
      return false;
    }
    return true;
  };
  const ok = compare('error', c.errors) & (c.warnings ? compare('warning', c.warnings) : true);
  if (ok) console.log(`ok   ${c.name}`);
}

// Skipped value sets are counted (mimetypes from the DocumentReference / Patient.photo cases).
if (!checker.stats.skippedValueSets.has('http://hl7.org/fhir/ValueSet/mimetypes|4.0.1')) fail('mimetypes value set not reported as skipped');
else console.log('ok   unexpandable value sets are counted (mimetypes)');

// Value set expansion details.
{
  const defs = checker.definitions;
  const intent = defs.expansion('http://hl7.org/fhir/ValueSet/request-intent|4.0.1');
  // "original-order" is nested under "order" in the request-intent CodeSystem hierarchy.
  if (!intent.hasCode('original-order') || !intent.hasCode('order')) fail('nested CodeSystem concepts not expanded');
  else console.log('ok   nested CodeSystem concepts are expanded');
  const sub = defs.expansion('http://hl7.org/fhir/ValueSet/subscription-status|4.3.0');
  if (!sub.skip) fail('binding to an unavailable value set version should be skipped');
  else console.log('ok   version suffix honoured (subscription-status|4.3.0 skipped)');
}

// --- command line ----------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'liaison-conformance-'));
const run = (...args) => spawnSync(process.execPath, [VALIDATE, ...args], { encoding: 'utf8' });
try {
  fs.mkdirSync(path.join(tmp, 'out', 'nested'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'out', 'good.json'), JSON.stringify(validPatient, null, 2));
  fs.writeFileSync(path.join(tmp, 'out', 'nested', 'txn.json'), JSON.stringify(transaction));
  fs.writeFileSync(path.join(tmp, 'out', 'ignored.txt'), 'not json');
  fs.writeFileSync(
    path.join(tmp, 'out', 'runs.ndjson'),
    [
      JSON.stringify({ case: 'a', bundle: validTransaction }),
      JSON.stringify({ case: 'b', note: 'no bundle here' }),
      '',
      JSON.stringify({ resourceType: 'Patient', gender: 'x' }),
    ].join('\n') + '\n',
  );
  fs.writeFileSync(path.join(tmp, 'good.jsonl'), JSON.stringify({ bundle: validTransaction }) + '\n');

  const expectRun = (label, args, status, patterns) => {
    const r = run(...args);
    let ok = r.status === status;
    if (!ok) fail(`${label}: exit ${r.status}, expected ${status}\n${r.stdout}${r.stderr}`);
    for (const p of patterns) {
      if (!p.test(r.stdout)) {
        ok = false;
        fail(`${label}: output does not match ${p}\n${r.stdout}`);
      }
    }
    if (ok) console.log(`ok   cli: ${label}`);
    return r;
  };

  const dir = path.join(tmp, 'out');
  const cached = expectRun('directory with errors', [dir], 1, [
    new RegExp(`^OK ${path.join(dir, 'good.json')}$`, 'm'),
    new RegExp(`^FAIL ${path.join(dir, 'nested', 'txn.json')}$`, 'm'),
    /^ {2}\[error\] Bundle\.entry\[1\]\.resource\.intent: "bogus" is not in required value set/m,
    /^ {2}\[error\] Bundle\.entry\[1\]\.resource\.requester\.reference: reference "urn:uuid:deadbeef/m,
    /^ {2}\[error\] line 4 Patient\.gender: "x"/m,
    // 1 Patient + (Bundle + 2) + (Bundle + 2 from line 1) + 1 Patient (line 4) = 8 resources, 3 files
    /^checked 8 resources in 3 files: 3 errors$/m,
  ]);
  expectRun('valid files only', [path.join(dir, 'good.json'), path.join(tmp, 'good.jsonl')], 0, [/^checked 4 resources in 2 files: 0 errors$/m]);
  expectRun('no arguments', [], 2, []);
  expectRun('missing path', [path.join(tmp, 'nope.json')], 2, []);
  expectRun('unknown option', ['--bogus', dir], 2, []);
  expectRun('verbose lists skipped value sets', ['-v', path.join(dir, 'good.json')], 0, [/mimetypes\|4\.0\.1 x1/]);
  const uncached = run('--no-cache', dir);
  if (uncached.stdout !== cached.stdout) fail(`--no-cache output differs from cached output\n--- cached\n${cached.stdout}--- no-cache\n${uncached.stdout}`);
  else console.log('ok   cli: --no-cache (full definitions) output identical to cached (stripped) definitions');
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(`${failures ? 'SELFTEST FAILED' : 'selftest passed'}: ${CASES.length} cases, checker startup ${startup.toFixed(0)} ms (${checker.stats.definitions})`);
process.exit(failures ? 1 : 0);
