/**
 * mpimg-runtime: the single file copied onto a build droplet. `mpimg bundle` fills in the payload.
 * Node 18+ and built-ins only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { validateManifest, formatProblems } from './manifest.js';
import { describeOp } from './plan.js';
import { describeFailure, install, status, uninstall } from './executor.js';
import type { Payload } from './payload.js';

declare const MPIMG_VERSION: string;

// Replaced by `mpimg bundle`; the bare runtime (no payload) only answers --help and --version.
const EMBEDDED = '@@MPIMG_PAYLOAD@@';

const USAGE = `Usage: node <bundle> <command> [options]

Commands:
  install     lay down the image's files (first-boot scripts, first-login hook, MOTD, ...)
  status      compare the droplet with the plan; exit 1 on drift
  uninstall   remove exactly what install added
  plan        print what install would do
  cleanup     run the image cleanup script (its own options follow)
  check       run the Marketplace image check (its own options follow)

Options:
  --root DIR      act on DIR instead of / (staged trees, tests)
  --json          machine-readable output (install, status, uninstall, plan)
  --remove-self   install: delete this file after a successful install
  --force         uninstall: also remove files changed since install (and restore what they replaced)
  -h, --help      this help
  -v, --version   print the version
`;

function fail(msg: string, code = 2): never {
  process.stderr.write(`${msg}\n`);
  process.exit(code);
}

function loadPayload(): Payload {
  if (EMBEDDED.startsWith('@@')) {
    fail('error: this is the bare mpimg runtime without an image payload\n  fix: run `mpimg bundle` in your image project and use dist/<slug>.cjs');
  }
  const payload = JSON.parse(EMBEDDED) as Payload;
  // Same schema as the generator and the bundler: a tampered payload is refused before anything is touched.
  const { problems } = validateManifest(payload.manifest);
  if (problems.length) fail(`error: the embedded manifest is invalid\n${formatProblems(problems)}`);
  return payload;
}

/** Runs an embedded script with `bash -s`: no copy of it is left anywhere (the check looks in /tmp). */
function runScript(b64: string, args: string[]): number {
  const r = spawnSync('bash', ['-s', '--', ...args], { input: Buffer.from(b64, 'base64'), stdio: ['pipe', 'inherit', 'inherit'] });
  if (r.error) fail(`error: could not run bash: ${r.error.message}\n  fix: install bash on this droplet`);
  return r.status ?? 1;
}

function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  if (cmd === '-v' || cmd === '--version') {
    process.stdout.write(`${MPIMG_VERSION}\n`);
    return 0;
  }
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const payload = loadPayload();
  if (cmd === 'cleanup') return runScript(payload.scripts.cleanup, rest);
  if (cmd === 'check') return runScript(payload.scripts.check, rest);
  if (!['install', 'status', 'uninstall', 'plan'].includes(cmd)) {
    fail(`error: unknown command "${cmd}"\n  fix: use one of install, status, uninstall, plan, cleanup, check (see --help)`);
  }
  let values: { root?: string; json?: boolean; 'remove-self'?: boolean; force?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { root: { type: 'string' }, json: { type: 'boolean' }, 'remove-self': { type: 'boolean' }, force: { type: 'boolean' } },
      strict: true,
    }));
  } catch (e) {
    fail(`error: ${(e as Error).message}\n  fix: see \`node <bundle> --help\``);
  }
  const root = path.resolve(values.root ?? '/');
  if (values.root !== undefined && !fs.existsSync(root)) fail(`error: --root ${values.root} does not exist\n  fix: create it or point --root at a staged tree`);
  const plan = payload.plan;
  const json = Boolean(values.json);
  const out = (s: string) => process.stdout.write(s);

  if (cmd === 'plan') {
    if (json) out(`${JSON.stringify(plan.ops.map((op) => ({ ...op, content: undefined })), null, 2)}\n`);
    else out(`${plan.ops.map(describeOp).join('\n')}\n`);
    return 0;
  }
  if (cmd === 'status') {
    const { drift, checked } = status(plan, root);
    if (json) out(`${JSON.stringify({ image: plan.slug, version: plan.version, root, checked, drift, ok: drift.length === 0 }, null, 2)}\n`);
    else if (drift.length === 0) out(`${plan.name} ${plan.version}: installed, ${checked} items as planned\n`);
    else out(`${plan.name} ${plan.version}: ${drift.length} problem(s)\n${drift.map((d) => `  ${d.problem}: ${d.path}${d.detail ? ` (${d.detail})` : ''}`).join('\n')}\n  fix: run install again to repair\n`);
    return drift.length === 0 ? 0 : 1;
  }
  if (root === '/' && typeof process.getuid === 'function' && process.getuid() !== 0) {
    fail(`error: refusing to ${cmd} on / as uid ${process.getuid()}\n  fix: run as root (sudo node ${path.basename(process.argv[1] ?? 'bundle')} ${cmd}) or pass --root DIR`);
  }
  let changes;
  try {
    changes = cmd === 'install' ? install(plan, root) : uninstall(plan, root, { force: Boolean(values.force) });
  } catch (e) {
    const again = root === '/' ? '' : ` --root ${root}`;
    fail(`error: ${describeFailure(cmd, e)}\n  fix: ${cmd === 'install' ? `fix that path and run install again; \`uninstall${again}\` removes what this install made so far` : 'fix that path and run uninstall again'}`, 1);
  }
  const touched = changes.filter((c) => c.action !== 'unchanged' && c.action !== 'absent');
  if (json) out(`${JSON.stringify({ image: plan.slug, command: cmd, root, changes }, null, 2)}\n`);
  else {
    for (const c of touched) out(`${c.action.padEnd(8)} ${c.path}${c.note ? ` (${c.note})` : ''}\n`);
    out(touched.length === 0 ? `${cmd}: nothing to change\n` : `${cmd}: ${touched.filter((c) => c.action !== 'kept').length} change(s) under ${root}\n`);
    const kept = changes.filter((c) => c.action === 'kept' && c.note?.startsWith('changed')).length;
    if (kept) out(`${cmd}: kept ${kept} file(s) changed since install; \`uninstall --force\` removes them\n`);
  }
  if (cmd === 'install' && values['remove-self']) {
    fs.unlinkSync(__filename);
    if (!json) out(`removed ${__filename}\n`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
