/**
 * One droplet of one run (a build droplet of `mpimg image`, a verify droplet of `mpimg verify`):
 * created once (a lost answer is looked up by the run's tag, never sent twice), waited for until it
 * is active with a public IPv4, handed to the work, and destroyed ALWAYS afterwards (failure,
 * Ctrl-C), unless kept, in which case the way to delete it is printed.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Manifest } from '../../runtime/manifest.js';
import { MpimgError } from '../../core/errors.js';
import { childEnv, withTokensStashed } from './child-env.js';
import { isGpuSize, type DoClient } from './client.js';
import { throwIfAborted } from './clock.js';
import { AbortedError, DoApiError } from './errors.js';
import { seconds, type PhaseFn } from './snapshot.js';
import type { BuildStep, DropletSession } from './step.js';
import type { CreateDropletRequest, Droplet } from './types.js';

/** DigitalOcean's tag rule (letters, digits, `:`, `-`, `_`; at most 255). */
export const TAG_RE = /^[a-zA-Z0-9_:-]{1,255}$/;

/** The public IPv4 address, only if it is one: it becomes an ssh argument. */
export function publicIPv4(d: Droplet): string | undefined {
  const ip = d.networks?.v4?.find((n) => n.type === 'public')?.ip_address;
  return typeof ip === 'string' && isIPv4(ip) ? ip : undefined;
}

export interface DropletInfo {
  id: number;
  name: string;
  ip: string;
}

export interface RunDropletOptions<T> {
  client: DoClient;
  request: CreateDropletRequest;
  /** This run's own tag (among request.tags): cleanup goes by it. */
  tag: string;
  /** "build droplet", "verify droplet": how messages name it. */
  label: string;
  keep?: boolean;
  timings: { activeTimeoutMs: number; pollMs: number };
  phase: PhaseFn;
  stderr: Writable;
  work: (droplet: Droplet, ip: string) => Promise<T>;
  /** What else to say after Ctrl-C (e.g. that a snapshot had been started). */
  abortNotes?: () => string[];
  /** The error for a droplet that could not be destroyed (with the work's result, when it finished). */
  leftError?: (
    message: string,
    opts: { where: string; hint: string },
    result: T | undefined,
    droplet: DropletInfo | undefined,
  ) => MpimgError;
}

export interface RunDropletResult<T> {
  result: T;
  droplet: DropletInfo;
  destroyed: boolean;
}

/** The manifest's extra tags, refused before anything is created: a bad one could cost the droplet all its tags. */
export function checkDropletTags(m: Manifest): void {
  (m.droplet?.tags ?? []).forEach((tg, i) => {
    if (!TAG_RE.test(tg)) {
      throw new MpimgError(`bad droplet tag "${tg}"`, {
        where: `$.droplet.tags[${i}] in mpimg.json`,
        hint: 'DigitalOcean tags are 1-255 letters, digits, ":", "-" or "_" (no spaces)',
      });
    }
  });
}

/**
 * $.droplet.sshKeys as the API takes them: ids as integers (also when written as "123"), fingerprints
 * as strings, like godo, doctl and Terraform send them.
 */
export function manifestSshKeys(m: Manifest): Array<string | number> {
  const keys: ReadonlyArray<string | number> = m.droplet?.sshKeys ?? [];
  return keys.map((k) =>
    typeof k === 'string' && /^\d+$/.test(k.trim()) && Number.isSafeInteger(Number(k.trim())) ? Number(k.trim()) : k,
  );
}

/** $.droplet.sshKeys, else every key of the account (a droplet nobody can log into is no use). */
export async function sshKeysFor(
  client: DoClient,
  m: Manifest,
  phase: PhaseFn,
  what = 'the build droplet',
): Promise<Array<string | number>> {
  const keys = manifestSshKeys(m);
  if (keys.length) return keys;
  phase("reading the account's SSH keys");
  const found = (await client.listSshKeys()).map((k) => k.fingerprint);
  if (found.length === 0) {
    throw new MpimgError(`the DigitalOcean account has no SSH keys, so ${what} could not be reached`, {
      where: '$.droplet.sshKeys in mpimg.json',
      hint: 'add your public key with `doctl compute ssh-key import` (or in the control panel), or list key fingerprints in $.droplet.sshKeys',
    });
  }
  return found;
}

export async function withRunDroplet<T>(o: RunDropletOptions<T>): Promise<RunDropletResult<T>> {
  const { client, request: req, tag, label, phase } = o;
  const run: RunState<T> = { ip: '', failed: undefined, done: false };
  try {
    phase(`creating ${label} ${req.name} (${req.image}, ${req.region}, ${req.size}, tag ${tag})`);
    // finishInFlight: after Ctrl-C the answer still tells which droplet to destroy.
    run.droplet = await client.createDroplet(req, {
      findByTag: tag,
      finishInFlight: true,
      onSend: (t) => {
        run.sentAt ??= t;
      },
    });
    throwIfAborted(client.signal);
    await waitActive(o, run, run.droplet.id);
    run.result = await o.work(run.droplet, run.ip);
    run.done = true;
  } catch (err) {
    // Ctrl-C surfaces as whatever the interrupted step threw; report it as one clear abort.
    run.failed = client.signal?.aborted && !(err instanceof AbortedError) ? new AbortedError() : err;
  }
  const info = run.droplet ? { id: run.droplet.id, name: req.name, ip: run.ip } : undefined;
  const { destroyedOk, notes } = await release(o, run, info);
  notes.push(...(o.abortNotes?.() ?? []));
  if (run.failed instanceof AbortedError && (run.droplet || notes.length)) {
    const parts = ['aborted'];
    if (run.droplet)
      parts.push(
        o.keep
          ? `${label} ${run.droplet.id} kept`
          : destroyedOk
            ? `${label} ${run.droplet.id} destroyed`
            : `${label} ${run.droplet.id} NOT destroyed`,
      );
    parts.push(...notes);
    run.failed = new AbortedError(parts.join('; '));
  } else if (run.failed) {
    for (const n of notes) o.stderr.write(`note: ${n}\n`);
  }
  if (run.failed) throw run.failed;
  return { result: run.result as T, droplet: info!, destroyed: destroyedOk };
}

/** How far one run got: the droplet (once its create answered), its IPv4, the work's result or failure. */
interface RunState<T> {
  droplet?: Droplet;
  ip: string;
  /** When the (first) create went out, in the API server's time; undefined while it has not. */
  sentAt?: number;
  failed: unknown;
  done: boolean;
  result?: T;
}

/** Polls the new droplet until it is active with a public IPv4 (kept in `run` as it goes, for cleanup). */
async function waitActive<T>(o: RunDropletOptions<T>, run: RunState<T>, id: number): Promise<void> {
  const { client, label } = o;
  o.phase(`waiting for droplet ${id} to become active`);
  const start = client.clock.now();
  for (;;) {
    const droplet = (run.droplet = await client.getDroplet(id));
    run.ip = publicIPv4(droplet) ?? '';
    if (droplet.status === 'active' && run.ip) return;
    if (client.clock.now() - start >= o.timings.activeTimeoutMs) {
      throw new MpimgError(
        `${label} ${droplet.id} did not become active with a public IPv4 within ${seconds(o.timings.activeTimeoutMs)} (status ${droplet.status}, ${run.ip ? `IPv4 ${run.ip}` : 'no public IPv4'})`,
        {
          where: `droplet ${droplet.id}`,
          hint: 'try another region ($.droplet.region) or run again later',
        },
      );
    }
    await client.clock.sleep(o.timings.pollMs, client.signal);
  }
}

/**
 * After the work: keeps the droplet (--keep) or destroys every droplet of the run, also one a lost
 * create answer may have made. A droplet left behind becomes run.failed (or goes to stderr after an
 * earlier failure); what the user should know goes into the notes.
 */
async function release<T>(
  o: RunDropletOptions<T>,
  run: RunState<T>,
  info: DropletInfo | undefined,
): Promise<{ destroyedOk: boolean; notes: string[] }> {
  const { client, request: req, tag, label, phase } = o;
  const { droplet, sentAt, ip, failed } = run;
  // A create that went out and failed other than by a refusal may have made a droplet we have no id for.
  const unsure = !droplet && sentAt !== undefined && !(failed instanceof DoApiError && !failed.unknownEffect);
  const gpu = isGpuSize(req.size);
  // By name only what a create of ours may have made: nothing when none went out.
  const lookup = { tag, name: sentAt === undefined ? undefined : req.name, sentAt, gpu };
  const notes: string[] = [];
  if (o.keep) {
    if (droplet)
      phase(
        `keeping ${label} ${droplet.id} (${ip || 'no IP yet'}): delete it with \`doctl compute droplet delete ${droplet.id}\``,
      );
    else if (unsure) notes.push(leakNote(lookup, '--keep leaves it where it is'));
    return { destroyedOk: false, notes };
  }
  const destroyed = await destroyRunDroplets(client, droplet, lookup, unsure, label, phase);
  const found = destroyed.destroyed.filter((id) => id !== droplet?.id);
  if (found.length)
    notes.push(`${label} ${found.join(', ')} of this run, made by a create whose answer was lost, found and destroyed`);
  if (destroyed.unseen)
    notes.push(
      leakNote(lookup, `none showed up within ${seconds(client.retry.lookupTries * client.retry.lookupPollMs)}`),
    );
  if (!destroyed.ok) {
    const which = destroyed.left.length ? destroyed.left.join(', ') : `tagged ${tag}`;
    const msg = `could not destroy ${label}(s) ${which}: ${destroyed.why}`;
    const opts = {
      where: `droplet ${which}`,
      hint: destroyed.left.length
        ? `delete it yourself: doctl compute droplet delete ${destroyed.left.join(' ')}`
        : `check \`${listCommand(lookup)}\` and delete what is left`,
    };
    const err = o.leftError?.(msg, opts, run.done ? run.result : undefined, info) ?? new MpimgError(msg, opts);
    if (failed) o.stderr.write(`${err.format()}\n`);
    else run.failed = err;
  }
  return { destroyedOk: destroyed.ok, notes };
}

interface RunLookup {
  tag: string;
  name?: string;
  sentAt?: number;
  gpu: boolean;
}

/** How to list this run's droplets with doctl (GPU droplets are listed apart, and not by tag). */
function listCommand(l: RunLookup): string {
  return l.gpu
    ? `doctl compute droplet list --gpus --format ID,Name,Tags | grep ${l.tag}`
    : `doctl compute droplet list --tag-name ${l.tag}`;
}

function leakNote(l: RunLookup, why: string): string {
  return `the answer to the create request was lost, so a droplet tagged ${l.tag}${l.name ? ` (named ${l.name})` : ''} may exist: ${why}; check \`${listCommand(l)}\` in a few minutes and delete what it lists`;
}

/**
 * Deletes the droplet we created and any other droplet of this run (a create whose answer was lost may
 * have made one we have no id for): those carrying the run's own tag, or the run's own name made since
 * the create went out. Never by a shared tag or an older droplet of the name: those may be others'.
 * When a create's answer was lost (`unsure`), the droplets are looked for again for a bounded time,
 * since a new one takes a while to show up; `unseen` says none did. Runs without the abort signal:
 * Ctrl-C must still clean up.
 */
async function destroyRunDroplets(
  client: DoClient,
  droplet: Droplet | undefined,
  l: RunLookup,
  unsure: boolean,
  label: string,
  phase: PhaseFn,
): Promise<{ ok: boolean; left: number[]; destroyed: number[]; why?: string; unseen: boolean }> {
  const ids = new Set<number>();
  if (droplet) ids.add(droplet.id);
  const left: number[] = [];
  const gone: number[] = [];
  let why: string | undefined;
  let unseen = false;
  try {
    if (unsure)
      phase(
        `looking for a droplet tagged ${l.tag}${l.name ? ` or named ${l.name}` : ''} (the create's answer was lost)`,
      );
    const found = unsure
      ? await client.lookForRunDroplets(l, { signal: null })
      : await client.findRunDroplets(l, { signal: null });
    for (const d of found) ids.add(d.id);
    unseen = unsure && found.length === 0;
  } catch (err) {
    // Only a problem when we do not even know the id of the droplet we made.
    if (!droplet && unsure)
      why = `cannot look for droplets tagged ${l.tag}: ${err instanceof Error ? err.message : String(err)}`;
  }
  for (const id of ids) {
    phase(`destroying ${label} ${id}`);
    try {
      await client.deleteDroplet(id, { signal: null });
      gone.push(id);
    } catch (err) {
      left.push(id);
      why = err instanceof Error ? err.message : String(err);
    }
  }
  return { ok: left.length === 0 && why === undefined, left, destroyed: gone, why, unseen };
}

export interface StepRun extends DropletSession {
  graceMs: number;
  /** "build", "verify": how messages name the step. */
  what: string;
  /** Prefix of the grace message, e.g. "mpimg image". */
  prog: string;
  step: BuildStep;
}

/** A step over SSH with a private known_hosts file and without the API token anywhere in reach. */
export async function runDropletStep(b: StepRun): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mpimg-run-'));
  try {
    chmodSync(dir, 0o700);
    const knownHostsFile = join(dir, 'known_hosts');
    writeFileSync(knownHostsFile, '', { mode: 0o600 });
    const step = withTokensStashed(() =>
      b.step({
        ip: b.ip,
        droplet: b.droplet,
        cwd: b.cwd,
        env: childEnv(b.env),
        stdout: b.stdout,
        stderr: b.stderr,
        signal: b.signal,
        knownHostsFile,
      }),
    );
    await settleOrAbandon(step, b.signal, b.graceMs, () => {
      b.stderr.write(
        `${b.prog}: the ${b.what} step did not stop within ${seconds(b.graceMs)} of Ctrl-C; cleaning up without it\n`,
      );
    });
  } catch (err) {
    if (err instanceof MpimgError || b.signal?.aborted) throw err;
    throw new MpimgError(`the ${b.what} step failed: ${err instanceof Error ? err.message : String(err)}`, {
      where: `droplet ${b.droplet.id} (${b.ip})`,
      hint: `read the output above; \`${b.prog} --keep\` keeps the droplet for debugging`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Waits for `p`; once the signal fires, waits at most `graceMs` more. A step that ignores Ctrl-C
 * must not keep the droplet (and its bill) alive: cleanup goes ahead and `p` is left to end on its own.
 */
async function settleOrAbandon(
  p: Promise<void>,
  signal: AbortSignal | undefined,
  graceMs: number,
  onAbandon: () => void,
): Promise<void> {
  if (!signal) return p;
  p.catch(() => {
    /* a late failure after we moved on is not news */
  });
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const abandoned = new Promise<void>((_resolve, reject) => {
    onAbort = () => {
      timer = setTimeout(() => {
        onAbandon();
        reject(new AbortedError());
      }, graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([p, abandoned]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  }
}
