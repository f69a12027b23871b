/**
 * The Packer template `mpimg bundle` writes (dist/<slug>.pkr.hcl) from mpimg.json, checked with the
 * real packer of this machine. That is Debian's Packer 1.6.6, older than the template's target
 * (current Packer, which needs the DigitalOcean plugin declared): before `packer validate`, only the
 * things 1.6.6 cannot parse or refuses are taken out, the `packer { required_version, required_plugins }`
 * block and `droplet_agent = false` (checked as text below and in test/bundle/packer-template.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { makeProject } from '../helpers/project-fixture.js';
import { runPacker } from '../helpers/packer-run.js';
import { tempDir } from '../helpers/temp.js';
import { TOKEN } from './support.js';

let packerHome: string;

/** Packer with no network, no plugin downloads, no checkpoint calls and a throwaway HOME. */
const packer = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  runPacker(cwd, args, {
    home: packerHome,
    timeout: 60_000,
    env: { PACKER_PLUGIN_PATH: join(packerHome, 'plugins'), ...env },
  });

/** What Packer 1.6.6 cannot parse (or refuses: required_version), and only that. */
function forOldPacker(text: string): string {
  const stripped = text
    .replace(
      /^packer \{\n(?: {2}#.*\n)* {2}required_version = "[^"\n]*"\n {2}required_plugins \{\n[\s\S]*?\n {2}\}\n\}\n/m,
      '',
    )
    .replace(/^ {2}droplet_agent += false\n/m, '');
  expect(stripped.length).toBeLessThan(text.length - 100);
  return stripped;
}

/** A project bundled from this manifest: its dir and the template text. */
function bundled(manifest: Partial<Manifest> = {}): { dir: string; text: string; file: string } {
  const dir = makeProject({ manifest });
  const r = writeBundle(loadProject(dir));
  return { dir, text: readFileSync(r.packer, 'utf8'), file: r.packer };
}

beforeAll(() => {
  try {
    execFileSync('packer', ['version'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      'packer is not installed, so the generated Packer template cannot be checked: install it (Debian: `apt-get install packer`; .ci/run installs it) and run the tests again',
    );
  }
  packerHome = tempDir('mpimg-packer-home-');
  mkdirSync(join(packerHome, 'plugins'));
});

describe('Packer template (dist/<slug>.pkr.hcl, written by mpimg bundle)', () => {
  for (const distro of ['debian-12-x64', 'rockylinux-9-x64']) {
    it(`passes packer fmt -check and packer validate (${distro})`, () => {
      const { dir, text } = bundled({ distributions: [distro] });
      const check = join(dir, 'dist', 'check.pkr.hcl');
      writeFileSync(check, forOldPacker(text));
      const fmt = packer(dir, ['fmt', '-check', '-diff', 'dist/acme-wiki.pkr.hcl']);
      expect(fmt.stdout + fmt.stderr, 'packer fmt -check').toBe('');
      expect(fmt.status).toBe(0);
      for (const name of ['DIGITALOCEAN_ACCESS_TOKEN', 'DIGITALOCEAN_TOKEN']) {
        const v = packer(dir, ['validate', 'dist/check.pkr.hcl'], { [name]: TOKEN });
        expect(v.stdout + v.stderr, `packer validate with ${name}`).not.toMatch(/Error/);
        expect(v.stdout + v.stderr).not.toContain(TOKEN);
        expect(v.status).toBe(0);
      }
    });
  }

  it('targets current Packer: the DigitalOcean plugin declared, the droplet agent off', () => {
    const { text } = bundled();
    expect(text).toMatch(
      /^packer \{\n(?: {2}#.*\n)* {2}required_version = ">= 1\.7\.0"\n {2}required_plugins \{\n {4}digitalocean = \{\n {6}version = ">= [\d.]+"\n {6}source {2}= "github.com\/digitalocean\/digitalocean"/m,
    );
    expect(text).toMatch(/^ {2}droplet_agent += false$/m);
  });

  it('agrees with mpimg on the token: DIGITALOCEAN_ACCESS_TOKEN wins over DIGITALOCEAN_TOKEN; none is an error', () => {
    const { text } = bundled();
    expect(text).toContain('token         = var.do_access_token != "" ? var.do_access_token : var.do_token');
    expect(text).toContain('default   = env("DIGITALOCEAN_ACCESS_TOKEN")');
    expect(text).toContain('default   = env("DIGITALOCEAN_TOKEN")');
    expect(text).not.toMatch(/dop_v1_|api_token\s*=\s*"/);
    const { dir, text: t2 } = bundled();
    writeFileSync(join(dir, 'dist/check.pkr.hcl'), forOldPacker(t2));
    const none = packer(dir, ['validate', 'dist/check.pkr.hcl']);
    expect(none.status).not.toBe(0);
    expect(none.stdout + none.stderr).toMatch(/api_token/);
  });

  it('is written from mpimg.json: a changed manifest and `mpimg bundle` change it', () => {
    const a = bundled({
      version: '1.2.3',
      droplet: { region: 'fra1', size: 's-1vcpu-1gb' },
      build: { packages: ['nginx', 'php-fpm'] },
    });
    expect(a.text).toContain('default = "fra1"');
    expect(a.text).toContain('default = "s-1vcpu-1gb"');
    expect(a.text).toContain("install 'nginx' 'php-fpm'");
    expect(a.text).toContain('"acme-wiki-1.2.3-${formatdate("YYYYMMDD-hhmmss", timestamp())}"');
    expect(a.text).toContain('"MPIMG_VERSION=1.2.3"');
    expect(a.text).toMatch(/^# GENERATED by `mpimg bundle` from mpimg\.json/);
    const m = JSON.parse(readFileSync(join(a.dir, 'mpimg.json'), 'utf8'));
    m.version = '2.0.0';
    m.build.packages = ['apache2'];
    m.droplet.region = 'ams3';
    writeFileSync(join(a.dir, 'mpimg.json'), JSON.stringify(m));
    const again = readFileSync(writeBundle(loadProject(a.dir)).packer, 'utf8');
    expect(again).toContain('default = "ams3"');
    expect(again).toContain("install 'apache2'");
    expect(again).not.toContain("'nginx'"); // the package (a step's comment may name nginx -t)
    expect(again).toContain('"MPIMG_VERSION=2.0.0"');
  });

  it("runs the build task's steps in order with the sh twin", () => {
    const { text } = bundled();
    const steps = [
      'cloud-init status',
      'rm -rf /opt/digitalocean',
      'dist-upgrade',
      "install 'jq'",
      'install --only seeded',
      "for f in '10-install.sh'; do",
      'acme-wiki-install.sh install"',
      'acme-wiki-install.sh cleanup',
      'acme-wiki-install.sh check',
    ];
    const at = steps.map((s) => text.indexOf(s));
    expect(
      at.every((i) => i >= 0),
      JSON.stringify(steps.filter((_, i) => at[i] < 0)),
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // the wait for cloud-init is bounded, never a bare --wait
    expect(text).not.toContain('status --wait');
    expect(text).toContain('variable "cloud_init_timeout"');
    const dnf = bundled({ distributions: ['rockylinux-9-x64'], build: { packages: [] } }).text;
    expect(dnf).toContain('dnf -y upgrade --refresh');
    expect(dnf).not.toContain('dnf -y install');
  });

  it("runs the build script's catalog steps where the build task does, with the bundle's variables; still valid", () => {
    const manifest = {
      variables: { APP_VERSION: '2.4.1', GREETING: 'say "hi" ${x}' },
      users: [{ name: 'acme' }],
      firewall: { limit: ['22/tcp'] },
      build: { packages: ['jq', 'ufw'] },
    } as Partial<Manifest>;
    const { dir, text } = bundled(manifest);
    const steps = [
      'dist-upgrade',
      'acme-wiki-build.sh repositories',
      "install 'jq' 'ufw'",
      'acme-wiki-build.sh users',
      'install --only seeded',
      'acme-wiki-build.sh owners',
      "for f in '10-install.sh'; do",
      'acme-wiki-install.sh install"',
      'acme-wiki-build.sh services',
      'acme-wiki-build.sh firewall',
      'acme-wiki-install.sh cleanup',
      'acme-wiki-install.sh check',
    ];
    const at = steps.map((s) => text.indexOf(s));
    expect(
      at.every((i) => i >= 0),
      JSON.stringify(steps.filter((_, i) => at[i] < 0)),
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // the script is the one `mpimg bundle` wrote next to the template, uploaded before it is used
    expect(text).toContain('source      = "${path.root}/acme-wiki-build.sh"');
    expect(text.indexOf('destination = "${local.work}/acme-wiki-build.sh"')).toBeLessThan(
      text.indexOf('acme-wiki-build.sh repositories'),
    );
    // variables: the build scripts' environment, HCL-escaped
    expect(text).toContain('environment_vars = ["APP_VERSION=2.4.1", "GREETING=say \\"hi\\" $${x}", "MPIMG_ROOT=/"');
    writeFileSync(join(dir, 'dist/check.pkr.hcl'), forOldPacker(text));
    const fmt = packer(dir, ['fmt', '-check', '-diff', 'dist/acme-wiki.pkr.hcl']);
    expect(fmt.stdout + fmt.stderr, 'packer fmt -check').toBe('');
    const v = packer(dir, ['validate', 'dist/check.pkr.hcl'], { DIGITALOCEAN_TOKEN: TOKEN });
    expect(v.stdout + v.stderr).not.toMatch(/Error/);
    expect(v.status).toBe(0);
    // a variable given to `mpimg bundle` is what Packer's build scripts get
    const again = readFileSync(writeBundle(loadProject(dir, { overrides: { APP_VERSION: '2.5.0' } })).packer, 'utf8');
    expect(again).toContain('"APP_VERSION=2.5.0"');
    expect(again).not.toContain('2.4.1');
  });

  it('escapes HCL template markers coming from the manifest', () => {
    const { text } = bundled({ name: 'x${evil}%{if}' });
    expect(text).toContain('"MPIMG_NAME=x$${evil}%%{if}"');
  });

  it('keeps a scripts folder of mpimg.json as text: Packer never evaluates `${...}` from it (the snapshot name cannot hold one: schema)', () => {
    const dir = makeProject({
      manifest: {
        snapshot: { name: 'leak-%-{slug}-{timestamp}' },
        build: { packages: ['jq'], scriptsDir: 'steps-${var.do_token}' },
      },
    });
    mkdirSync(join(dir, 'steps-${var.do_token}'));
    writeFileSync(join(dir, 'steps-${var.do_token}/10-a.sh'), '#!/bin/sh\necho a\n', { mode: 0o755 });
    const text = readFileSync(writeBundle(loadProject(dir)).packer, 'utf8');
    expect(text).toContain('"leak-%-acme-wiki-${formatdate(');
    expect(text).toContain('source      = "${local.project}/steps-$${var.do_token}/10-a.sh"');
    writeFileSync(join(dir, 'dist/check.pkr.hcl'), forOldPacker(text));
    // What Packer makes of it, with a token in the environment: the literal text, no token, no secret marker.
    const c = runPacker(dir, ['console', 'dist/check.pkr.hcl'], {
      home: packerHome,
      timeout: 60_000,
      input: 'local.snapshot_name\n',
      env: { PACKER_PLUGIN_PATH: join(packerHome, 'plugins'), DIGITALOCEAN_ACCESS_TOKEN: TOKEN },
    });
    expect(c.stdout + c.stderr).not.toContain(TOKEN);
    expect(c.stdout.trim()).toMatch(/^leak-%-acme-wiki-\d{8}-\d{6}$/);
    expect(c.status).toBe(0);
    const v = packer(dir, ['validate', 'dist/check.pkr.hcl'], { DIGITALOCEAN_TOKEN: TOKEN });
    expect(v.stdout + v.stderr).not.toMatch(/Error/);
    expect(v.status).toBe(0);
  });
});
