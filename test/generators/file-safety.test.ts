/**
 * What the generator leaves on disk when a run is cut short, and what it does to the vendor's own
 * JSON files. examples/lamp/Makefile was once left empty by `mpimg upgrade`: the files were written
 * in place (truncate, then write) in parallel with .yo-rc.json's record of their new hashes, so a
 * run that stopped in between left an empty or half-written file recorded as generated, and every
 * later upgrade took it for the vendor's edit. A write that fails part way is reproduced here with
 * a file size limit (`ulimit -f`: writes past it fail with EFBIG, as on a full disk).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, removeDir, tempDir } from './support.js';

const parent = tempDir('mpimg-safety-');
afterAll(() => removeDir(parent));

/** The bin with stdin closed; `limitKiB` caps the size of any file it writes (ulimit -f). */
function mpimg(args: string[], cwd: string, limitKiB?: number) {
  const limit = limitKiB === undefined ? '' : `ulimit -f ${limitKiB}; `;
  return spawnSync('sh', ['-c', `${limit}exec "$0" "$@" 0<&-`, process.execPath, join(REPO, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
  });
}
const read = (dir: string, rel: string) => readFileSync(join(dir, rel), 'utf8');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const rcOf = (dir: string) => JSON.parse(read(dir, '.yo-rc.json'))['generator-mpimg'];

function project(name: string, extra: string[] = []): string {
  const r = mpimg(['new', name, '--yes', '--name', 'Safe Wiki', ...extra], parent);
  expect(r.status, r.stderr).toBe(0);
  return join(parent, name);
}

/** The project as an older release left it: its Makefile is that release's (and recorded so). */
function withOldMakefile(dir: string): string {
  const old = read(dir, 'Makefile').replace(/\nverify:[\s\S]*$/, '\n');
  writeFileSync(join(dir, 'Makefile'), old);
  const rc = JSON.parse(read(dir, '.yo-rc.json'));
  rc['generator-mpimg'].generated.Makefile = sha(old);
  writeFileSync(join(dir, '.yo-rc.json'), `${JSON.stringify(rc, null, 2)}\n`);
  return old;
}

describe('a generated file is never left empty or half written', () => {
  it('an upgrade whose write fails part way leaves the Makefile and the record as they were; the next run refreshes it', () => {
    const dir = project('cut-short');
    const current = read(dir, 'Makefile');
    const old = withOldMakefile(dir);
    expect(Buffer.byteLength(current)).toBeGreaterThan(3 * 1024); // the limit below cuts its write
    const rcBefore = read(dir, '.yo-rc.json');

    const cut = mpimg(['upgrade'], dir, 3);
    expect(cut.status).toBe(1);
    expect(cut.stderr).toContain('could not write Makefile: EFBIG');
    expect(cut.stderr).toContain('Makefile is as it was (files are replaced whole, never left half written)');
    expect(read(dir, 'Makefile')).toBe(old);
    expect(read(dir, '.yo-rc.json')).toBe(rcBefore);
    expect(readdirSync(dir).filter((f) => f.includes('mpimg-tmp'))).toEqual([]);

    const again = mpimg(['upgrade'], dir);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Refreshed \(you had not edited them\):\n {2}Makefile\n/);
    expect(again.stdout).not.toContain('differ');
    expect(read(dir, 'Makefile')).toBe(current);
    expect(rcOf(dir).generated.Makefile).toBe(sha(current));
  });

  it('an empty generated file (what the interrupted write left in examples/lamp) is written again, and validate says so first', () => {
    const dir = project('emptied');
    const current = read(dir, 'Makefile');
    writeFileSync(join(dir, 'Makefile'), '');
    // the record claims the full file, as it did in examples/lamp
    expect(rcOf(dir).generated.Makefile).toBe(sha(current));
    const v = mpimg(['validate'], dir);
    expect(v.stderr).toContain(
      'warning: Makefile is empty, though generator-mpimg wrote it with content (an interrupted write?): `mpimg upgrade` writes it again',
    );
    const up = mpimg(['upgrade'], dir);
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toContain(
      'Written again (they were empty, as an interrupted write leaves a file):\n  Makefile\n',
    );
    expect(up.stdout).not.toContain('differ');
    expect(read(dir, 'Makefile')).toBe(current);
    expect(mpimg(['validate'], dir).stderr).not.toContain('is empty');
  });

  it('a symlink where a generated file goes is replaced by the file, never written through', () => {
    const dir = project('linked');
    const outside = join(parent, 'outside.txt');
    writeFileSync(outside, "not the project's\n");
    const rc = JSON.parse(read(dir, '.yo-rc.json'));
    rc['generator-mpimg'].generated['.editorconfig'] = sha('old\n');
    writeFileSync(join(dir, '.yo-rc.json'), `${JSON.stringify(rc, null, 2)}\n`);
    spawnSync('ln', ['-sf', outside, join(dir, '.editorconfig')]);
    const r = mpimg(['upgrade', '--force'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(outside, 'utf8')).toBe("not the project's\n");
    expect(statSync(join(dir, '.editorconfig')).isFile()).toBe(true);
  });
});

describe("mpimg.json stays the vendor's text", () => {
  // Compact arrays, an odd key order and spacing, as a vendor writes it by hand.
  const vendorText = (m: Record<string, any>) =>
    [
      '{',
      `  "name": ${JSON.stringify(m.name)}, "slug": ${JSON.stringify(m.slug)}, "vendor": ${JSON.stringify(m.vendor)},`,
      `  "$schema": ${JSON.stringify(m.$schema)},`,
      '  "version": "2.0.0",',
      `  "distributions": [${m.distributions.map((d: string) => JSON.stringify(d)).join(',')}],`,
      '  "build": {"packages": {"all": ["nginx","curl"], "apt": ["ufw"], "dnf": ["firewalld"]}, "scriptsDir": "scripts"},',
      '  "firewall": {"limit": ["22/tcp"], "allow": ["80/tcp"]},',
      '  "firstLogin": null, "motd": {"file": "motd.txt"}, "files": {"dir": "files"}, "loginHold": false,',
      '  "droplet": {"region": "nyc3", "size": "s-1vcpu-512mb-10gb"}',
      '}',
      '',
    ].join('\n');

  it('upgrade and new . leave it byte-identical and never print "force mpimg.json"; add first-login changes only its key', () => {
    const dir = project('compact');
    const text = vendorText(JSON.parse(read(dir, 'mpimg.json')));
    writeFileSync(join(dir, 'mpimg.json'), text);
    const before = statSync(join(dir, 'mpimg.json')).mtimeMs;
    for (const args of [['upgrade'], ['new', '.'], ['new', '.', '--yes']]) {
      const r = mpimg(args, dir);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/force|mpimg\.json/);
      expect(read(dir, 'mpimg.json'), args.join(' ')).toBe(text);
    }
    expect(statSync(join(dir, 'mpimg.json')).mtimeMs).toBe(before);

    const add = mpimg(['add', 'first-login'], dir);
    expect(add.status, add.stderr).toBe(0);
    expect(read(dir, 'mpimg.json')).toBe(
      text.replace('"firstLogin": null', '"firstLogin": {"file":"first-login/first-login.sh"}'),
    );

    // a new answer changes its key and nothing else
    const ports = mpimg(['new', '.', '--ports', '80/tcp,443/tcp'], dir);
    expect(ports.status, ports.stderr).toBe(0);
    expect(read(dir, 'mpimg.json')).toBe(
      text
        .replace('"firstLogin": null', '"firstLogin": {"file":"first-login/first-login.sh"}')
        .replace('"allow": ["80/tcp"]', '"allow": ["80/tcp","443/tcp"]'),
    );
    expect(existsSync(join(dir, 'mpimg.json'))).toBe(true);
  });
});
