// Static properties of the two droplet scripts the generator copies and the
// bundle embeds (shellcheck-clean, 0755, LF only, a bash #! line), and of the
// POSIX-sh block helpers the droplet library and the sh installer include.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHECK_SCRIPT, CLEANUP_SCRIPT } from './fixture-root.js';

const BLOCKS = fileURLToPath(new URL('../../templates/droplet/blocks.sh', import.meta.url));

describe.each([
  ['99-img-check.sh', CHECK_SCRIPT],
  ['90-cleanup.sh', CLEANUP_SCRIPT],
])('%s', (_name, file) => {
  it('has no shellcheck findings (any severity)', () => {
    const r = spawnSync('shellcheck', ['--severity=style', '--format=gcc', file], { encoding: 'utf8' });
    expect(r.error, 'shellcheck must be installed (apt-get install shellcheck)').toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('is 0755, LF only, starts with a bash #! line and set -eu', () => {
    expect(statSync(file).mode & 0o777).toBe(0o755);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('\r');
    expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(text).toMatch(/^set -eu$/m);
  });

  it('parses with bash -n and prints usage with --help', () => {
    expect(spawnSync('bash', ['-n', file]).status).toBe(0);
    const help = spawnSync('bash', [file, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: /);
  });

  it('works when fed to bash on stdin, as the runtime bundle may run it', () => {
    const r = spawnSync('bash', ['-s', '--', '--help'], { input: readFileSync(file), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: /);
  });
});

it('the cleanup never calls `cloud-init clean` (it deletes /var/lib/cloud/scripts)', () => {
  const code = readFileSync(CLEANUP_SCRIPT, 'utf8')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  expect(code).not.toMatch(/cloud-init\s+clean/);
});

describe('templates/droplet/blocks.sh', () => {
  it('has no shellcheck findings as POSIX sh (any severity), parses with sh -n, LF only', () => {
    const r = spawnSync('shellcheck', ['--shell=sh', '--severity=style', '--format=gcc', BLOCKS], { encoding: 'utf8' });
    expect(r.error, 'shellcheck must be installed (apt-get install shellcheck)').toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(spawnSync('sh', ['-n', BLOCKS]).status).toBe(0);
    expect(readFileSync(BLOCKS, 'utf8')).not.toContain('\r');
  });
});
