/**
 * The file transfers of a Connection (put, get, putDir): the sh each runs on the host, the checks of
 * their arguments, and their local halves (the tar stream of a folder, the atomic write of a file got).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, posix, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { MpimgError } from '../../core/errors.js';
import { childEnv } from '../secrets.js';
import { shellQuote } from './quote.js';

export const NO_KEEP_SYMLINK = 'mpimg: the tar on this host has no --keep-directory-symlink (GNU tar 1.27+ is needed)';

/**
 * sh that writes stdin to `remote` atomically with `mode` (4 octal digits), only when exactly `size`
 * bytes arrived: a transfer cut short (lost connection, abort) ends as an EOF here, and must not
 * replace the file with its first part. Exported for the shellcheck test.
 */
export function putScript(remote: string, mode: string, size: number): string {
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`bad size ${size}`);
  const r = shellQuote(remote);
  // The parent is computed here: $(dirname ...) would drop a trailing newline of the folder's name.
  return [
    'set -e',
    // mv onto a folder (or a link to one) would move the file INTO it under its temp name.
    `if [ -d ${r} ]; then printf 'mpimg: %s is a folder on the host\\n' ${r} >&2; exit 1; fi`,
    `mkdir -p -- ${shellQuote(posix.dirname(remote))}`,
    `t=${r}.mpimg-tmp.$$`,
    // Also on the signals a lost session brings: a killed shell skips its EXIT trap.
    `trap 'rm -f -- "$t"' EXIT`,
    "trap 'exit 1' HUP INT TERM PIPE",
    '(umask 077 && cat > "$t")',
    'n=$(wc -c < "$t")',
    `if [ "$((n))" -ne ${size} ]; then printf 'mpimg: %s: %s of ${size} bytes arrived, file left as it was\\n' ${r} "$((n))" >&2; exit 1; fi`,
    `chmod ${mode} -- "$t"`,
    `mv -f -- "$t" ${r}`,
    'trap - EXIT HUP INT TERM PIPE',
  ].join('\n');
}

/** sh that prints the mode of `remote` (of a link's target: stat -L), a newline, then its bytes. */
export function getScript(remote: string): string {
  const r = shellQuote(remote);
  // -L: the mode of what cat reads (a link's own mode is always 0777).
  return `m=$(stat -L -c %a -- ${r}) && printf '%s\\n' "$m" && exec cat -- ${r}`;
}

/** sh that unpacks a tar stream from stdin into `remoteDir`. Exported for the shellcheck test. */
export function putDirScript(remoteDir: string): string {
  const r = shellQuote(remoteDir);
  // --no-overwrite-dir: existing folders keep their mode and owner. --keep-directory-symlink (GNU tar
  // 1.27+): an existing link to a folder stays a link, so files/lib/... lands in usr/lib on a usr-merged
  // host instead of replacing /lib -> usr/lib with a real folder. Without it the copy is refused.
  return [
    'set -e',
    `mkdir -p -- ${r}`,
    `if ! tar --keep-directory-symlink --version >/dev/null 2>&1; then echo ${shellQuote(NO_KEEP_SYMLINK)} >&2; exit 3; fi`,
    `exec tar -C ${r} -x -p -f - --no-same-owner --no-overwrite-dir --keep-directory-symlink`,
  ].join('\n');
}

/** A remote path must be a non-empty string without NUL (argv cannot carry one). */
export function remotePath(p: string, where: string): void {
  if (typeof p !== 'string' || p === '' || p.includes('\0')) {
    throw new MpimgError(`bad remote path ${JSON.stringify(p)}`, {
      where,
      hint: 'give a path on the host, e.g. /etc/app/app.conf',
    });
  }
}

/** The permission bits of `m` as the 4 octal digits chmod takes (file-type bits dropped); refuses NaN and negatives. */
export function fileMode(m: number, where: string): string {
  if (!Number.isInteger(m) || m < 0) {
    throw new MpimgError(`bad file mode ${JSON.stringify(m)}`, {
      where,
      hint: 'give a permission mode such as 0o644 or 0o755',
    });
  }
  return (m & 0o7777).toString(8).padStart(4, '0');
}

/**
 * What getScript printed: the mode line, then the bytes. Undefined when the first line is not a mode
 * (`reported` then says what came instead).
 */
export function splitGot(out: Buffer): { mode?: string; reported: string; data: Buffer } {
  const nl = out.indexOf(0x0a);
  const reported = out.subarray(0, Math.max(nl, 0)).toString('latin1');
  if (nl < 0 || !/^[0-7]{1,4}$/.test(reported)) return { reported, data: Buffer.alloc(0) };
  return { mode: reported, reported, data: out.subarray(nl + 1) };
}

/** Writes `data` to `local` with `mode` (octal digits) through a temp file + rename, creating its folder. */
export function writeLocalAtomically(local: string, data: Buffer, mode: string): void {
  mkdirSync(dirname(resolve(local)), { recursive: true });
  const tmp = `${local}.mpimg-tmp.${process.pid}`;
  try {
    writeFileSync(tmp, data, { mode: 0o600 });
    chmodSync(tmp, parseInt(mode, 8));
    renameSync(tmp, local);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** A local tar of `localDir` on its stdout; `done` resolves to its exit code and `stderr` holds its complaints. */
export function tarFolder(
  localDir: string,
  exclude: readonly string[],
): { stream: Readable; done: Promise<number>; stderr: () => string } {
  // --exclude takes a name pattern in GNU tar and bsdtar alike (e.g. '.gitkeep' anywhere in the tree).
  const tar = spawn('tar', [...exclude.map((p) => `--exclude=${p}`), '-C', localDir, '-cf', '-', '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // macOS tar would add ._ resource-fork files otherwise.
    env: { ...childEnv(), COPYFILE_DISABLE: '1' },
  });
  let err = '';
  tar.stderr!.on('data', (d) => {
    err += String(d);
  });
  const done = new Promise<number>((res, rej) => {
    tar.once('error', rej);
    tar.once('close', (c) => res(c ?? 1));
  });
  return { stream: tar.stdout!, done, stderr: () => err };
}
