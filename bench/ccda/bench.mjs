// Times @medplum/ccda's CDA → FHIR conversion on the CDA document of liaison's message benchmark
// (bench/message_bench.cpp), for issue 3's comparison. Run by bench/run-message-bench.
//
//   node bench.mjs [--iterations N] [--rounds R] [--warmup W] [FILE]
//
// FILE defaults to ldl_ses_ccda.xml, the nearest C-CDA equivalent of tests/data/cda/ldl_ses.xml
// (see the comment at its top): the converter is first tried on the CI-SIS original, and says
// whether it accepts it. Three figures, each the median of R rounds of N documents after W
// warm-up documents, in documents per second of process CPU time (user + system, GC threads
// included), as Google Benchmark's items_per_second counts CPU time; wall clock is shown too:
//   parse     convertXmlToCcda (fast-xml-parser → C-CDA object)
//   convert   convertCcdaToFhir on an already parsed document
//   full      parse + convert + JSON.stringify of the FHIR Bundle (XML text → FHIR JSON text), the
//             figure compared with liaison
// The last line is machine-readable: "medplum full_docs_per_s=… parse_docs_per_s=… …".

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertCcdaToFhir, convertXmlToCcda } from '@medplum/ccda';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`bench.mjs: ${name} takes a positive integer`);
    process.exit(2);
  }
  args.splice(i, 2);
  return value;
};
const iterations = option('--iterations', 2000);
const rounds = option('--rounds', 5);
const warmup = option('--warmup', 2000);
const file = args[0] ?? join(here, 'ldl_ses_ccda.xml');

// Does the converter read the CI-SIS original at all?
const original = join(root, 'tests', 'data', 'cda', 'ldl_ses.xml');
try {
  const bundle = convertCcdaToFhir(convertXmlToCcda(readFileSync(original, 'utf8')));
  console.log(`tests/data/cda/ldl_ses.xml (CI-SIS LDL-SES): accepted, ${bundle.entry.length} entries`);
} catch (e) {
  console.log(`tests/data/cda/ldl_ses.xml (CI-SIS LDL-SES): refused (${e.constructor.name}: ${e.message})`);
}

const xml = readFileSync(file, 'utf8');
const parsed = convertXmlToCcda(xml);
const sample = convertCcdaToFhir(parsed);
const types = {};
for (const e of sample.entry) types[e.resource.resourceType] = (types[e.resource.resourceType] ?? 0) + 1;
console.log(
  `${file.startsWith(root) ? file.slice(root.length + 1) : file}: ${Buffer.byteLength(xml)} bytes → ` +
    `Bundle of ${sample.entry.length} entries (${Object.entries(types).map(([t, n]) => `${t} ${n}`).join(', ')}), ` +
    `${JSON.stringify(sample).length} bytes of JSON`,
);

const steps = {
  parse: () => convertXmlToCcda(xml),
  convert: () => convertCcdaToFhir(parsed),
  full: () => JSON.stringify(convertCcdaToFhir(convertXmlToCcda(xml))),
};

let sink = 0;
const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const results = {};
for (const [name, step] of Object.entries(steps)) {
  for (let i = 0; i < warmup; ++i) sink ^= step() ? 1 : 0;
  const rates = [];
  const wallRates = [];
  for (let r = 0; r < rounds; ++r) {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; ++i) sink ^= step() ? 1 : 0;
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu);
    rates.push(iterations / ((used.user + used.system) / 1e6));
    wallRates.push(iterations / wall);
  }
  results[name] = median(rates);
  console.log(
    `${name.padEnd(8)} ${results[name].toFixed(0).padStart(8)} docs/s  ` +
      `(${(1e6 / results[name]).toFixed(1)} µs CPU/doc; median of ${rounds} × ${iterations}, ` +
      `min ${Math.min(...rates).toFixed(0)}, max ${Math.max(...rates).toFixed(0)}; ` +
      `wall clock ${median(wallRates).toFixed(0)} docs/s)`,
  );
}
if (sink === 42) console.log('');  // keeps the results observable
console.log(
  `medplum full_docs_per_s=${results.full.toFixed(1)} parse_docs_per_s=${results.parse.toFixed(1)} ` +
    `convert_docs_per_s=${results.convert.toFixed(1)} node=${process.version}`,
);
