'use strict';
// The AWS provider's schema, read from the .jsii manifest of @cdktf/provider-aws (pinned
// in package.json to the build for the provider version terraform/versions.tf asks
// for), and a validator of hcl2json bodies against it.
//
// How the manifest says what Terraform's schema says: each resource or data source is a
// class whose docs link to the registry page ("... docs/resources/s3_bucket aws_s3_bucket}");
// its constructor's third parameter is the Config interface. Every property of an
// interface links to "#terraform_name"; `optional` absent means required; a property
// whose type is another interface (or a list of them) is a nested block when its
// docs say "NAME block.", else an attribute of object type (written either way in HCL,
// as aws_security_group's ingress). Everything else is a plain argument.
//
// Parsing the 120 MB manifest takes about a second; the index is built once a run.
const fs = require('fs');
const path = require('path');

const META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection']);
const LINK = /registry\.terraform\.io\/providers\/hashicorp\/aws\/([0-9.]+)\/docs\/(resources|data-sources)\/([a-z0-9_]+)(?:#([a-z0-9_]+))?/;

function manifestPath() {
  return path.join(path.dirname(require.resolve('@cdktf/provider-aws/package.json')), '.jsii');
}

function structOf(type) {
  // {fqn} | {collection:{elementtype}} | {union:{types:[...]}} -> the interface fqn, or null
  if (!type) return null;
  if (type.fqn && !type.fqn.startsWith('cdktf.')) return type.fqn;
  if (type.collection) return structOf(type.collection.elementtype);
  if (type.union) for (const t of type.union.types) { const s = structOf(t); if (s) return s; }
  return null;
}

function load() {
  const jsii = JSON.parse(fs.readFileSync(manifestPath(), 'utf8'));
  const types = jsii.types;
  const cache = new Map();
  let providerVersion = null;
  function block(fqn) {
    if (cache.has(fqn)) return cache.get(fqn);
    const t = types[fqn];
    const b = { fqn, args: {}, blocks: {} };
    cache.set(fqn, b);
    for (const p of (t && t.properties) || []) {
      const docs = `${p.docs.summary || ''} ${p.docs.remarks || ''}`;
      const m = LINK.exec(docs);
      if (!m || !m[4]) continue;
      const name = m[4];
      const required = !p.optional;
      const struct = structOf(p.type);
      if (struct && types[struct] && types[struct].kind === 'interface') {
        const isBlock = new RegExp(`\\b${name} block\\.`).test(docs);
        b.blocks[name] = { required, isBlock, fqn: struct, get schema() { return block(struct); } };
      } else {
        b.args[name] = { required };
      }
    }
    return b;
  }
  const index = { resource: {}, data: {} };
  for (const [fqn, t] of Object.entries(types)) {
    if (t.kind !== 'class' || !t.initializer || !t.docs || !t.docs.summary) continue;
    const m = LINK.exec(t.docs.summary);
    const params = t.initializer.parameters || [];
    if (!m || m[4] || params.length < 3 || !params[2].type.fqn) continue;
    providerVersion = m[1];
    const kind = m[2] === 'resources' ? 'resource' : 'data';
    const cfg = params[2].type.fqn;
    index[kind][`aws_${m[3]}`] = { fqn: cfg, get schema() { return block(cfg); } };
  }
  return { index, providerVersion, count: Object.keys(index.resource).length + Object.keys(index.data).length };
}

const isBlockList = (v) => Array.isArray(v) && v.every((x) => x && typeof x === 'object' && !Array.isArray(x));

// validate(schema, body, where) -> list of problems ("where: what"). body is one hcl2json
// block body (an object). top: meta-arguments are allowed there.
function validate(schema, body, where, top = true) {
  const problems = [];
  const seen = new Set();
  for (const [key, value] of Object.entries(body)) {
    if (key === 'dynamic') {
      for (const [name, dyns] of Object.entries(value)) {
        const b = schema.blocks[name];
        if (!b) { problems.push(`${where}: dynamic "${name}": no such block`); continue; }
        seen.add(name);
        for (const d of dyns) {
          for (const c of d.content || []) problems.push(...validate(b.schema, c, `${where}.dynamic.${name}.content`, false));
        }
      }
      continue;
    }
    if (top && META.has(key)) continue;
    seen.add(key);
    if (schema.args[key]) {
      if (looksLikeBlock(value)) problems.push(`${where}.${key}: "${key}" is an argument, not a block (write ${key} = ...)`);
      continue;
    }
    const b = schema.blocks[key];
    if (!b) { problems.push(`${where}: unknown argument or block "${key}"`); continue; }
    if (isBlockList(value)) {
      for (const [i, v] of value.entries()) problems.push(...validate(b.schema, v, `${where}.${key}[${i}]`, false));
    } else if (b.isBlock) {
      problems.push(`${where}.${key}: "${key}" is a block (write ${key} { ... }), not an argument`);
    }
  }
  for (const [name, a] of Object.entries(schema.args)) if (a.required && !seen.has(name)) problems.push(`${where}: required argument "${name}" missing`);
  for (const [name, b] of Object.entries(schema.blocks)) if (b.required && !seen.has(name)) problems.push(`${where}: required block "${name}" missing`);
  return problems;
}

// hcl2json writes a block as [ {...} ]. A plain argument (string, number, bool, list or
// map of those) never has that shape; object-typed arguments are in `blocks`.
function looksLikeBlock(value) {
  return Array.isArray(value) && value.length > 0 && value.every((v) => v && typeof v === 'object' && !Array.isArray(v));
}

module.exports = { load, validate, manifestPath };
