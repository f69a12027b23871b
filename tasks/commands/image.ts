import { Writable } from 'node:stream';
import type { Manifest } from '../../runtime/manifest.js';
import { runTaskBuildStep } from './task-step.js';
import { apiBaseUrl, clientFor, printImage, type DoCommandDeps } from './do-support.js';
import type { DoClient } from '../do/client.js';
import { AbortedError } from '../do/errors.js';
import { alignColumns, formatListUser } from '../do/format.js';
import { BuildDropletLeftError, runImagePipeline, type BuildStep, type PipelineTimings } from '../do/pipeline.js';
import { createProgress, type Progress } from '../do/progress.js';
import { loadManifest } from '../do/project.js';
import { imagePlan, renderPlan, snapshotNameFor } from '../do/plan.js';
import {
  listingDistribution,
  releaseBody,
  releaseVariables,
  writeImageRecords,
  type ImageRecord,
} from '../do/release.js';
import { COMMAND_SCOPES } from '../do/scopes.js';
import type { Image } from '../do/types.js';
import { checkCollector, runVerifyPipeline, summarise } from '../do/verify.js';
import { MpimgError, UsageError } from '../../core/errors.js';
import { reasonOption, releaseImage } from './release.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import type { Command, CommandContext } from './types.js';
import { defaultVerifyStep } from './verify.js';

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
  --json            print the image object (with --all: the table; with --dry-run: the plan) as JSON
                    instead of the list-user line
${projectHelp()}

Token: DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, or doctl's config (access-token; DIGITALOCEAN_CONFIG
names another config file). A custom-scoped token needs these scopes:
  ${COMMAND_SCOPES.image.join(', ')}
API endpoint: DIGITALOCEAN_API_URL, else api-url of doctl's config, else DigitalOcean's.
`;

export interface ImageCommandDeps extends DoCommandDeps {
  /** Runs the project's build task on the droplet; default: \`mpimg run build --host <ip> --user root\`. */
  build?: BuildStep;
  /** Runs the project's verify task (--verify); default: \`mpimg run verify --host <ip> --user root\`. */
  verify?: BuildStep;
  timings?: Partial<PipelineTimings>;
}

interface Flags {
  keep?: boolean;
  json?: boolean;
  verify?: boolean;
  release?: boolean;
  reason?: string;
  all?: boolean;
  distributions?: string;
  parallel?: string;
  'dry-run'?: boolean;
}

/** Writes every line to `target` with `prefix` in front (partial lines wait for their end). */
export function prefixLines(target: Writable, prefix: string): Writable {
  let partial = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      if (lines.length) target.write(lines.map((l) => `${prefix}${l.replace(/^\r?\x1b\[2K/, '')}\n`).join(''));
      cb();
    },
    final(cb) {
      if (partial) target.write(`${prefix}${partial}\n`);
      cb();
    },
  });
}

interface OneOptions {
  ctx: CommandContext;
  deps: ImageCommandDeps;
  /** One client per command, made before any step runs (a build step takes the token out of process.env). */
  client: DoClient;
  manifest: Manifest;
  name: string;
  keep: boolean;
  verify: boolean;
  json: boolean;
  stdout: Writable;
  stderr: Writable;
  progress: Progress;
  now: Date;
}

interface OneResult {
  image?: Image;
  verify: ImageRecord['verify'];
  error?: unknown;
}

/** One image: build (and snapshot) it, then verify the snapshot when asked. */
async function oneImage(o: OneOptions): Promise<OneResult> {
  const { ctx, deps, progress, client } = o;
  const build = deps.build ?? runTaskBuildStep();
  let image: Image | undefined;
  try {
    const res = await runImagePipeline({
      client,
      manifest: o.manifest,
      snapshotName: o.name,
      keep: o.keep,
      now: () => o.now,
      cwd: ctx.cwd,
      env: ctx.env,
      stdout: o.stdout,
      stderr: o.stderr,
      timings: deps.timings,
      onPhase: (p) => progress.phase(p),
      build: async (b) => {
        progress.suspend();
        await build(b);
      },
    });
    image = res.image;
    progress.done(`image ${res.image.id} "${res.image.name}" ready${res.destroyed ? ', build droplet destroyed' : ''}`);
  } catch (err) {
    // The image was made but the droplet is left: the image still counts, the run fails.
    if (err instanceof BuildDropletLeftError && err.result) {
      progress.done(
        `image ${err.result.image.id} "${err.result.image.name}" ready, but the build droplet was not destroyed`,
      );
      return { image: err.result.image, verify: 'not run', error: err };
    }
    return { verify: 'not run', error: err };
  } finally {
    progress.suspend();
  }
  if (!o.verify) return { image, verify: 'not run' };
  const step = deps.verify ?? defaultVerifyStep();
  const collect = checkCollector();
  try {
    await collect.run(() =>
      runVerifyPipeline({
        client,
        manifest: o.manifest,
        imageId: image.id,
        keep: o.keep,
        now: () => o.now,
        cwd: ctx.cwd,
        env: ctx.env,
        stdout: o.stdout,
        stderr: o.stderr,
        timings: deps.timings,
        onPhase: (p) => progress.phase(p),
        prog: 'mpimg image --verify',
        verify: async (b) => {
          progress.suspend();
          await step(b);
        },
      }),
    );
    progress.done(
      `image ${image.id} verified: ${summarise(collect.checks()).result === 'warn' ? 'passed with warnings' : 'passed'}`,
    );
    return { image, verify: 'passed' };
  } catch (err) {
    progress.suspend();
    if (err instanceof AbortedError) return { image, verify: 'failed', error: err };
    const failed = collect
      .checks()
      .filter((c) => c.status === 'fail')
      .map((c) => c.id);
    const e = new MpimgError(
      `verify failed${failed.length ? ` (${failed.join(', ')})` : ''}: the snapshot ${image.id} "${image.name}" is kept, not ready to submit`,
      {
        where: `image ${image.id}`,
        hint: `${err instanceof MpimgError ? `${err.message}; ` : ''}fix the image and build it again; delete the snapshot with \`doctl compute image delete ${image.id}\``,
      },
    );
    return { image, verify: 'failed', error: e };
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function parallelOption(v: string | undefined): number {
  if (v === undefined) return 3;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 20)
    throw new UsageError(`--parallel must be a whole number from 1 to 20, got "${v}"`, 'e.g. --parallel 3');
  return Number(v);
}

export function createImageCommand(deps: ImageCommandDeps = {}): Command {
  return {
    name: 'image',
    summary: 'create a build droplet, build, snapshot and destroy it (--verify, --release, --all)',
    usage,
    async run(argv, ctx) {
      const { values } = parseOptions(
        argv,
        {
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
        },
        { command: 'image', usage },
      );
      ctx = inProject(ctx, values.project);
      if (values.all && values.distributions !== undefined)
        throw new UsageError(
          'give --all or --distributions, not both',
          'mpimg image --all, or mpimg image --distributions debian-12-x64,ubuntu-24-04-x64',
        );
      if (values.reason !== undefined && !values.release)
        throw new UsageError('--reason goes with --release', 'mpimg image --release --reason "..."');
      const parallel = parallelOption(values.parallel);
      const manifest = loadManifest(ctx.cwd);
      const now = deps.now?.() ?? new Date();
      let reason: string | undefined;
      // A release that cannot happen is said before anything is built.
      if (values.release) {
        reason = reasonOption(values.reason);
        if (!manifest.listing?.appId)
          throw new MpimgError('--release: mpimg.json names no Marketplace listing', {
            where: '$.listing.appId in mpimg.json',
            hint: 'add "listing": {"appId": "<the id from the listing\'s URL in the Vendor Portal>"}, or leave out --release',
          });
        releaseBody(manifest, 1, reason);
      }
      const dists =
        values.all || values.distributions !== undefined ? chooseDistributions(manifest, values) : undefined;
      if (values['dry-run']) return printPlan(ctx, manifest, values, { now, reason, dists });
      // One token and one client for the whole command, resolved before any build step runs: a step
      // takes the token variables out of process.env meanwhile, where a later worker would miss them.
      const client = clientFor(ctx, deps);
      if (dists) return runAll(ctx, deps, client, manifest, values, { now, parallel, reason, dists });

      const json = Boolean(values.json);
      const progress = createProgress(ctx.stderr, { isTTY: ctx.isTTY, prefix: 'mpimg image', now: deps.clock?.now });
      const start = Date.now();
      const one = await oneImage({
        ctx,
        deps,
        client,
        manifest,
        name: snapshotNameFor(manifest, now),
        keep: Boolean(values.keep),
        verify: Boolean(values.verify),
        json,
        // --json keeps stdout for the JSON alone.
        stdout: json ? ctx.stderr : ctx.stdout,
        stderr: ctx.stderr,
        progress,
        now,
      });
      const dist = manifest.droplet?.image ?? manifest.distributions[0];
      writeImageRecords(
        ctx.cwd,
        [
          {
            distribution: dist,
            imageId: one.image?.id,
            imageName: one.image?.name,
            verify: one.verify,
            ok: !one.error,
            minutes: Math.round((Date.now() - start) / 600) / 100,
            ...(one.error ? { error: errText(one.error) } : {}),
          },
        ],
        manifest.version,
      );
      // A verify that failed keeps the snapshot: its id, not the line to submit.
      if (one.image && one.verify !== 'failed') printImage(ctx, one.image, json);
      if (one.error) throw one.error;
      if (values.release) await releaseImage(ctx, deps, { manifest, imageId: one.image!.id, reason: reason!, client });
      return 0;
    },
  };
}

/** --all or --distributions: which of $.distributions to build, each once. */
function chooseDistributions(manifest: Manifest, values: Flags): string[] {
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
  values: Flags,
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

async function runAll(
  ctx: CommandContext,
  deps: ImageCommandDeps,
  client: DoClient,
  manifest: Manifest,
  values: Flags,
  o: { now: Date; parallel: number; reason?: string; dists: string[] },
): Promise<number> {
  const unique = o.dists;
  const json = Boolean(values.json);
  const out = json ? ctx.stderr : ctx.stdout;
  const rows = new Map<string, ImageRecord & { image?: Image }>();
  const queue = [...unique];
  const worker = async () => {
    for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
      const tag = `[${d}] `;
      const stdout = prefixLines(out, tag);
      const stderr = prefixLines(ctx.stderr, tag);
      // Several builds at once: plain progress lines (a ticking line per build would garble the terminal).
      const progress = createProgress(stderr, { isTTY: false, prefix: 'mpimg image', now: deps.clock?.now });
      const start = Date.now();
      const m: Manifest = { ...manifest, droplet: { ...manifest.droplet, image: d } };
      const one = await oneImage({
        ctx,
        deps,
        client,
        manifest: m,
        name: snapshotNameFor(manifest, o.now, d),
        keep: Boolean(values.keep),
        verify: Boolean(values.verify),
        json,
        stdout,
        stderr,
        progress,
        now: o.now,
      });
      if (one.error && !(one.error instanceof AbortedError))
        stderr.write(`${one.error instanceof MpimgError ? one.error.format() : errText(one.error)}\n`);
      rows.set(d, {
        distribution: d,
        imageId: one.image?.id,
        imageName: one.image?.name,
        image: one.image,
        verify: one.verify,
        ok: !one.error,
        minutes: Math.round((Date.now() - start) / 600) / 100,
        ...(one.error ? { error: errText(one.error) } : {}),
      });
      await new Promise<void>((r) => {
        stdout.end(r);
      });
      await new Promise<void>((r) => {
        stderr.end(r);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.parallel, unique.length) }, worker));
  const records = unique.map((d) => rows.get(d)!);
  writeImageRecords(
    ctx.cwd,
    records.map(({ image: _image, ...r }) => r),
    manifest.version,
  );
  const good = records.filter((r) => r.ok && r.image).map((r) => r.image!);
  if (json) {
    ctx.stdout.write(
      `${JSON.stringify(
        records.map(({ image: _i, ...r }) => r),
        null,
        2,
      )}\n`,
    );
  } else {
    if (good.length) ctx.stdout.write(`${formatListUser(good)}\n\n`);
    const table = [
      ['Distribution', 'Image ID', 'Verify', 'Minutes', 'Result'],
      ...records.map((r) => [
        r.distribution,
        r.imageId === undefined ? '-' : String(r.imageId),
        values.verify ? r.verify : 'not run',
        r.minutes.toFixed(1),
        r.ok ? 'ok' : `FAILED: ${(r.error ?? '').split('\n')[0]}`,
      ]),
    ];
    ctx.stdout.write(`${alignColumns(table)}\n`);
  }
  if (ctx.signal.aborted)
    throw new AbortedError(
      `aborted; every build and verify droplet of this run was cleaned up as its own run says above`,
    );
  const failed = records.filter((r) => !r.ok);
  if (failed.length) {
    throw new MpimgError(
      `${failed.length} of ${records.length} distribution(s) failed: ${failed.map((r) => r.distribution).join(', ')}`,
      {
        where: 'mpimg image --all',
        hint: `the others succeeded; see the lines prefixed [<distribution>] above${values.release ? '; nothing was released' : ''}`,
      },
    );
  }
  if (values.release) {
    const imageId = records.find((r) => r.distribution === listingDistribution(manifest))!.imageId!;
    await releaseImage(ctx, deps, { manifest, imageId, reason: o.reason!, client });
  }
  return 0;
}

export default createImageCommand();
