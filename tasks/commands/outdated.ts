import type { Writable } from 'node:stream';
import { clientFor, type DoCommandDeps } from './do-support.js';
import { imageIdOption } from './verify.js';
import { createProgress } from '../do/progress.js';
import { loadManifest } from '../do/project.js';
import { COMMAND_SCOPES } from '../do/scopes.js';
import { runVerifyPipeline } from '../do/verify.js';
import type { PipelineTimings } from '../do/pipeline.js';
import { UsageError } from '../../core/errors.js';
import { Connection } from '../ssh/connection.js';
import { waitCloudInit, waitForSsh } from '../ssh/wait.js';
import { outdatedExit, pendingUpdates, type PendingUpdates } from '../standard/pending-updates.js';
import { inProject, intOption, parseOptions, projectHelp, PROJECT_OPTION, SSH_TARGET_OPTIONS } from './options.js';
import type { Command, CommandContext } from './types.js';

const usage = `Usage: mpimg outdated (--host <host> | --image <id>) [options] [--json]

Counts the updates pending on a droplet and names the security ones: it refreshes the package
indexes (apt-get update / dnf --refresh: a snapshot's lists are old), then only simulates. On apt it
simulates dist-upgrade (a fix that needs a new dependency counts, though \`upgrade\` holds it back)
and a security update is one from the distribution's security suite (<codename>-security); on
dnf/yum it asks \`check-update\` and \`updateinfo list --security\`. The counting is the image
check's own (its security-updates line, 99-img-check.sh --pending-updates).

  --host <host>  a running droplet, over SSH
  --image <id>   a snapshot: a droplet is made from it exactly as \`mpimg verify --image\` makes one
                 (the project's mpimg.json gives region, size and SSH keys), checked after its first
                 boot and destroyed at the end, also when the check fails or on Ctrl-C

Exit status (fixed, workflows rely on it):
  0  nothing pending          3  updates pending, none of them security updates
  4  security updates pending 1  could not tell (error)      2  bad usage

Options:
  --json                 print one JSON object on stdout and nothing else: {pending, security,
                         packages: [{name, installed, candidate, security, source}], distribution,
                         checkedAt, image (with --image)}
  --user <user>          remote user (default root; another user needs sudo)
  --port <port>          SSH port (default 22)
  --identity <file>      private key file (the agent and ~/.ssh/config work too)
  --ssh-config <file>    ssh client config to use instead of ~/.ssh/config
  --strict-host-keys     (--host) only connect to hosts already in known_hosts
  --known-hosts <file>   (--host) known_hosts file to use instead of ~/.ssh/known_hosts
  --wait-attempts <n>    how many times to try to reach SSH, 2 s apart (default 30; 150 with --image)
  --cloud-init-timeout <seconds>
                         how long to wait for cloud-init's first boot (default 600); 0 skips the wait
${projectHelp(25)}

With --image the token is read as by \`mpimg verify\` (DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN,
or doctl's config); a custom-scoped token needs: ${COMMAND_SCOPES.outdated.join(', ')}
`;

export interface OutdatedCommandDeps extends DoCommandDeps {
  timings?: Partial<PipelineTimings>;
}

const SPEC = {
  ...PROJECT_OPTION,
  ...SSH_TARGET_OPTIONS,
  image: { type: 'string' },
  json: { type: 'boolean' },
} as const;

interface Target {
  user: string;
  port: number;
  identity?: string;
  sshConfig?: string;
  strict: boolean;
  knownHosts?: string;
  attempts: number;
  cloudInitMs: number;
}

/** Connects, waits for SSH and first boot, and counts; the connection is closed afterwards. */
async function check(host: string, t: Target, ctx: CommandContext, log: Writable): Promise<PendingUpdates> {
  const c = new Connection({
    host,
    user: t.user,
    port: t.port,
    identityFile: t.identity,
    sshConfigFile: t.sshConfig,
    hostKeys: t.strict ? 'strict' : 'accept-new',
    knownHostsFile: t.knownHosts,
    // Progress goes to stderr: stdout is the result's alone.
    stdout: log,
    stderr: ctx.stderr,
    signal: ctx.signal,
    project: ctx.cwd,
  });
  try {
    await waitForSsh(c, { attempts: t.attempts, signal: ctx.signal });
    await waitCloudInit(c, { timeoutMs: t.cloudInitMs });
    return await pendingUpdates(c);
  } finally {
    c.close();
  }
}

function report(ctx: CommandContext, p: PendingUpdates, json: boolean, image?: number): void {
  const security = p.packages.filter((x) => x.security);
  if (json) {
    const out = {
      pending: p.packages.length,
      security: security.length,
      packages: p.packages,
      distribution: p.distribution,
      checkedAt: new Date().toISOString(),
      ...(image !== undefined ? { image } : {}),
    };
    ctx.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const w = (s: string) => ctx.stdout.write(`${s}\n`);
  for (const x of p.packages)
    w(
      `${x.security ? 'security' : 'update  '}  ${x.name} ${x.installed ?? '?'} -> ${x.candidate}  (${x.source ?? '?'})`,
    );
  w(
    `${p.distribution} (${p.manager}): ${p.packages.length} update(s) pending, ${security.length} of them security update(s)`,
  );
}

export function createOutdatedCommand(deps: OutdatedCommandDeps = {}): Command {
  return {
    name: 'outdated',
    summary: 'count pending updates on a droplet or a snapshot and name the security ones (exit 0/3/4)',
    usage,
    async run(argv, ctx) {
      const { values } = parseOptions(argv, SPEC, { command: 'outdated', usage });
      if ((values.host === undefined) === (values.image === undefined))
        throw new UsageError(
          values.host === undefined ? 'give --host <host> or --image <id>' : 'give --host or --image, not both',
          'mpimg outdated --host 203.0.113.10, or mpimg outdated --image 123456789',
        );
      if (values.host === '') throw new UsageError('--host is empty', 'mpimg outdated --host <droplet-ip>');
      const imageId = values.image === undefined ? undefined : imageIdOption(values.image);
      if (imageId !== undefined && (values['known-hosts'] !== undefined || values['strict-host-keys']))
        throw new UsageError(
          '--known-hosts and --strict-host-keys go with --host',
          'with --image the new droplet is checked with a known_hosts file of this run only',
        );
      const t: Target = {
        user: values.user ?? 'root',
        port: intOption(values.port, 'port', 22, 1, 65535),
        identity: values.identity,
        sshConfig: values['ssh-config'],
        strict: Boolean(values['strict-host-keys']),
        knownHosts: values['known-hosts'],
        attempts: intOption(values['wait-attempts'], 'wait-attempts', imageId === undefined ? 30 : 150, 1, 1000),
        cloudInitMs: intOption(values['cloud-init-timeout'], 'cloud-init-timeout', 600, 0, 7 * 86400) * 1000,
      };
      const json = Boolean(values.json);
      let found: PendingUpdates;
      if (imageId === undefined) {
        found = await check(values.host!, t, ctx, ctx.stderr);
      } else {
        ctx = inProject(ctx, values.project);
        found = await viaImage(imageId, t, ctx, deps);
      }
      report(ctx, found, json, imageId);
      return outdatedExit(found);
    },
  };
}

/** A droplet from the snapshot, made and destroyed by verify's own path; the count runs on it. */
async function viaImage(imageId: number, t: Target, ctx: CommandContext, deps: OutdatedCommandDeps) {
  const manifest = loadManifest(ctx.cwd);
  const client = clientFor(ctx, deps);
  const progress = createProgress(ctx.stderr, { isTTY: ctx.isTTY, prefix: 'mpimg outdated', now: deps.clock?.now });
  let found: PendingUpdates | undefined;
  try {
    const res = await runVerifyPipeline({
      client,
      manifest,
      imageId,
      what: 'outdated',
      now: deps.now,
      cwd: ctx.cwd,
      env: ctx.env,
      stdout: ctx.stderr,
      stderr: ctx.stderr,
      timings: deps.timings,
      onPhase: (p) => progress.phase(p),
      verify: async (b) => {
        progress.suspend();
        // (runDropletStep keeps the token out of process.env meanwhile, as for verify's task)
        found = await check(
          b.ip,
          { ...t, knownHosts: b.knownHostsFile },
          { ...ctx, cwd: b.cwd, signal: b.signal ?? ctx.signal },
          ctx.stderr,
        );
      },
    });
    progress.done(`image ${imageId} checked${res.destroyed ? ', droplet destroyed' : ''}`);
  } finally {
    progress.suspend();
  }
  return found!;
}

export default createOutdatedCommand();
