/**
 * mpimg-runtime: the single file copied onto a build droplet. `mpimg bundle` fills in the payload.
 * Node 18+ and built-ins only. Commands come from one table (name, summary, options, handler): the
 * dispatch, the argument checks and every help text are read from it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { validateManifest, formatProblems } from './manifest.js';
import { describeOp, type Plan } from './plan.js';
import { install } from './executor.js';
import { status } from './status.js';
import { uninstall } from './uninstall.js';
import { heldLine, readyRecord } from './first-boot-records.js';
import { credentialsFile } from './sections/credentials.js';
import { describeFailure, type Change } from './ops.js';
import { StepError } from './root.js';
import type { Stage } from './stage.js';
import type { Payload } from './payload.js';
import { cleanupArgs, imageCheckArgs } from './script-args.js';
import { ArgsError, commandHelp, parseCommandArgs, usage, type CommandSpec, type Values } from './args.js';

declare const MPIMG_VERSION: string;

// Replaced by `mpimg bundle`; the bare runtime (no payload) only answers --help and --version.
const EMBEDDED = '@@MPIMG_PAYLOAD@@';

function fail(msg: string, code = 2): never {
  process.stderr.write(`${msg}\n`);
  process.exit(code);
}

function loadPayload(): Payload {
  if (EMBEDDED.startsWith('@@')) {
    fail(
      'error: this is the bare mpimg runtime without an image payload\n  fix: run `mpimg bundle` in your image project and use dist/<slug>.cjs',
    );
  }
  const payload = JSON.parse(EMBEDDED) as Payload;
  // Same schema as the generator and the bundler: a tampered payload is refused before anything is touched.
  const { problems } = validateManifest(payload.manifest);
  if (problems.length) fail(`error: the embedded manifest is invalid\n${formatProblems(problems)}`);
  return payload;
}

/** Runs an embedded script with `bash -s`: no copy of it is left anywhere (the check looks in /tmp). */
function runScript(b64: string, args: string[]): number {
  const r = spawnSync('bash', ['-s', '--', ...args], {
    input: Buffer.from(b64, 'base64'),
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  if (r.error) fail(`error: could not run bash: ${r.error.message}\n  fix: install bash on this droplet`);
  return r.status ?? 1;
}

function describeStage(st: Stage): string {
  const boot =
    st.stage === 'built'
      ? 'built, first boot not run here yet'
      : st.stage === 'first-boot-running'
        ? 'first boot running'
        : 'first boot finished';
  const failed = st.failedSteps.length ? ` (failed: ${st.failedSteps.map((l) => l.split(' ')[0]).join(', ')})` : '';
  const login = st.firstLogin === 'none' ? '' : `, first login ${st.firstLogin}`;
  return `${boot}${failed}${login}`;
}

/** What a command's handler gets: the payload, its checked options, and the root it acts on. */
interface Context {
  payload: Payload;
  plan: Plan;
  values: Values;
  /** Unparsed arguments (pass-through commands). */
  rest: string[];
  root: string;
  json: boolean;
}

interface Command extends CommandSpec {
  handler: (ctx: Context) => number;
}

const out = (s: string) => process.stdout.write(s);

function planCommand({ plan, json }: Context): number {
  // (the sh twin prints these same bytes: tasks/bundle/sh-installer.ts planJson)
  if (json)
    out(
      `${JSON.stringify(
        plan.ops.map((op) => ({ ...op, content: undefined })),
        null,
        2,
      )}\n`,
    );
  else out(`${plan.ops.map(describeOp).join('\n')}\n`);
  return 0;
}

function statusCommand({ plan, root, json }: Context): number {
  const r = status(plan, root);
  const ok = r.drift.length === 0;
  if (json) {
    out(
      `${JSON.stringify({ image: plan.slug, version: plan.version, root, checked: r.checked, ...r.stage, ...(r.afterFirstBoot ? { afterFirstBoot: r.afterFirstBoot } : {}), drift: r.drift, seeded: r.seeded, ok }, null, 2)}\n`,
    );
    return ok ? 0 : 1;
  }
  const seeded = r.seeded.length ? `; ${r.seeded.length} seeded file(s) changed here (expected)` : '';
  const held = r.afterFirstBoot
    ? `${heldLine(r.afterFirstBoot.units, r.afterFirstBoot.state === 'released', readyRecord(plan))}\n`
    : '';
  if (ok)
    out(`${plan.name} ${plan.version}: ${describeStage(r.stage)}; ${r.checked} items as planned${seeded}\n${held}`);
  else {
    // On a droplet that booted, install refuses (it would undo first boot): never suggest it there.
    const fix =
      r.stage.stage === 'built'
        ? 'run install again to repair'
        : 'these were changed on this droplet after its first boot; compare them with the image (`plan --json`)';
    out(
      `${plan.name} ${plan.version}: ${describeStage(r.stage)}; ${r.drift.length} problem(s)${seeded}\n${held}${r.drift.map((d) => `  ${d.problem}: ${d.path}${d.detail ? ` (${d.detail})` : ''}`).join('\n')}\n  fix: ${fix}\n`,
    );
  }
  return ok ? 0 : 1;
}

/** install and uninstall: refused on / for a non-root user; a failed step says where and the way back. */
function changeCommand(cmd: 'install' | 'uninstall', ctx: Context): number {
  const { plan, root, values, json } = ctx;
  if (root === '/' && typeof process.getuid === 'function' && process.getuid() !== 0) {
    fail(
      `error: refusing to ${cmd} on / as uid ${process.getuid()}\n  fix: run as root (sudo node ${path.basename(process.argv[1] ?? 'bundle')} ${cmd}) or pass --root DIR`,
    );
  }
  let changes: Change[];
  try {
    changes =
      cmd === 'install'
        ? install(plan, root, { force: Boolean(values.force), only: values.only === 'seeded' ? 'seeded' : undefined })
        : uninstall(plan, root, { force: Boolean(values.force), credentials: credentialsFile(ctx.payload.manifest) });
  } catch (e) {
    const again = root === '/' ? '' : ` --root ${root}`;
    if (e instanceof StepError && e.code === 'EBOOTED') {
      fail(
        `error: install refused: ${e.message}\n  fix: nothing needs installing on a droplet made from the image; \`install --force${again}\` lays the files down again (never the first-login hook or the login hold)`,
        1,
      );
    }
    fail(
      `error: ${describeFailure(cmd, e)}\n  fix: ${cmd === 'install' ? `fix that path and run install again; \`uninstall${again}\` removes what this install made so far` : 'fix that path and run uninstall again'}`,
      1,
    );
  }
  const touched = changes.filter((c) => c.action !== 'unchanged' && c.action !== 'absent');
  if (json) out(`${JSON.stringify({ image: plan.slug, command: cmd, root, changes }, null, 2)}\n`);
  else {
    for (const c of touched) out(`${c.action.padEnd(8)} ${c.path}${c.note ? ` (${c.note})` : ''}\n`);
    out(
      touched.length === 0
        ? `${cmd}: nothing to change\n`
        : `${cmd}: ${touched.filter((c) => c.action !== 'kept').length} change(s) under ${root}\n`,
    );
    const kept = changes.filter(
      (c) =>
        c.action === 'kept' &&
        (c.note?.startsWith('changed') || c.note?.startsWith('no longer in the plan, but changed')),
    ).length;
    if (kept) out(`${cmd}: kept ${kept} file(s) changed since install; \`uninstall --force\` removes them\n`);
  }
  if (cmd === 'install' && values['remove-self']) {
    fs.unlinkSync(__filename);
    if (!json) out(`removed ${__filename}\n`);
  }
  return 0;
}

const ROOT = 'act on DIR instead of / (staged trees, tests)';
const JSON_OUT = 'machine-readable output';

const COMMANDS: readonly Command[] = [
  {
    name: 'install',
    summary: "lay down the image's files (first-boot scripts, first-login hook, MOTD, ...)",
    options: {
      root: ROOT,
      json: JSON_OUT,
      'remove-self': 'delete this file after a successful install',
      only: 'only files/ (and other seeded files), before the build scripts run',
      force: 'also on a droplet whose first boot ran (never puts the first-login hook back)',
    },
    handler: (ctx) => changeCommand('install', ctx),
  },
  {
    name: 'status',
    summary: 'compare the droplet with the plan; exit 1 on drift',
    options: { root: ROOT, json: JSON_OUT },
    handler: statusCommand,
  },
  {
    name: 'uninstall',
    summary: 'remove exactly what install added',
    options: {
      root: ROOT,
      json: JSON_OUT,
      force: 'also remove files changed since install (and restore what they replaced)',
    },
    handler: (ctx) => changeCommand('uninstall', ctx),
  },
  {
    name: 'plan',
    summary: 'print what install would do',
    options: { root: ROOT, json: JSON_OUT },
    handler: planCommand,
  },
  {
    name: 'cleanup',
    summary: 'run the image cleanup script (its own options follow)',
    options: {},
    passThrough: true,
    handler: ({ payload, rest }) =>
      runScript(payload.scripts.cleanup, [
        ...cleanupArgs(payload.manifest, Buffer.from(payload.scripts.cleanup, 'base64').toString('utf8')),
        ...rest,
      ]),
  },
  {
    name: 'check',
    summary: 'run the Marketplace image check (its own options follow)',
    options: {},
    passThrough: true,
    handler: ({ payload, rest }) =>
      runScript(payload.scripts.check, [
        ...imageCheckArgs(payload.manifest, Buffer.from(payload.scripts.check, 'base64').toString('utf8')),
        ...rest,
      ]),
  },
];

const find = (name: string | undefined) => COMMANDS.find((c) => c.name === name);

function version(): number {
  // The image and the tool that made this bundle (the bare runtime knows only the tool).
  if (EMBEDDED.startsWith('@@')) out(`generator-mpimg ${MPIMG_VERSION}\n`);
  else {
    const p = loadPayload();
    out(`${p.plan.name} ${p.plan.version} (${p.plan.slug}), generator-mpimg ${p.generator}\n`);
  }
  return 0;
}

/** The folder to act on: an empty --root is an unset variable (`--root "$STAGE"`), never a wish to act on /. */
function rootOf(values: Values): string {
  if (values.root === '')
    fail(
      'error: --root is empty\n  fix: pass --root DIR (an unset shell variable gives an empty one), or leave --root out to act on /',
    );
  const root = path.resolve(values.root ?? '/');
  if (values.root !== undefined && !fs.existsSync(root))
    fail(`error: --root ${values.root} does not exist\n  fix: create it or point --root at a staged tree`);
  return root;
}

function main(argv: string[]): number {
  const [name, ...rest] = argv;
  if (name === '-v' || name === '--version') return version();
  if (name === undefined || name === '-h' || name === '--help') {
    out(usage(COMMANDS));
    return name === undefined ? 2 : 0;
  }
  if (name === 'help') {
    const topic = find(rest[0]);
    if (rest[0] !== undefined && !topic)
      fail(
        `error: unknown command "${rest[0]}"\n  fix: use one of ${COMMANDS.map((c) => c.name).join(', ')} (see --help)`,
      );
    out(topic ? commandHelp(topic) : usage(COMMANDS));
    return 0;
  }
  const cmd = find(name);
  if (!cmd)
    fail(`error: unknown command "${name}"\n  fix: use one of ${COMMANDS.map((c) => c.name).join(', ')} (see --help)`);
  if (cmd.passThrough) {
    const payload = loadPayload();
    return cmd.handler({ payload, plan: payload.plan, values: {}, rest, root: '/', json: false });
  }
  let values: Values | 'help';
  try {
    values = parseCommandArgs(cmd, rest);
  } catch (e) {
    if (!(e instanceof ArgsError)) throw e;
    fail(`error: ${e.message}\n  fix: ${e.fix}`);
  }
  if (values === 'help') {
    out(commandHelp(cmd));
    return 0;
  }
  const payload = loadPayload();
  return cmd.handler({ payload, plan: payload.plan, values, rest, root: rootOf(values), json: Boolean(values.json) });
}

process.exitCode = main(process.argv.slice(2));
