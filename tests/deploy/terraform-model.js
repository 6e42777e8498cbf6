'use strict';
// Loads terraform/ without a terraform binary: every .tf parsed with @cdktf/hcl2json
// (HashiCorp's HCL parser compiled to WebAssembly), grouped into a model per module
// directory, plus a small evaluator that follows an attribute through variables,
// locals and module arguments down to a literal (defaults of the root variables and
// of module variables), for the requirements table.
const fs = require('fs');
const path = require('path');
let parse;
try {
  ({ parse } = require('@cdktf/hcl2json'));
} catch (e) {
  throw new Error(`@cdktf/hcl2json is not installed: run \`npm ci\` in ${__dirname} (Debian packages nodejs, npm)`);
}

const KINDS = ['variable', 'locals', 'output', 'resource', 'data', 'module', 'provider', 'terraform'];

async function loadModule(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
  const m = { dir, files, variable: {}, locals: {}, output: {}, resource: {}, data: {}, module: {}, raw: {} };
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    const json = await parse(path.join(dir, f), text); // throws on a syntax error
    m.raw[f] = json;
    for (const [kind, body] of Object.entries(json)) {
      if (!KINDS.includes(kind)) throw new Error(`${dir}/${f}: unknown top-level block ${kind}`);
      if (kind === 'locals') {
        for (const block of body) Object.assign(m.locals, block);
      } else if (kind === 'variable' || kind === 'output' || kind === 'module') {
        for (const [name, blocks] of Object.entries(body)) {
          if (m[kind][name]) throw new Error(`${dir}: ${kind} ${name} declared twice`);
          m[kind][name] = blocks[0];
        }
      } else if (kind === 'resource' || kind === 'data') {
        for (const [type, byName] of Object.entries(body)) {
          for (const [name, blocks] of Object.entries(byName)) {
            const key = `${type}.${name}`;
            if (m[kind][key]) throw new Error(`${dir}: ${kind} ${key} declared twice`);
            m[kind][key] = blocks[0];
          }
        }
      }
    }
  }
  return m;
}

// Loads the root and, recursively, every module it calls; returns { root, modules }
// where modules maps a directory to its model and each call records its parent.
async function load(rootDir) {
  const modules = {};
  async function visit(dir) {
    dir = path.resolve(dir);
    if (modules[dir]) return modules[dir];
    const m = await loadModule(dir);
    modules[dir] = m;
    for (const [name, call] of Object.entries(m.module)) {
      const child = await visit(path.join(dir, call.source));
      child.callers = child.callers || [];
      child.callers.push({ parent: m, name, call });
    }
    return m;
  }
  const root = await visit(rootDir);
  // Several roots may be loaded (terraform/ and terraform/state-backend): the
  // evaluator sees all of them.
  Object.assign(loadedModules, modules);
  return { root, modules };
}

// Every string leaf of a parsed block, with its path.
function* strings(node, where = '') {
  if (typeof node === 'string') yield [where, node];
  else if (Array.isArray(node)) for (let i = 0; i < node.length; i++) yield* strings(node[i], `${where}[${i}]`);
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) yield* strings(v, where ? `${where}.${k}` : k);
}

// The expressions inside ${ } of a string (brace-balanced, quotes respected).
function expressions(s) {
  const out = [];
  let i = 0;
  while ((i = s.indexOf('${', i)) >= 0) {
    let depth = 1;
    let j = i + 2;
    let quote = false;
    for (; j < s.length && depth > 0; j++) {
      const c = s[j];
      if (quote) {
        if (c === '\\') j++;
        else if (c === '"') quote = false;
      } else if (c === '"') quote = true;
      else if (c === '{') depth++;
      else if (c === '}') depth--;
    }
    out.push(s.slice(i + 2, j - 1));
    i = j;
  }
  return out;
}

// References in an expression, with string literals blanked out first (so text such as
// "autoscaling:EC2_INSTANCE_LAUNCHING" inside a quoted literal is not a reference);
// template parts inside literals are kept, they are expressions again.
function references(expr) {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, (lit) => ' ' + expressions(lit).join(' ') + ' ');
  const refs = [];
  // module.NAME[INDEX].OUTPUT (a module with count) is a reference to OUTPUT too.
  const re = /(?<![\w.\-])(var|local|module|data)\.([A-Za-z_][\w-]*)(?:\[\d+\])?(?:\.([A-Za-z_][\w-]*))?(?:\.([A-Za-z_][\w-]*))?|(?<![\w.\-])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)/g;
  let m;
  while ((m = re.exec(code))) {
    if (m[5]) refs.push({ kind: 'resource', key: `${m[5]}.${m[6]}`, text: m[0] });
    else if (m[1] === 'data') refs.push({ kind: 'data', key: `${m[2]}.${m[3]}`, text: m[0] });
    else if (m[1] === 'module') refs.push({ kind: 'module', key: m[2], output: m[3], text: m[0] });
    else refs.push({ kind: m[1], key: m[2], text: m[0] });
  }
  return refs;
}

class Unresolved extends Error {}
let loadedModules = {};

// Value of a variable of module m: the caller's argument, else the default; for the
// root, the default, else the example tfvars.
function variableValue(m, name, tfvars) {
  const decl = m.variable[name];
  if (!decl) throw new Unresolved(`var.${name} is not declared in ${m.dir}`);
  if (m.callers && m.callers.length) {
    const { parent, call } = m.callers[0];
    if (name in call) return evaluate(parent, call[name], tfvars);
  } else if (tfvars && name in tfvars && !('default' in decl)) {
    return tfvars[name];
  }
  if ('default' in decl) return decl.default;
  throw new Unresolved(`var.${name} has no value in ${m.dir}`);
}

// Evaluates literals, var.X, local.X, X[N] and templates made of those. Anything else
// (function calls, resource attributes, data sources) is Unresolved.
function evaluate(m, value, tfvars) {
  if (typeof value !== 'string') return value;
  const whole = value.match(/^\$\{([^{}]*)\}$/);
  if (whole) return evalExpr(m, whole[1].trim(), tfvars);
  if (!value.includes('${')) return value;
  return value.replace(/\$\{([^{}]*)\}/g, (_, e) => String(evalExpr(m, e.trim(), tfvars)));
}

function evalExpr(m, e, tfvars) {
  let mm;
  if ((mm = e.match(/^var\.([\w-]+)(?:\[(\d+)\])?$/))) {
    const v = variableValue(m, mm[1], tfvars);
    return mm[2] === undefined ? v : v[Number(mm[2])];
  }
  if ((mm = e.match(/^local\.([\w-]+)$/))) {
    if (!(mm[1] in m.locals)) throw new Unresolved(`local.${mm[1]} not declared`);
    return evaluate(m, m.locals[mm[1]], tfvars);
  }
  // X[count.index]: the list itself, one element per counted instance.
  if ((mm = e.match(/^var\.([\w-]+)\[count\.index\]$/))) return variableValue(m, mm[1], tfvars);
  // module.X.Y: the child's output, evaluated in the child.
  if ((mm = e.match(/^module\.([\w-]+)\.([\w-]+)$/))) {
    const call = m.module[mm[1]];
    if (!call) throw new Unresolved(`module ${mm[1]} not declared`);
    const child = Object.values(loadedModules).find((c) => c.dir === path.resolve(m.dir, call.source));
    if (!child || !child.output[mm[2]]) throw new Unresolved(`module ${mm[1]} has no output ${mm[2]}`);
    return evaluate(child, child.output[mm[2]].value, tfvars);
  }
  // aws_T.N.ARG where ARG is an argument written in the configuration.
  if ((mm = e.match(/^(aws_[a-z0-9_]+\.[\w-]+)\.([\w-]+)$/))) {
    const r = m.resource[mm[1]];
    if (!r || !(mm[2] in r)) throw new Unresolved(`${e} is only known after apply`);
    return evaluate(m, r[mm[2]], tfvars);
  }
  if (/^-?\d+(\.\d+)?$/.test(e)) return Number(e);
  if (e === 'true' || e === 'false') return e === 'true';
  throw new Unresolved(`cannot evaluate \${${e}} in ${m.dir}`);
}

// Attribute at a dotted path of a resource; nested blocks (arrays of one) are entered.
function attr(block, dotted) {
  let node = block;
  for (const part of dotted.split('.')) {
    if (Array.isArray(node)) node = node[0];
    if (node == null || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}

module.exports = { load, strings, expressions, references, evaluate, attr, Unresolved };
