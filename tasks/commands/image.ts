import type { Manifest } from '../../runtime/manifest.js';
import { MpimgError, UsageError } from '../../core/errors.js';
import type { DoClient } from '../do/client.js';
import { imagePlan, renderPlan, snapshotNameFor } from '../do/plan.js';
import { createProgress } from '../do/progress.js';
import { loadManifest } from '../do/project.js';
import { listingDistribution, releaseBody, releaseVariables, writeImageRecords } from '../do/release.js';
import { COMMAND_SCOPES } from '../do/scopes.js';
import { apiBaseUrl, clientFor, printImage } from './do-support.js';
import { runAll } from './image-all.js';
import { oneImage, recordOf, type ImageCommandDeps, type ImageFlags } from './image-one.js';
import { loadBuildSecrets, parseSecretOptions } from '../build-secrets.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import { reasonOption, releaseImage } from './release.js';
import type { Command, CommandContext } from './types.js';

export type { ImageCommandDeps } from './image-one.js';

const usage = `Usage: mpimg image [--verify] [--release --reason "<text>"] [--all | --distributions a,b] [--parallel N] [--keep] [--dry-run] [--json]

The whole path in one command, from ./mpimg.json: create a build droplet (base image, region, smallest
size, your account's SSH keys, droplet agent/monitoring/IPv6 off, tags mpimg-build and mpimg-run:<id>
of this run), wait until it is active, run the \`build\` task on it over SSH (with a known_hosts file of
this run only, and without the API token in its environment), snapshot it, and destroy it at the end,
also when a step fails or on Ctrl-C. Only this run's droplet is destroyed: parallel runs are safe.
What was made is recorded in dist/images.json (for \`mpimg release --images\` and CI artifacts).

Options:
  --verify          then check the snapshot on a droplet made from it (\`mpimg verify\`) before
                    printing the line to submit; a failed verify keeps the snapshot and says so
  --release         then point the listing ($.listing.appId) at the new image (\`mpimg release\`)
  --reason <text>   the reason of the release, for DigitalOcean's reviewers
  --all             one image per entry of $.distributions, in parallel, each with its own
                    droplets; one table at the end; exit 1 when any failed
  --distributions a,b  like --all, for these entries of $.distributions
  --parallel N      at most N builds at a time with --all (default 3)
  --keep            keep the build droplet (e.g. to debug a failed build); delete it yourself afterwards
  --dry-run         print the exact requests and the steps a run would make, and stop: needs no
                    token, sends nothing ({droplet_id} and the like stand for what the API answers)
  --secret NAME=@FILE  a build secret's value ($.build.secrets), as \`mpimg run --secret\` takes it
                    (also NAME=env:VAR, or MPIMG_BUILD_SECRET_NAME); checked before any droplet is made
  --json            print the image object (with --all: the table; with --dry-run: the plan) as JSON
                    instead of the list-user line
${projectHelp()}

Token: DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, or doctl's config (access-token; DIGITALOCEAN_CONFIG
names another config file). A custom-scoped token needs these scopes:
  ${COMMAND_SCOPES.image.join(', ')}
API endpoint: DIGITALOCEAN_API_URL, else api-url of doctl's config, else DigitalOcean's.
`;

const OPTIONS = {
  ...PROJECT_OPTION,
  keep: { type: 'boolean' },
  json: { type: 'boolean' },
  verify: { type: 'boolean' },
  release: { type: 'boolean' },
  reason: { type: 'string' },
  all: { type: 'boolean' },
  distributions: { type: 'string' },
  parallel: { type: 'string' },
  'dry-run': { type: 'boolean' },
  secret: { type: 'string', multiple: true },
} as const;

function parallelOption(v: string | undefined): number {
  if (v === undefined) return 3;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 20)
    throw new UsageError(`--parallel must be a whole number from 1 to 20, got "${v}"`, 'e.g. --parallel 3');
  return Number(v);
}

/** Flags that do not go together, and a release that cannot happen, said before anything is built. */
function checkFlags(manifest: Manifest, values: ImageFlags): { reason?: string } {
  if (!values.release) return {};
  const reason = reasonOption(values.reason);
  if (!manifest.listing?.appId)
    throw new MpimgError('--release: mpimg.json names no Marketplace listing', {
      where: '$.listing.appId in mpimg.json',
      hint: 'add "listing": {"appId": "<the id from the listing\'s URL in the Vendor Portal>"}, or leave out --release',
    });
  releaseBody(manifest, 1, reason);
  return { reason };
}

function checkUsage(values: ImageFlags): void {
  if (values.all && values.distributions !== undefined)
    throw new UsageError(
      'give --all or --distributions, not both',
      'mpimg image --all, or mpimg image --distributions debian-12-x64,ubuntu-24-04-x64',
    );
  if (values.reason !== undefined && !values.release)
    throw new UsageError('--reason goes with --release', 'mpimg image --release --reason "..."');
}

/** The image of $.droplet.image (or the first distribution): built, recorded, printed, released. */
async function runOne(
  ctx: CommandContext,
  deps: ImageCommandDeps,
  client: DoClient,
  manifest: Manifest,
  values: ImageFlags,
  o: { now: Date; reason?: string },
): Promise<number> {
  const json = Boolean(values.json);
  const progress = createProgress(ctx.stderr, { isTTY: ctx.isTTY, prefix: 'mpimg image', now: deps.clock?.now });
  const start = Date.now();
  const one = await oneImage({
    ctx,
    deps,
    client,
    manifest,
    name: snapshotNameFor(manifest, o.now),
    keep: Boolean(values.keep),
    verify: Boolean(values.verify),
    json,
    // --json keeps stdout for the JSON alone.
    stdout: json ? ctx.stderr : ctx.stdout,
    stderr: ctx.stderr,
    progress,
    now: o.now,
  });
  const dist = manifest.droplet?.image ?? manifest.distributions[0];
  writeImageRecords(ctx.cwd, [recordOf(dist, one, start)], manifest.version);
  // A verify that failed keeps the snapshot: its id, not the line to submit.
  if (one.image && one.verify !== 'failed') printImage(ctx, one.image, json);
  if (one.error) throw one.error;
  if (values.release) await releaseImage(ctx, deps, { manifest, imageId: one.image!.id, reason: o.reason!, client });
  return 0;
}

export function createImageCommand(deps: ImageCommandDeps = {}): Command {
  return {
    name: 'image',
    summary: 'create a build droplet, build, snapshot and destroy it (--verify, --release, --all)',
    usage,
    async run(argv, ctx) {
      const { values } = parseOptions(argv, OPTIONS, { command: 'image', usage });
      ctx = inProject(ctx, values.project);
      checkUsage(values);
      const parallel = parallelOption(values.parallel);
      const manifest = loadManifest(ctx.cwd);
      const now = deps.now?.() ?? new Date();
      const { reason } = checkFlags(manifest, values);
      const dists =
        values.all || values.distributions !== undefined ? chooseDistributions(manifest, values) : undefined;
      if (values['dry-run']) return printPlan(ctx, manifest, values, { now, reason, dists });
      // Every build secret has its value before a droplet is made; the builds' `mpimg run` takes them.
      const restoreSecrets = loadBuildSecrets(
        manifest,
        parseSecretOptions(values.secret ?? [], ctx.env, ctx.cwd),
        ctx.env,
      );
      try {
        // One token and one client for the whole command, resolved before any build step runs: a step
        // takes the token variables out of process.env meanwhile, where a later worker would miss them.
        const client = clientFor(ctx, deps);
        if (dists) return await runAll(ctx, deps, client, manifest, values, { now, parallel, reason, dists });
        return await runOne(ctx, deps, client, manifest, values, { now, reason });
      } finally {
        restoreSecrets();
      }
    },
  };
}

/** --all or --distributions: which of $.distributions to build, each once. */
function chooseDistributions(manifest: Manifest, values: ImageFlags): string[] {
  const dists = values.all
    ? manifest.distributions
    : values
        .distributions!.split(',')
        .map((d) => d.trim())
        .filter(Boolean);
  if (dists.length === 0)
    throw new UsageError('--distributions names none', `e.g. --distributions ${manifest.distributions.join(',')}`);
  const unknown = dists.filter((d) => !manifest.distributions.includes(d));
  if (unknown.length)
    throw new UsageError(
      `not in $.distributions of mpimg.json: ${unknown.join(', ')}`,
      `pick from ${manifest.distributions.join(', ')} (or add them there)`,
    );
  const unique = [...new Set(dists)];
  if (values.release && !unique.includes(listingDistribution(manifest))) {
    throw new MpimgError(
      `--release: the listing's distribution ${listingDistribution(manifest)} is not among those built`,
      { where: '--distributions', hint: 'build it too, or set $.listing.distribution' },
    );
  }
  return unique;
}

/** --dry-run: the exact requests and steps of the run, per distribution; no token, nothing sent. */
function printPlan(
  ctx: CommandContext,
  manifest: Manifest,
  values: ImageFlags,
  o: { now: Date; reason?: string; dists?: string[] },
): number {
  const baseUrl = apiBaseUrl(ctx.env);
  const release = values.release
    ? { appId: manifest.listing!.appId!, reason: o.reason!, variables: releaseVariables(ctx.cwd, manifest, ctx.env) }
    : undefined;
  const plans = (o.dists ?? [undefined]).map((d) => ({
    distribution: d ?? manifest.droplet?.image ?? manifest.distributions[0],
    requests: imagePlan({
      manifest,
      baseUrl,
      cwd: ctx.cwd,
      now: o.now,
      distribution: d,
      verify: Boolean(values.verify),
      // With --all only the listing's distribution is released.
      release: release && (d === undefined || d === listingDistribution(manifest)) ? release : undefined,
    }),
  }));
  if (values.json) {
    ctx.stdout.write(`${JSON.stringify(plans, null, 2)}\n`);
  } else {
    ctx.stdout.write(
      "# mpimg image --dry-run: nothing is sent. A run makes these requests and steps; {droplet_id},\n# {droplet_ip}, {action_id} and {image_id} come from the API's answers, and each run has its own run id.\n",
    );
    for (const p of plans)
      ctx.stdout.write(
        `\n# [${p.distribution}]${plans.length > 1 ? ' (builds run in parallel, each like this)' : ''}\n${renderPlan(p.requests)}\n`,
      );
  }
  return 0;
}

export default createImageCommand();
