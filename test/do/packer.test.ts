import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN, tempDir } from './support.js';

const TEMPLATE = new URL('../../templates/project/packer/image.pkr.hcl.ejs', import.meta.url);

interface Vars {
  slug: string; name: string; vendor: string; version: string; image: string; region: string; size: string;
  packages: string[]; distroFamily: 'apt' | 'dnf'; packerPlugin?: boolean;
}
const BASE: Vars = {
  slug: 'acme-wiki', name: 'Acme Wiki', vendor: 'acme', version: '1.2.0', image: 'debian-12-x64', region: 'fra1',
  size: 's-1vcpu-512mb-10gb', packages: ['nginx', 'php-fpm'], distroFamily: 'apt',
};

function render(v: Partial<Vars> = {}): string {
  return ejs.render(readFileSync(TEMPLATE, 'utf8'), { ...BASE, ...v });
}

let project: ReturnType<typeof tempDir>;
let packerHome: string;

/** Packer with no network, no plugin downloads, no checkpoint calls and a throwaway HOME. */
function packer(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync('packer', args, {
    cwd: project.dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: packerHome, PACKER_PLUGIN_PATH: join(packerHome, 'plugins'), CHECKPOINT_DISABLE: '1', ...env },
  });
}

function writeTemplate(file: string, text: string): string {
  const p = join(project.dir, 'packer', file);
  writeFileSync(p, text);
  return `packer/${file}`;
}

beforeAll(() => {
  try {
    execFileSync('packer', ['version'], { stdio: 'pipe' });
  } catch {
    throw new Error('packer is not installed, so the generated Packer template cannot be checked: install it (Debian: `apt-get install packer`; .ci/run installs it) and run the tests again');
  }
  project = tempDir('mpimg-packer-');
  packerHome = join(project.dir, '.home');
  for (const d of ['packer', 'files/etc/acme-wiki', 'scripts', 'dist', '.home']) mkdirSync(join(project.dir, d), { recursive: true });
  writeFileSync(join(project.dir, 'files/etc/acme-wiki/README'), 'hi\n');
  for (const s of ['10-configure.sh', '90-cleanup.sh', '99-img-check.sh']) writeFileSync(join(project.dir, 'scripts', s), '#!/bin/sh\nset -eu\n', { mode: 0o755 });
  writeFileSync(join(project.dir, 'dist/acme-wiki.cjs'), '// bundle\n');
  writeFileSync(join(project.dir, 'dist/acme-wiki-install.sh'), '#!/bin/sh\n');
});
afterAll(() => project?.cleanup());

describe('Packer template (packer/<slug>.pkr.hcl)', () => {
  for (const distroFamily of ['apt', 'dnf'] as const) {
    it(`passes packer fmt -check and packer validate (${distroFamily})`, () => {
      const file = writeTemplate(`${distroFamily}.pkr.hcl`, render({ distroFamily, image: distroFamily === 'dnf' ? 'rockylinux-9-x64' : 'debian-12-x64' }));
      const fmt = packer(['fmt', '-check', '-diff', file]);
      expect(fmt.stdout + fmt.stderr, 'packer fmt -check').toBe('');
      expect(fmt.status).toBe(0);
      // Either variable carries the token, as for `mpimg image`.
      for (const name of ['DIGITALOCEAN_TOKEN', 'DIGITALOCEAN_ACCESS_TOKEN']) {
        const v = packer(['validate', file], { [name]: TOKEN });
        expect(v.stdout + v.stderr, `packer validate with ${name}`).not.toMatch(/Error/);
        expect(v.stdout + v.stderr).not.toContain(TOKEN);
        expect(v.status).toBe(0);
      }
    });
  }

  it('is validated for real: no token or a missing bundle fails packer validate with a clear message', () => {
    const file = writeTemplate('apt.pkr.hcl', render());
    const noToken = packer(['validate', file]);
    expect(noToken.status).not.toBe(0);
    expect(noToken.stdout + noToken.stderr).toMatch(/api_token/);
    rmSync(join(project.dir, 'dist/acme-wiki.cjs'));
    try {
      const noBundle = packer(['validate', file], { DIGITALOCEAN_TOKEN: TOKEN });
      expect(noBundle.status).not.toBe(0);
      expect(noBundle.stdout + noBundle.stderr).toMatch(/dist\/acme-wiki\.cjs/);
    } finally {
      writeFileSync(join(project.dir, 'dist/acme-wiki.cjs'), '// bundle\n');
    }
  });

  it('the plugin variant (Packer 1.7+) turns the droplet agent off and is formatted', () => {
    const text = render({ packerPlugin: true });
    expect(text).toMatch(/required_plugins \{[\s\S]*source {2}= "github.com\/digitalocean\/digitalocean"/);
    expect(text).toMatch(/^ {2}droplet_agent +=\s*false$/m);
    const fmt = packer(['fmt', '-check', '-diff', writeTemplate('plugin.pkr.hcl', text)]);
    expect(fmt.stdout + fmt.stderr).toBe('');
    expect(fmt.status).toBe(0);
  });

  it('runs the build task\'s steps in order, with the manifest values and no token', () => {
    const text = render();
    const steps = [
      'cloud-init status --wait', 'rm -rf /opt/digitalocean', 'dist-upgrade', "install 'nginx' 'php-fpm'",
      'dist/acme-wiki-files.tar', 'tar --no-same-owner --no-overwrite-dir -xpf', '90-cleanup.sh|99-img-check.sh) continue',
      'install --remove-self', 'script          = "${local.project}/scripts/90-cleanup.sh"', 'script          = "${local.project}/scripts/99-img-check.sh"',
    ];
    const at = steps.map((s) => text.indexOf(s));
    expect(at.every((i) => i >= 0), JSON.stringify(steps.filter((_, i) => at[i] < 0))).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(text).toContain('default   = env("DIGITALOCEAN_TOKEN")');
    expect(text).toContain('default   = env("DIGITALOCEAN_ACCESS_TOKEN")');
    expect(text).toContain('sensitive = true');
    expect(text).toMatch(/ssh_username += "root"/);
    expect(text).toMatch(/region += var\.region/);
    expect(text).toContain('default = "fra1"');
    expect(text).toContain('"acme-wiki-1.2.0-${formatdate("YYYYMMDD-hhmmss", timestamp())}"');
    expect(text).not.toMatch(/dop_v1_|api_token\s*=\s*"/);
    const dnf = render({ distroFamily: 'dnf', packages: [] });
    expect(dnf).toContain('dnf -y upgrade --refresh');
    expect(dnf).not.toContain('apt-get -y -q -o DPkg::Lock::Timeout=900 -o');
    expect(dnf).not.toContain('dnf -y install');
  });

  it('escapes HCL template markers coming from the manifest', () => {
    const text = render({ region: 'x${evil}%{if}' });
    expect(text).toContain('default = "x$${evil}%%{if}"');
  });
});
