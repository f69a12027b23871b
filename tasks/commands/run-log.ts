/**
 * The log file of `mpimg run` (as PACKER_LOG_PATH is Packer's): everything the run printed, stdout
 * and stderr in the order they were written, with a header and the result, so a long build can be read
 * again or attached to a report. It holds exactly what the terminal showed: a command a task runs
 * quietly (or without echo, as with a secret) is no more in the log than on the screen, and a
 * known token value is masked in both.
 *
 * Where: --log FILE, else $MPIMG_LOG_PATH (both appended to), else a new file
 * <project>/dist/logs/<task>-<UTC time>.log (0600; dist/ is never committed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { MpimgError } from '../../core/errors.js';

export const LOG_PATH_ENV = 'MPIMG_LOG_PATH';

/** One listener on a stream's writes: `mask` may change the text, `onText` sees what was written. */
export interface WriteTap {
  mask(text: string): string;
  onText(text: string): void;
}

interface Tapped {
  original: Writable['write'];
  patched: Writable['write'];
  taps: Set<WriteTap>;
}

const TAPPED = new WeakMap<Writable, Tapped>();

/** Text of a write's chunk, or undefined for what is not text or bytes (object mode). */
function chunkText(chunk: unknown, enc: unknown): string | undefined {
  if (typeof chunk === 'string')
    return typeof enc === 'string' && !/^utf-?8$/i.test(enc)
      ? Buffer.from(chunk, enc as BufferEncoding).toString('utf8')
      : chunk;
  if (chunk instanceof Uint8Array)
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
  return undefined;
}

/**
 * Sees (and may mask) every write to `stream`, including console.log's when the stream is
 * process.stdout: a vendor's task may print that way. Taps on one stream share one patch (runs of
 * `mpimg image --all` overlap in one process); the last one removed puts the stream back.
 * Returns the function that removes this tap.
 */
export function tapWrites(stream: Writable, tap: WriteTap): () => void {
  let t = TAPPED.get(stream);
  if (!t) {
    const original = stream.write;
    const taps = new Set<WriteTap>();
    const patched = function (this: Writable, chunk: unknown, enc?: unknown, cb?: unknown): boolean {
      const text = chunkText(chunk, enc);
      if (text === undefined) return (original as (...a: unknown[]) => boolean).call(this, chunk, enc, cb);
      let shown = text;
      for (const x of taps) shown = x.mask(shown);
      for (const x of taps) x.onText(shown);
      // Bytes go on unchanged unless something was masked in them.
      if (shown === text) return (original as (...a: unknown[]) => boolean).call(this, chunk, enc, cb);
      return (original as (...a: unknown[]) => boolean).call(this, shown, 'utf8', typeof enc === 'function' ? enc : cb);
    } as Writable['write'];
    t = { original, patched, taps };
    TAPPED.set(stream, t);
    stream.write = patched;
  }
  const entry = t;
  entry.taps.add(tap);
  return () => {
    entry.taps.delete(tap);
    if (entry.taps.size > 0) return;
    TAPPED.delete(stream);
    if (stream.write === entry.patched) stream.write = entry.original;
  };
}

/** Shorter values are not masked: they would hide ordinary words (a real token is 71 characters). */
const MIN_MASKED = 8;

/**
 * Replaces every occurrence of each secret (longest first, so one inside another is masked whole):
 * `secrets` of MIN_MASKED characters or more, and every one of `exact` (build secrets, whose length
 * tasks/build-secrets.ts checked when they were given).
 */
export function masker(secrets: string[], exact: readonly string[] = []): (text: string) => string {
  const list = [...new Set([...secrets.filter((s) => s.length >= MIN_MASKED), ...exact.filter(Boolean)])].sort(
    (a, b) => b.length - a.length,
  );
  return (text) => list.reduce((t, s) => (t.includes(s) ? t.split(s).join('[redacted]') : t), text);
}

const ESCAPES = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** `YYYYMMDD-HHMMSS` in UTC, as in snapshot names. */
const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

export interface RunLogOptions {
  project: string;
  task: string;
  /** --log FILE (resolved against `cwd`), or $MPIMG_LOG_PATH; undefined: the default file. */
  given?: { value: string; from: string };
  cwd: string;
  now: Date;
}

export interface RunLog {
  /** The file, absolute. */
  file: string;
  /** Appends text; on the first failure (a full disk) returns why, and the log takes no more. */
  write(text: string): string | undefined;
  close(footer: string): void;
}

/** Opens `file` for appending (0600 when new); a folder or an unwritable place is an error. */
function openGiven(file: string, from: string): number {
  let folder = false;
  try {
    folder = fs.statSync(file).isDirectory();
  } catch {
    /* not there yet: open makes it */
  }
  if (folder)
    throw new MpimgError(`${from} ${JSON.stringify(file)} is a folder`, {
      where: file,
      hint: `give a file name, e.g. ${path.join(file, 'build.log')}`,
      exitCode: 2,
    });
  try {
    return fs.openSync(file, 'a', 0o600);
  } catch (err) {
    throw new MpimgError(
      `${from}: cannot write ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      {
        where: file,
        hint: 'give a file in a folder that exists and that you can write to (or --no-log)',
        exitCode: 2,
      },
    );
  }
}

/** A new file in <project>/dist/logs: never an existing file (nor a link put in its place). */
function openDefault(project: string, task: string, now: Date): { fd: number; file: string } {
  const dir = path.join(project, 'dist', 'logs');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = `${task.replace(/[^a-z0-9_-]/g, '-')}-${stamp(now)}`;
  for (let n = 1; ; n++) {
    const file = path.join(dir, `${base}${n > 1 ? `-${n}` : ''}.log`);
    try {
      return {
        fd: fs.openSync(
          file,
          fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
          0o600,
        ),
        file,
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 100) throw err;
    }
  }
}

/**
 * Opens the log. A --log or $MPIMG_LOG_PATH that cannot be written is an error (it was asked for);
 * the default file that cannot be made returns the reason instead, and the run goes on without a log.
 */
export function openRunLog(o: RunLogOptions): RunLog | { failed: string } {
  let fd: number;
  let file: string;
  if (o.given) {
    file = path.resolve(o.cwd, o.given.value);
    fd = openGiven(file, o.given.from);
  } else {
    try {
      ({ fd, file } = openDefault(o.project, o.task, o.now));
    } catch (err) {
      return {
        failed: `cannot write a log in ${path.join(o.project, 'dist', 'logs')} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      };
    }
  }
  let broken = false;
  const log: RunLog = {
    file,
    write(text) {
      if (broken) return undefined;
      try {
        fs.writeSync(fd, text.replace(ESCAPES, ''));
        return undefined;
      } catch (err) {
        // A full disk stops the log, not the build.
        broken = true;
        return `the log ${file} stopped: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
    },
    close(footer) {
      try {
        if (!broken) fs.writeSync(fd, footer);
      } catch {
        /* reported when the first write failed */
      } finally {
        fs.closeSync(fd);
      }
    },
  };
  return log;
}
