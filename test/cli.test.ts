import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeProject } from './helpers/project-fixture.js';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const mpimg = (args: string[], cwd = root) =>
  spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

describe('the mpimg command', () => {
  it('prints its version and help', () => {
    const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
    expect(mpimg(['--version']).stdout).toBe(`${version}\n`);
    const help = mpimg(['--help']);
    expect(help.status).toBe(0);
    for (const c of ['new', 'bundle', 'validate', 'tasks', 'run', 'snapshot', 'image'])
      expect(help.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(mpimg([]).status).toBe(2);
  });

  it('refuses an unknown command with a fix', () => {
    const r = mpimg(['frob']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: unknown command "frob"\n  fix: run `mpimg --help` to see the commands\n');
  });

  it('bundle outside an image project says so, exit 1, and writes nothing', () => {
    const dir = tempDir('mpimg-cli-');
    const r = mpimg(['bundle'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^error: no mpimg\.json in .*\n  where: .*mpimg\.json\n  fix: run this inside an image project/,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('bundle with an unknown option is a usage error (exit 2)', () => {
    const r = mpimg(['bundle', '--bogus'], makeProject());
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown option --bogus\n {2}fix: usage: mpimg bundle \[--project DIR\]/);
  });

  it('validate lists every problem and changes nothing; a good project validates', () => {
    const dir = makeProject();
    expect(mpimg(['validate'], dir).stdout).toMatch(
      /mpimg\.json: ok \(2 first-boot script\(s\), 3 file\(s\), \d+ install operations\)/,
    );
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'mpimg.json'), 'utf8'));
    fs.writeFileSync(
      path.join(dir, 'mpimg.json'),
      JSON.stringify({ ...m, slug: 'Bad', vendor: 'digitalocean', colour: 'blue' }),
    );
    const r = mpimg(['validate'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('3 problems');
    expect(r.stderr).toContain('$.slug: bad slug "Bad"');
    expect(r.stderr).toContain('$.vendor: vendor "digitalocean" is reserved');
    expect(r.stderr).toContain('$.colour: unknown key "colour"');
    expect(fs.existsSync(path.join(dir, 'dist'))).toBe(false);
  });

  it('bundle writes its four files and says how big the bundle is; re-running is safe', () => {
    const dir = makeProject();
    const first = mpimg(['bundle'], dir);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(
      /^wrote dist\/acme-wiki\.cjs \(\d+ bytes: runtime \d+, payload \d+\)\nwrote dist\/acme-wiki-install\.sh\nwrote dist\/acme-wiki-build\.sh \(the build steps of mpimg\.json\)\nwrote dist\/acme-wiki\.pkr\.hcl \(the Packer template, from mpimg\.json\)\n$/,
    );
    const bytes = fs.readFileSync(path.join(dir, 'dist/acme-wiki.cjs'));
    expect(mpimg(['bundle'], dir).status).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'dist/acme-wiki.cjs')).equals(bytes)).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'dist')).sort()).toEqual([
      'acme-wiki-build.sh',
      'acme-wiki-install.sh',
      'acme-wiki.cjs',
      'acme-wiki.pkr.hcl',
    ]);
  });

  it('every command refuses an unknown flag instead of reading it as a folder or ignoring it', () => {
    const dir = makeProject();
    for (const cmd of [
      ['validate'],
      ['bundle'],
      ['tasks'],
      ['new', 'x'],
      ['snapshot'],
      ['image'],
      ['add', 'motd'],
      ['run', 'build'],
    ]) {
      const r = mpimg([...cmd, '--frob'], dir);
      expect(r.status, `${cmd.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, cmd.join(' ')).toMatch(/^error: unknown option --frob\n {2}fix: usage: mpimg /);
    }
    expect(fs.existsSync(path.join(dir, '--frob'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
  });

  it('validate and bundle parse every script with the shell its #! names, naming file and line', () => {
    const dir = makeProject();
    fs.writeFileSync(path.join(dir, 'first-boot/30-db.sh'), '#!/bin/sh\necho start\nif then\n  echo x\nfi\n', {
      mode: 0o755,
    });
    fs.writeFileSync(path.join(dir, 'scripts/20-build.sh'), '#!/usr/bin/env bash\nfor x in; do\n', { mode: 0o755 });
    for (const cmd of ['validate', 'bundle']) {
      const r = mpimg([cmd], dir);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/first-boot\/30-db\.sh:3: sh -n: Syntax error: "then" unexpected/);
      expect(r.stderr).toMatch(/scripts\/20-build\.sh:\d: bash -n: syntax error/);
    }
    expect(fs.existsSync(path.join(dir, 'dist'))).toBe(false);
  });
});
