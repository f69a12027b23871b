// templates/droplet/blocks.sh (sourced by the droplet library, pasted into the sh installer) run by
// the real sh on a tiny tmpfs mounted in a private mount namespace: nothing reaches this machine's
// disks, and a full disk is a real one.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupFixtures, tempRoot } from './fixture-root.js';

const BLOCKS = fileURLToPath(new URL('../../templates/droplet/blocks.sh', import.meta.url));
const ID = 'acme-app first-login';
const HEAD = '# ~/.bashrc\nalias ll="ls -l"\n';
const BLOCK = `# >>> mpimg:${ID} >>>\nif [ -t 0 ]; then /opt/acme/acme-app/first-login-run; fi\n# <<< mpimg:${ID} <<<\n`;
// Longer than one tmpfs page, so that with one page free the first part fits and the rest does not.
const TAIL = `${'export PATH="$PATH:/usr/local/bin" # user content\n'.repeat(400)}last line without newline`;
const ORIGINAL = HEAD + BLOCK + TAIL;

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('these tests mount a tmpfs in a private mount namespace and must run as root');
});

interface Outcome {
  rc: number;
  sha: string;
  owner: string;
  mode: string;
  files: string[];
  stderr: string;
  content?: string;
}

/**
 * In a private mount namespace: mounts a 64 KiB tmpfs on a fresh temp dir, writes the .bashrc with
 * the block (owner 1234:5678, mode 0640), optionally fills the tmpfs (leaving `freePages` pages),
 * then runs mpimg_block_remove with the caller's shell options, as first-login-run does (set -u).
 */
function removeOnTmpfs(opts: { fill: boolean; freePages?: number; shellOpts?: string }): Outcome {
  const mnt = tempRoot('mpimg-scripts-blocks-mnt-');
  const script = `
    set -u
    mnt=$1 blocks=$2
    mount -t tmpfs -o size=64k,mode=0755 mpimg-blocks-test "$mnt" || exit 90
    # Refuse to fill anything but the tmpfs just mounted.
    [ "$(stat -f -c %T "$mnt")" = tmpfs ] || exit 91
    f=$mnt/.bashrc
    cat > "$f"
    chown 1234:5678 "$f" && chmod 0640 "$f" || exit 92
    if [ "${opts.fill ? 1 : 0}" = 1 ]; then
      dd if=/dev/zero of="$mnt/fill" bs=4096 count=64 2>/dev/null
      [ "$(stat -f -c %a "$mnt")" = 0 ] || exit 93
      truncate -s "-$((${opts.freePages ?? 0} * 4096))" "$mnt/fill" || exit 94
    fi
    ( set ${opts.shellOpts ?? '-u'}; . "$blocks"; mpimg_block_remove "$f" '${ID}' ); rc=$?
    echo "rc=$rc"
    echo "sha=$(sha256sum < "$f" | cut -d' ' -f1)"
    echo "owner=$(stat -c %u:%g "$f")"
    echo "mode=$(stat -c %a "$f")"
    echo "files=$(ls -A "$mnt" | tr '\\n' ' ')"
    [ "${opts.fill ? 1 : 0}" = 1 ] || { echo "content-begin"; cat "$f"; }
  `;
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', mnt, BLOCKS], {
    input: ORIGINAL,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, LC_ALL: 'C' },
  });
  expect(r.status, r.stderr).toBe(0);
  const [head, content] = r.stdout.split('content-begin\n');
  const v = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(head)?.[1] ?? '';
  return {
    rc: Number(v('rc')),
    sha: v('sha'),
    owner: v('owner'),
    mode: v('mode'),
    files: v('files').trim().split(' ').filter(Boolean).sort(),
    stderr: r.stderr,
    content,
  };
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('mpimg_block_remove on a full disk', () => {
  it.each([
    ['no byte free (the first write fails)', 0],
    ['one page free (the first part fits, the rest does not)', 1],
  ])('%s: fails with the reason on stderr, the file is byte-identical, no temp file left', (_name, freePages) => {
    const o = removeOnTmpfs({ fill: true, freePages });
    expect(o.rc).toBe(1);
    expect(o.sha).toBe(sha(ORIGINAL));
    expect(o.owner).toBe('1234:5678');
    expect(o.mode).toBe('640');
    expect(o.files).toEqual(['.bashrc', 'fill']);
    expect(o.stderr).toMatch(
      new RegExp(
        `mpimg: could not remove the block "mpimg:${ID}" from \\S+/\\.bashrc: .*disk full\\?.*\\.bashrc is unchanged`,
      ),
    );
  });

  it('under set -eu (as in the sh installer) it also fails without touching the file', () => {
    const o = removeOnTmpfs({ fill: true, freePages: 1, shellOpts: '-eu' });
    expect(o.rc).not.toBe(0);
    expect(o.sha).toBe(sha(ORIGINAL));
    expect(o.files).toEqual(['.bashrc', 'fill']);
    expect(o.stderr).toContain('.bashrc is unchanged');
  });
});

describe('mpimg_block_remove with room on the disk', () => {
  it('removes exactly the block and keeps the mode and a non-root owner', () => {
    const o = removeOnTmpfs({ fill: false });
    expect(o.rc, o.stderr).toBe(0);
    expect(o.content).toBe(HEAD + TAIL);
    expect(o.owner).toBe('1234:5678');
    expect(o.mode).toBe('640');
    expect(o.files).toEqual(['.bashrc']);
    expect(o.stderr).toBe('');
  });

  it('is a no-op (exit 0) when the block is gone, and replaces a stale temp file of an interrupted run', () => {
    const dir = tempRoot('mpimg-scripts-blocks-');
    const f = join(dir, '.bashrc');
    const r = spawnSync(
      'sh',
      [
        '-euc',
        `
      . "$1"; f=$2
      printf '%s' "$3" > "$f"
      printf 'half-written' > "$f.mpimg-tmp"
      mpimg_block_remove "$f" '${ID}'
      mpimg_block_remove "$f" '${ID}'
      ls -A "$(dirname "$f")"
    `,
        'sh',
        BLOCKS,
        f,
        ORIGINAL,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('.bashrc\n');
    expect(readFileSync(f, 'utf8')).toBe(HEAD + TAIL);
  });
});
