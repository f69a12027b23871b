/**
 * `mpimg image --all` / `--distributions a,b`: one image per distribution, at most --parallel at a
 * time, each with its own droplets and its output lines prefixed [<distribution>]; one table at the end.
 */
import { Writable } from 'node:stream';
import type { Manifest } from '../../runtime/manifest.js';
import { MpimgError } from '../../core/errors.js';
import type { DoClient } from '../do/client.js';
import { AbortedError } from '../do/errors.js';
import { alignColumns, formatListUser } from '../do/format.js';
import { snapshotNameFor } from '../do/plan.js';
import { createProgress } from '../do/progress.js';
import { listingDistribution, writeImageRecords, type ImageRecord } from '../do/release.js';
import type { Image } from '../do/types.js';
import { errText, oneImage, recordOf, type ImageCommandDeps, type ImageFlags } from './image-one.js';
import { releaseImage } from './release.js';
import type { CommandContext } from './types.js';

type Row = ImageRecord & { image?: Image };

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

const ended = (s: Writable) =>
  new Promise<void>((r) => {
    s.end(r);
  });

/** Builds every distribution, `parallel` at a time; the rows in the order of `dists`. */
async function buildEach(
  ctx: CommandContext,
  deps: ImageCommandDeps,
  client: DoClient,
  manifest: Manifest,
  values: ImageFlags,
  o: { now: Date; parallel: number; dists: string[] },
): Promise<Row[]> {
  const json = Boolean(values.json);
  const out = json ? ctx.stderr : ctx.stdout;
  const rows = new Map<string, Row>();
  const queue = [...o.dists];
  const worker = async () => {
    for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
      const tag = `[${d}] `;
      const stdout = prefixLines(out, tag);
      const stderr = prefixLines(ctx.stderr, tag);
      // Several builds at once: plain progress lines (a ticking line per build would garble the terminal).
      const progress = createProgress(stderr, { isTTY: false, prefix: 'mpimg image', now: deps.clock?.now });
      const start = Date.now();
      const one = await oneImage({
        ctx,
        deps,
        client,
        manifest: { ...manifest, droplet: { ...manifest.droplet, image: d } },
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
      rows.set(d, { ...recordOf(d, one, start), image: one.image });
      await ended(stdout);
      await ended(stderr);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.parallel, o.dists.length) }, worker));
  return o.dists.map((d) => rows.get(d)!);
}

/** The outcome: the rows as JSON, or the list-user lines of the good images and a table of all. */
function printAll(ctx: CommandContext, rows: Row[], values: ImageFlags): void {
  const records = rows.map(({ image: _image, ...r }) => r);
  if (values.json) {
    ctx.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    return;
  }
  const good = rows.filter((r) => r.ok && r.image).map((r) => r.image!);
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

export async function runAll(
  ctx: CommandContext,
  deps: ImageCommandDeps,
  client: DoClient,
  manifest: Manifest,
  values: ImageFlags,
  o: { now: Date; parallel: number; reason?: string; dists: string[] },
): Promise<number> {
  const rows = await buildEach(ctx, deps, client, manifest, values, o);
  writeImageRecords(
    ctx.cwd,
    rows.map(({ image: _image, ...r }) => r),
    manifest.version,
  );
  printAll(ctx, rows, values);
  if (ctx.signal.aborted)
    throw new AbortedError(
      `aborted; every build and verify droplet of this run was cleaned up as its own run says above`,
    );
  const failed = rows.filter((r) => !r.ok);
  if (failed.length) {
    throw new MpimgError(
      `${failed.length} of ${rows.length} distribution(s) failed: ${failed.map((r) => r.distribution).join(', ')}`,
      {
        where: 'mpimg image --all',
        hint: `the others succeeded; see the lines prefixed [<distribution>] above${values.release ? '; nothing was released' : ''}`,
      },
    );
  }
  if (values.release) {
    const imageId = rows.find((r) => r.distribution === listingDistribution(manifest))!.imageId!;
    await releaseImage(ctx, deps, { manifest, imageId, reason: o.reason!, client });
  }
  return 0;
}
