'use strict';
// Terraform checks without a terraform binary (none can be installed here):
// parsing, reference resolution, module wiring, the user data template's variables,
// the security groups and the instance policy, and one test per row of the
// requirements table (architecture document figure -> resource attribute).
// Usage: node test-terraform.js SOURCE_ROOT   (node's test runner; exit 1 on failure)
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const tf = require('./terraform-model.js'); // fails clearly when npm ci was not run
const { parse } = require('@cdktf/hcl2json');
const { REQUIREMENTS } = require('./requirements.js');

const SRC = process.argv[2];
if (!SRC) throw new Error('usage: node test-terraform.js SOURCE_ROOT');
const TF = path.join(SRC, 'terraform');
const META = new Set(['source', 'count', 'for_each', 'depends_on', 'providers', 'version']);

// Root modules of their own, applied apart from terraform/main.tf.
const STANDALONE = ['state-backend'];
let model;
let standalone;
const loaded = tf.load(TF).then((x) => (model = x))
  .then(() => Promise.all(STANDALONE.map((d) => tf.load(path.join(TF, d)))))
  .then((xs) => (standalone = Object.fromEntries(STANDALONE.map((d, i) => [d, xs[i]]))));
const byName = (n) => Object.values(model.modules).find((m) => path.basename(m.dir) === n || (n === 'root' && m.dir === path.resolve(TF)));

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.tf') ? [path.join(dir, e.name)] : []);
}

test('every .tf file parses with the HCL parser', async () => {
  const files = walk(TF);
  assert.ok(files.length >= 20, `only ${files.length} .tf files`);
  for (const f of files) await parse(f, fs.readFileSync(f, 'utf8'));
  await assert.rejects(parse('broken.tf', 'resource "a" "b" {\n  c = \n}\n'), 'the parser must reject broken HCL');
});

test('every module directory is used by the root configuration', async () => {
  await loaded;
  const dirs = new Set(walk(TF).map((f) => path.dirname(path.resolve(f))));
  const own = new Set(STANDALONE.map((d) => path.resolve(TF, d)));
  for (const d of dirs) {
    if (own.has(d)) continue;
    assert.ok(model.modules[d], `${d} is not reachable from terraform/main.tf (nor one of the standalone roots ${STANDALONE})`);
  }
  for (const d of own) assert.ok(dirs.has(d), `standalone root ${d} missing`);
  for (const n of ['network', 'alb', 'compute', 'database', 'db-app-user', 'secrets', 'audit', 'monitoring']) assert.ok(byName(n), `module ${n} missing`);
});

const allModules = () => [...Object.values(model.modules), ...Object.values(standalone).flatMap((x) => Object.values(x.modules))];

test('every var., local., module output, data source and resource reference resolves', async () => {
  await loaded;
  let checked = 0;
  for (const m of allModules()) {
    const rel = path.relative(SRC, m.dir);
    for (const [file, json] of Object.entries(m.raw)) {
      for (const [where, s] of tf.strings(json)) {
        for (const e of tf.expressions(s)) {
          for (const r of tf.references(e)) {
            checked++;
            const at = `${rel}/${file} ${where}: ${r.text}`;
            if (r.kind === 'var') assert.ok(m.variable[r.key], `${at}: no variable ${r.key}`);
            else if (r.kind === 'local') assert.ok(r.key in m.locals, `${at}: no local ${r.key}`);
            else if (r.kind === 'data') assert.ok(m.data[r.key], `${at}: no data source ${r.key}`);
            else if (r.kind === 'resource') assert.ok(m.resource[r.key], `${at}: no resource ${r.key}`);
            else if (r.kind === 'module') {
              const call = m.module[r.key];
              assert.ok(call, `${at}: no module ${r.key}`);
              const child = model.modules[path.resolve(m.dir, call.source)];
              assert.ok(r.output && child.output[r.output], `${at}: module ${r.key} has no output ${r.output}`);
            }
          }
        }
      }
    }
  }
  assert.ok(checked > 200, `only ${checked} references found: the scanner is broken`);
  // The scanner itself finds a dangling reference.
  assert.deepEqual(tf.references('"x-${var.nope}" == aws_lb.gone.arn ? "aws_x.y" : local.z').map((r) => r.text),
    ['var.nope', 'aws_lb.gone', 'local.z']);
});

test('module calls pass exactly the declared variables, all required ones included', async () => {
  await loaded;
  for (const m of Object.values(model.modules)) {
    for (const [name, call] of Object.entries(m.module)) {
      const child = model.modules[path.resolve(m.dir, call.source)];
      for (const arg of Object.keys(call)) {
        if (!META.has(arg)) assert.ok(child.variable[arg], `module ${name}: ${arg} is not a variable of ${call.source}`);
      }
      for (const [v, decl] of Object.entries(child.variable)) {
        if (!('default' in decl)) assert.ok(v in call, `module ${name}: required variable ${v} not passed`);
      }
    }
  }
});

test('every declared variable and local is used', async () => {
  await loaded;
  for (const m of allModules()) {
    const used = new Set();
    for (const json of Object.values(m.raw)) {
      for (const [, s] of tf.strings(json)) for (const e of tf.expressions(s)) for (const r of tf.references(e)) used.add(`${r.kind}.${r.key}`);
    }
    for (const v of Object.keys(m.variable)) assert.ok(used.has(`var.${v}`), `${path.relative(SRC, m.dir)}: variable ${v} is never used`);
    for (const l of Object.keys(m.locals)) assert.ok(used.has(`local.${l}`), `${path.relative(SRC, m.dir)}: local ${l} is never used`);
  }
});

test('the user data template gets exactly the variables it references', async () => {
  await loaded;
  const c = byName('compute');
  const ud = c.resource['aws_launch_template.this'].user_data;
  const m = ud.match(/templatefile\("\$\{path\.module\}\/([^"]+)",\s*\{([\s\S]*)\}\)/);
  assert.ok(m, `user_data does not call templatefile("\${path.module}/..."): ${ud}`);
  const file = path.resolve(c.dir, m[1]);
  assert.equal(file, path.join(path.resolve(SRC), 'userdata', 'user-data.sh.tftpl'));
  assert.ok(fs.existsSync(file), `${file} missing`);
  const passed = [...m[2].matchAll(/^\s*([a-z_0-9]+)\s*=/gm)].map((x) => x[1]).sort();
  const text = fs.readFileSync(file, 'utf8');
  const referenced = [...new Set([...text.replace(/\$\$\{/g, '').matchAll(/\$\{\s*(?:[a-z0-9]+\()?\s*([a-z_0-9]+)\s*\)?\s*\}/g)].map((x) => x[1]))].sort();
  assert.deepEqual(passed, referenced);
});

test('the example tfvars sets only root variables and every required one', async () => {
  await loaded;
  const text = fs.readFileSync(path.join(TF, 'terraform.tfvars.example'), 'utf8');
  const vars = await parse('terraform.tfvars.example', text);
  const root = model.root;
  for (const k of Object.keys(vars)) assert.ok(root.variable[k], `tfvars sets unknown variable ${k}`);
  for (const [k, d] of Object.entries(root.variable)) if (!('default' in d)) assert.ok(k in vars, `tfvars lacks required ${k}`);
});

// --- Security groups: exactly the architecture document's three tables ---
test('security groups are exactly the three tables of the architecture document (and the rotation function\'s)', async () => {
  await loaded;
  const n = byName('network');
  const sgOf = (ref) => (ref || '').replace(/^\$\{aws_security_group\.(\w+)\.id\}$/, '$1');
  const peer = (r) => r.cidr_ipv4 || (r.referenced_security_group_id && (r.referenced_security_group_id.startsWith('${aws_security_group.')
    ? `sg:${sgOf(r.referenced_security_group_id)}` : `sg:${r.referenced_security_group_id}`)) || '?';
  const rules = [];
  for (const [key, r] of Object.entries(n.resource)) {
    const dir = key.startsWith('aws_vpc_security_group_ingress_rule.') ? 'in' : key.startsWith('aws_vpc_security_group_egress_rule.') ? 'out' : null;
    if (!dir) continue;
    assert.equal(r.from_port, r.to_port, `${key}: a port range`);
    assert.equal(r.ip_protocol, 'tcp', `${key}: not tcp`);
    rules.push(`${sgOf(r.security_group_id)} ${dir} ${r.from_port} ${peer(r)}${r.count ? ' (optional)' : ''}`);
  }
  assert.deepEqual(rules.sort(), [
    'alb in 443 0.0.0.0/0', // HTTPS (443) from 0.0.0.0/0
    'alb in 80 0.0.0.0/0', // HTTP (80) from 0.0.0.0/0
    'alb out 80 sg:app', // HTTP (80) to EC2 Security Group
    'app in 22 sg:${var.bastion_security_group_id} (optional)', // SSH (22) from Bastion Host (optional)
    'app in 80 sg:alb', // HTTP (80) from ALB Security Group
    'app out 3306 sg:db', // MySQL (3306) to Aurora Security Group
    'app out 443 0.0.0.0/0', // HTTPS (443) to 0.0.0.0/0
    'db in 3306 sg:app', // MySQL (3306) from EC2 Security Group; Outbound: none
    // Issue 15: the secret rotation function (Lambda in the private subnets) reaches
    // Aurora and the Secrets Manager API, and Aurora admits it; nothing comes in.
    'db in 3306 sg:rotation',
    'rotation out 3306 sg:db',
    'rotation out 443 0.0.0.0/0',
  ].sort());
  // No inline rules anywhere, and no other security group resources in any module.
  for (const m of Object.values(model.modules)) {
    for (const [key, r] of Object.entries(m.resource)) {
      if (key.startsWith('aws_security_group.')) {
        assert.ok(!r.ingress && !r.egress, `${key}: inline rules`);
        assert.equal(m, n, `${key} outside the network module`);
      }
      assert.ok(!key.startsWith('aws_security_group_rule.'), `${key}: use the aws_vpc_security_group_*_rule resources`);
    }
  }
  assert.equal(n.resource['aws_vpc_security_group_ingress_rule.app_ssh_from_bastion'].count,
    '${var.bastion_security_group_id == null ? 0 : 1}');
});

// --- IAM: least privilege, scoped to ARNs ---
test('the instance role: the app DB secret (never the master), the API keys, this log group, this namespace, this ASG', async () => {
  await loaded;
  const c = byName('compute');
  const doc = c.data['aws_iam_policy_document.agentd'];
  const st = Object.fromEntries(doc.statement.map((s) => [s.sid, s]));
  assert.deepEqual(Object.keys(st).sort(), ['CreateAppLogGroupAndStreams', 'DecryptSecrets', 'LifecycleActions',
    'PutAgentMetrics', 'PutAppLogEvents', 'ReadApiKeysSecret', 'ReadDbSecret']);
  assert.deepEqual(st.ReadDbSecret.actions, ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']);
  assert.deepEqual(st.ReadDbSecret.resources, ['${var.db_secret_arn}']);
  assert.deepEqual(st.ReadApiKeysSecret.actions, ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']);
  assert.deepEqual(st.ReadApiKeysSecret.resources, ['${var.api_keys_secret_arn}']);
  assert.deepEqual(st.DecryptSecrets.actions, ['kms:Decrypt']);
  assert.deepEqual(st.DecryptSecrets.resources, ['${var.kms_key_arn}']);
  assert.deepEqual(st.DecryptSecrets.condition[0], { test: 'StringEquals', variable: 'kms:ViaService', values: ['secretsmanager.${var.region}.amazonaws.com'] });
  assert.deepEqual(st.CreateAppLogGroupAndStreams.actions, ['logs:CreateLogGroup', 'logs:CreateLogStream']);
  assert.deepEqual(st.CreateAppLogGroupAndStreams.resources, ['${var.log_group_arn}', '${var.log_group_arn}:*']);
  assert.deepEqual(st.PutAppLogEvents.actions, ['logs:PutLogEvents']);
  assert.deepEqual(st.PutAppLogEvents.resources, ['${var.log_group_arn}:log-stream:*']);
  assert.deepEqual(st.PutAgentMetrics.actions, ['cloudwatch:PutMetricData']);
  assert.deepEqual(st.PutAgentMetrics.condition[0], { test: 'StringEquals', variable: 'cloudwatch:namespace', values: ['${var.metrics_namespace}'] });
  assert.deepEqual(st.LifecycleActions.actions, ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat']);
  assert.deepEqual(st.LifecycleActions.resources, ['${local.asg_arn}']);
  assert.match(c.locals.asg_arn, /:autoScalingGroup:\*:autoScalingGroupName\/\$\{var\.asg_name\}$/);
  // The only "*" resource is PutMetricData, which has none, and it is namespace-bound.
  for (const s of doc.statement) {
    for (const a of s.actions) assert.ok(!a.includes('*'), `${s.sid}: wildcard action ${a}`);
    if (s.resources.includes('*')) assert.equal(s.sid, 'PutAgentMetrics', `${s.sid}: Resource "*"`);
  }
  const dyn = doc.dynamic.statement[0];
  assert.deepEqual(dyn.content[0].actions, ['s3:GetObject'], 'the optional package statement reads one object');
  // Root wiring: the DB secret is the application's own (alternating users), the
  // master secret reaches no instance (not the role, not the user data).
  const call = model.root.module.compute;
  assert.equal(call.db_secret_arn, '${module.db_app_user.secret_arn}');
  assert.equal(call.api_keys_secret_arn, '${module.secrets.api_keys_secret_arn}');
  assert.equal(call.log_group_arn, '${module.monitoring.log_group_arn}');
  assert.equal(call.metrics_namespace, '${local.metrics_namespace}');
  for (const [k, v] of Object.entries(call)) assert.ok(!String(v).includes('master_secret'), `compute.${k} = ${v}`);
  assert.match(c.resource['aws_launch_template.this'].user_data, /secret_arn\s*=\s*var\.db_secret_arn/);
  assert.equal(byName('db-app-user').output.secret_arn.value, '${aws_secretsmanager_secret.app.arn}');
});

// --- The requirements table, one test per row ---
for (const row of REQUIREMENTS) {
  test(`requirement: ${row.figure} -> ${row.module} ${row.resource}.${row.attr}`, async () => {
    await loaded;
    const m = byName(row.module);
    assert.ok(m, `no module ${row.module}`);
    const block = m.resource[row.resource];
    assert.ok(block, `no resource ${row.resource} in ${row.module}`);
    const raw = row.check ? block[row.attr] : tf.attr(block, row.attr);
    assert.notEqual(raw, undefined, `${row.resource} has no ${row.attr}`);
    if (row.check) {
      assert.ok(row.check(raw), `${row.resource}.${row.attr}: ${JSON.stringify(raw)}`);
    } else if ('raw' in row) {
      assert.deepEqual(raw, row.raw);
    } else {
      const value = Array.isArray(raw) ? raw.map((v) => tf.evaluate(m, v)) : tf.evaluate(m, raw);
      if (row.match) assert.match(String(value), row.match);
      else assert.deepEqual(value, row.value);
    }
  });
}

// --- The AWS provider's schema (tests/deploy/aws-schema.js, @cdktf/provider-aws) ---
const awsSchema = require('./aws-schema.js');
let schema;
const schemaLoaded = Promise.resolve().then(() => (schema = awsSchema.load()));

function schemaProblems(kind, key, body, where) {
  const type = key.split('.')[0];
  const entry = schema.index[kind][type];
  if (!entry) return [`${where}: the AWS provider has no ${kind === 'data' ? 'data source' : 'resource'} ${type}`];
  return awsSchema.validate(entry.schema, body, where);
}

test('the schema package is the build of the provider version terraform/versions.tf pins', async () => {
  await schemaLoaded;
  assert.ok(schema.count > 1500, `only ${schema.count} resources and data sources in the manifest`);
  const versions = fs.readFileSync(path.join(TF, 'versions.tf'), 'utf8');
  const pin = /version\s*=\s*"~>\s*(\d+)\.(\d+)"/.exec(versions);
  assert.ok(pin, 'versions.tf pins the aws provider with ~> MAJOR.MINOR');
  const [maj, min] = schema.providerVersion.split('.').map(Number);
  assert.ok(maj === Number(pin[1]) && min >= Number(pin[2]),
    `@cdktf/provider-aws is built for aws ${schema.providerVersion}, versions.tf wants ~> ${pin[1]}.${pin[2]}`);
});

test('every resource and data block matches the AWS provider schema', async () => {
  await loaded;
  await schemaLoaded;
  const problems = [];
  let checked = 0;
  for (const m of allModules()) {
    const rel = path.relative(SRC, m.dir);
    for (const kind of ['resource', 'data']) {
      for (const [key, body] of Object.entries(m[kind])) {
        checked++;
        problems.push(...schemaProblems(kind, key, body, `${rel} ${kind === 'data' ? 'data.' : ''}${key}`));
      }
    }
  }
  assert.ok(checked >= 40, `only ${checked} blocks checked`);
  assert.deepEqual(problems, [], `${problems.length} schema problem(s):\n${problems.join('\n')}`);
});

test('the schema check catches defects injected on purpose', async () => {
  await loaded;
  await schemaLoaded;
  const compute = byName('compute');
  const lt = JSON.parse(JSON.stringify(compute.resource['aws_launch_template.this'] || Object.entries(compute.resource)
    .find(([k]) => k.startsWith('aws_launch_template.'))[1]));
  const clean = schemaProblems('resource', 'aws_launch_template.x', lt, 'lt');
  assert.deepEqual(clean, [], 'the unmodified launch template is clean');
  const cases = [
    ['an unknown argument', (b) => { b.instance_typo = 't3.micro'; }, /unknown argument or block "instance_typo"/],
    ['an unknown argument inside a block', (b) => { b.metadata_options[0].http_tokenz = 'required'; }, /metadata_options\[0\]: unknown argument or block "http_tokenz"/],
    ['a block written as an argument', (b) => { b.metadata_options = { http_tokens: 'required' }; }, /"metadata_options" is a block/],
    ['an argument written as a block', (b) => { b.image_id = [{ id: 'ami-1' }]; }, /"image_id" is an argument, not a block/],
  ];
  for (const [what, mutate, want] of cases) {
    const b = JSON.parse(JSON.stringify(lt));
    mutate(b);
    const got = schemaProblems('resource', 'aws_launch_template.x', b, 'lt');
    assert.ok(got.some((p) => want.test(p)), `${what} is caught (got ${JSON.stringify(got)})`);
  }
  // A missing required argument, and a resource type the provider does not have.
  const alb = byName('alb');
  const [lkey, listener] = Object.entries(alb.resource).find(([k]) => k.startsWith('aws_lb_listener.'));
  const noArn = JSON.parse(JSON.stringify(listener));
  delete noArn.load_balancer_arn;
  assert.deepEqual(schemaProblems('resource', lkey, listener, 'l'), []);
  assert.ok(schemaProblems('resource', lkey, noArn, 'l').some((p) => /required argument "load_balancer_arn" missing/.test(p)),
    'a missing required argument is caught');
  assert.ok(schemaProblems('resource', 'aws_s3_bucket_encryption.x', {}, 'x').some((p) => /has no resource aws_s3_bucket_encryption/.test(p)),
    'a resource type the provider does not have is caught');
});

test('scaling survives an apply, the master secret does not rotate at creation, the DB alarm follows max ACU', async () => {
  await loaded;
  const asg = byName('compute').resource['aws_autoscaling_group.this'];
  const ignored = (asg.lifecycle || []).flatMap((l) => l.ignore_changes || []).map((x) => x.replace(/^\$\{|\}$/g, ''));
  assert.ok(ignored.includes('desired_capacity'), `ASG lifecycle.ignore_changes has desired_capacity (got ${ignored})`);
  const rot = byName('database').resource['aws_secretsmanager_secret_rotation.master'];
  assert.equal(rot.rotate_immediately, false, 'master secret rotation: rotate_immediately = false');
  // The threshold expression, evaluated here for the root's max ACU, is 80% of Aurora
  // MySQL's max_connections at that memory (AWS's formula), not a constant.
  const mon = byName('monitoring');
  const alarm = mon.resource['aws_cloudwatch_metric_alarm.db_connections'];
  assert.equal(alarm.threshold, '${local.db_connections_alarm}');
  const acu = Number(byName('database').variable.max_capacity.default);
  const mem = acu * 2 * 1024 ** 3;
  const maxConn = Math.floor(Math.max(Math.log2(mem / 805306368) * 45, Math.log2(mem / 8187281408) * 1000));
  assert.equal(maxConn, 2069, `max_connections at ${acu} ACU`);
  const locals = Object.assign({}, ...(mon.raw['main.tf'].locals || []));
  assert.match(locals.db_max_connections, /log\(local\.db_memory_bytes \/ 805306368, 2\) \* 45/);
  assert.match(locals.db_max_connections, /log\(local\.db_memory_bytes \/ 8187281408, 2\) \* 1000/);
  assert.match(locals.db_connections_alarm, /local\.db_max_connections \* 0\.8/);
  assert.equal(byName('root').module.monitoring.db_max_acu, '${module.database.max_capacity}');
});

// --- Issue 15: the app's DB user, NACLs, the dashboard, the state backend ---
test('the app DB user: AWS\'s multi-user MySQL rotation function, a one-shot bootstrap within CloudFormation\'s inline limit', async () => {
  await loaded;
  const u = byName('db-app-user');
  assert.equal(u.data['aws_serverlessapplicationrepository_application.rotation'].application_id,
    'arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSMySQLRotationMultiUser');
  const params = u.resource['aws_serverlessapplicationrepository_cloudformation_stack.rotation'].parameters;
  assert.equal(params.functionName, '${local.rotation_name}');
  assert.match(u.locals.rotation_function_arn, /:function:\$\{local\.rotation_name\}$/);
  assert.match(params.endpoint, /^https:\/\/secretsmanager\./);
  assert.equal(params.masterSecretKmsKeyArn, '${var.kms_key_arn}');
  assert.equal(u.variable.username.default, 'app');
  assert.ok(!/\bALL\b|GRANT/.test(u.variable.privileges.default), 'no ALL PRIVILEGES, no GRANT OPTION');
  // The secret's value never goes through Terraform.
  assert.ok(!Object.keys(u.resource).some((k) => k.startsWith('aws_secretsmanager_secret_version.')), 'no secret value in state');
  // The bootstrap role: SQL on this cluster, the master secret read-only, the app secret.
  const st = Object.fromEntries(u.data['aws_iam_policy_document.bootstrap'].statement.map((x) => [x.sid, x]));
  assert.deepEqual(st.DataApiOnTheCluster.resources, ['${var.cluster_arn}']);
  assert.deepEqual(st.ReadMasterSecret.actions, ['secretsmanager:GetSecretValue']);
  assert.deepEqual(st.WriteAppSecret.resources, ['${aws_secretsmanager_secret.app.arn}']);
  // CloudFormation takes inline code (ZipFile) of at most 4096 bytes.
  const code = fs.readFileSync(path.join(u.dir, 'bootstrap.py'));
  assert.ok(code.length <= 4096, `bootstrap.py is ${code.length} bytes, CloudFormation's ZipFile limit is 4096`);
  const tb = u.resource['aws_cloudformation_stack.bootstrap'].template_body;
  for (const k of ['ClusterArn', 'MasterSecretArn', 'AppSecretArn', 'Host', 'Port', 'Database', 'Username', 'Privileges']) {
    assert.match(tb, new RegExp(`\\b${k}\\s*=`), `custom resource property ${k}`);
    assert.match(code.toString(), new RegExp(`p\\["${k}"\\]`), `bootstrap.py reads ${k}`);
  }
  // Root: the rotation function's network is the private subnets and its own group.
  const call = model.root.module.db_app_user;
  assert.equal(call.private_subnet_ids, '${module.network.private_subnet_ids}');
  assert.equal(call.rotation_security_group_id, '${module.network.rotation_security_group_id}');
  assert.equal(call.master_secret_arn, '${module.database.master_secret_arn}');
});

test('network ACLs mirror the security groups', async () => {
  await loaded;
  const n = byName('network');
  const rules = [];
  for (const [key, r] of Object.entries(n.resource)) {
    if (!key.startsWith('aws_network_acl_rule.')) continue;
    assert.equal(r.protocol, 'tcp', `${key}: tcp only`);
    assert.equal(r.rule_action, 'allow', `${key}: allow rules only (the rest is denied)`);
    const acl = r.network_acl_id.replace(/^\$\{aws_network_acl\.(\w+)\.id\}$/, '$1');
    const cidr = tf.evaluate(n, r.cidr_block);
    const cidrs = Array.isArray(cidr) ? cidr.join('+') : cidr;
    rules.push(`${acl} ${r.egress ? 'out' : 'in'} ${r.from_port}${r.to_port !== r.from_port ? '-' + r.to_port : ''} ${cidrs}${r.count && /bastion/.test(r.count) ? ' (with a bastion)' : ''}`);
  }
  assert.deepEqual(rules.sort(), [
    'private in 1024-3305 0.0.0.0/0', // answers (AWS APIs via NAT, Aurora), 3306 left out
    'private in 22 10.0.0.0/16 (with a bastion)',
    'private in 3306 10.0.11.0/24+10.0.12.0/24', // MySQL from the private subnets only
    'private in 3307-65535 0.0.0.0/0',
    'private in 80 10.0.1.0/24+10.0.2.0/24', // HTTP from the ALB's subnets
    'private out 1024-65535 10.0.0.0/16', // answers to the ALB and Aurora's clients
    'private out 3306 10.0.11.0/24+10.0.12.0/24',
    'private out 443 0.0.0.0/0', // HTTPS to AWS APIs and packages
    'public in 1024-65535 0.0.0.0/0', // answers
    'public in 443 0.0.0.0/0', // HTTPS to the ALB, and to the NAT from the private subnets
    'public in 80 0.0.0.0/0',
    'public out 1024-65535 0.0.0.0/0',
    'public out 443 0.0.0.0/0',
    'public out 80 10.0.11.0/24+10.0.12.0/24', // ALB -> instances
  ].sort());
  // Rule numbers are unique per ACL and direction (counted ones spread by count.index).
  const seen = new Set();
  for (const [key, r] of Object.entries(n.resource)) {
    if (!key.startsWith('aws_network_acl_rule.')) continue;
    const m = /^\$\{(\d+) \+ count\.index\}$/.exec(String(r.rule_number));
    const nums = m ? [0, 1].map((i) => String(Number(m[1]) + i)) : [String(r.rule_number)];
    for (const num of nums) {
      const k = `${r.network_acl_id} ${r.egress} ${num}`;
      assert.ok(/^\d+$/.test(num), `${key}: rule_number ${r.rule_number}`);
      assert.ok(!seen.has(k), `${key}: rule number ${num} used twice`);
      seen.add(k);
    }
  }
  // Every subnet is in one of them; the default ACL has no rules.
  assert.equal(n.resource['aws_network_acl.public'].subnet_ids, '${aws_subnet.public[*].id}');
  assert.equal(n.resource['aws_network_acl.private'].subnet_ids, '${aws_subnet.private[*].id}');
  const def = n.resource['aws_default_network_acl.this'];
  assert.ok(!def.ingress && !def.egress, 'the default NACL keeps no rule');
});

test('the dashboard shows the fleet: agentd metrics, ALB, Aurora', async () => {
  await loaded;
  const mon = byName('monitoring');
  const w = JSON.stringify(mon.locals.widgets);
  for (const name of ['mem_used_percent', 'disk_used_percent', 'cpu_usage_user', 'cpu_usage_system', 'cpu_usage_iowait', 'cpu_usage_steal',
    'local.m.fpm_listen_queue', 'local.m.fpm_max_children_reached', 'local.m.ingest_queue_depth', 'local.m.ingest_queue_oldest_age',
    'RequestCount', 'TargetResponseTime', 'HTTPCode_Target_5XX_Count', 'HTTPCode_ELB_5XX_Count',
    'ServerlessDatabaseCapacity', 'DatabaseConnections', 'AppErrorLines']) {
    assert.ok(w.includes(name), `dashboard has no ${name}`);
  }
  assert.match(mon.resource['aws_cloudwatch_dashboard.fleet'].dashboard_body, /jsonencode/);
  const f = mon.resource['aws_cloudwatch_log_metric_filter.app_errors'];
  assert.equal(f.pattern, '${var.error_line_pattern}');
  for (const t of ['"PHP Fatal error"', '"[error]"', '"[crit]"']) assert.ok(mon.variable.error_line_pattern.default.includes(t), t);
  const a = mon.resource['aws_cloudwatch_metric_alarm.app_errors'];
  assert.equal(a.namespace, '${local.log_metrics_namespace}');
});

test('the example state backend: S3 versioned and KMS-encrypted, DynamoDB lock, named as the commented block says', async () => {
  await loaded;
  const b = standalone['state-backend'].root;
  assert.equal(b.resource['aws_s3_bucket_versioning.state'].versioning_configuration[0].status, 'Enabled');
  assert.equal(b.resource['aws_s3_bucket_server_side_encryption_configuration.state'].rule[0].apply_server_side_encryption_by_default[0].sse_algorithm, 'aws:kms');
  assert.equal(b.resource['aws_s3_bucket_public_access_block.state'].block_public_policy, true);
  assert.equal(b.resource['aws_dynamodb_table.lock'].hash_key, 'LockID');
  assert.deepEqual(b.resource['aws_dynamodb_table.lock'].attribute[0], { name: 'LockID', type: 'S' });
  // The commented block in versions.tf parses once uncommented, and names what the
  // state-backend module creates (for the default name and the example account).
  const text = fs.readFileSync(path.join(TF, 'versions.tf'), 'utf8');
  const block = [...text.matchAll(/^\s*# ?(.*)$/gm)].map((x) => x[1]).join('\n').match(/backend "s3" \{[\s\S]*?\n\}/);
  assert.ok(block, 'versions.tf has a commented backend "s3" block');
  const parsed = await parse('backend.tf', `terraform {\n${block[0]}\n}\n`);
  const s3 = parsed.terraform[0].backend.s3[0];
  assert.equal(s3.encrypt, true);
  const name = b.variable.name.default;
  assert.equal(s3.bucket, b.locals.bucket.replace('${var.name}', name).replace('${data.aws_caller_identity.current.account_id}', '123456789012'));
  assert.equal(s3.dynamodb_table, b.locals.table.replace('${var.name}', name));
  assert.equal(s3.kms_key_id, b.resource['aws_kms_alias.state'].name.replace('${var.name}', name));
  const out = b.output.backend_config.value;
  assert.deepEqual(Object.keys(out).sort(), Object.keys(s3).sort(), 'backend_config has the keys of the block');
});

test('CloudTrail: only this trail writes to its bucket, and may use the platform key', async () => {
  await loaded;
  const a = byName('audit');
  const st = Object.fromEntries(a.data['aws_iam_policy_document.trail_bucket'].statement.map((x) => [x.sid, x]));
  assert.deepEqual(st.CloudTrailWrite.actions, ['s3:PutObject']);
  assert.ok(st.CloudTrailWrite.condition.some((c) => c.variable === 'aws:SourceArn' && c.values[0] === '${local.trail_arn}'));
  assert.equal(st.DenyInsecureTransport.effect, 'Deny');
  assert.match(a.locals.trail_arn, /:trail\/\$\{local\.trail_name\}$/);
  assert.equal(a.resource['aws_cloudtrail.this'].name, '${local.trail_name}');
  const key = Object.fromEntries(byName('secrets').data['aws_iam_policy_document.key'].statement.map((x) => [x.sid, x]));
  assert.deepEqual(key.CloudTrailEncrypt.principals[0].identifiers, ['cloudtrail.amazonaws.com']);
  assert.deepEqual(key.CloudTrailEncrypt.actions, ['kms:GenerateDataKey*']);
  assert.equal(key.CloudTrailEncrypt.condition[0].variable, 'kms:EncryptionContext:aws:cloudtrail:arn');
});
