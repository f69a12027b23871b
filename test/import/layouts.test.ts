import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { D1C, entry, importFixture, MP, mpimg, validateAndBundle } from './support.js';

const EXAMPLES = ['first-boot/10-setup.sh', 'scripts/10-configure.sh'];

describe('mpimg import: the marketplace-partners layout (marketplace-image.json + files/ + scripts/)', () => {
  const p = importFixture(MP);

  it('maps the builder, the variables and the recognised lines onto mpimg.json', () => {
    const m = p.manifest;
    expect(m).toMatchObject({
      name: 'Acme Notes',
      slug: 'acme-notes',
      vendor: 'acme',
      version: '3.2.1',
      distributions: ['ubuntu-24-04-x64'],
      droplet: { region: 'ams3', size: 's-1vcpu-1gb' },
      snapshot: { name: 'acme-notes-snapshot-{timestamp}' },
      firstLogin: null,
      motd: { file: 'motd.txt' },
      files: { dir: 'files' },
      loginHold: { message: 'Acme Notes is starting, log in again in a minute...' },
      credentials: { file: '/root/.digitalocean_password' },
      firewall: { limit: ['22/tcp'], allow: ['80/tcp', '443/tcp'] },
      directories: [{ path: '/var/www/html/notes' }],
      services: [
        { name: 'nginx.service', firstBoot: 'none' },
        { name: 'php8.3-fpm.service', firstBoot: 'none' },
      ],
      build: {
        packages: ['nginx', 'php-fpm', 'php-sqlite3', 'certbot', 'python3-certbot-nginx'],
        scriptsDir: 'scripts',
      },
    });
    // application_name/version are mpimg.json's name and version: the scripts get them from there
    expect(m.variables).toBeUndefined();
    expect(m.build.repositories).toBeUndefined();
  });

  it('keeps the unrecognised lines in order with the environment the template gave them, and a comment where each absorbed line was', () => {
    expect(p.read('scripts/10-acme-notes.sh')).toBe(`#!/bin/bash
# mpimg import: from scripts/01-acme-notes.sh; lines marked "mpimg import" moved into mpimg.json (see IMPORT.md)
# The environment the template gave this script:
export application_name="\${MPIMG_NAME}"
export application_version="\${MPIMG_VERSION}"
export DEBIAN_FRONTEND='noninteractive'
# Acme Notes: lay out the site (the packages are installed before this).

rm -f /etc/nginx/sites-enabled/default
# mpimg import: files/etc/nginx/sites-enabled/acme-notes (a link to /etc/nginx/sites-available/acme-notes; files/ lays it down before the build scripts)

# mpimg import: directories: /var/www/html/notes
echo "\${application_name} \${application_version}" > /var/www/html/VERSION
chown -R www-data: /var/www

# mpimg import: services: nginx.service php8.3-fpm.service
`);
    expect(p.mode('scripts/10-acme-notes.sh')).toBe(0o755);
    // every other script was absorbed whole: nothing left to run, nothing written
    expect(p.files().filter((f) => f.startsWith('scripts/'))).toEqual(['scripts/10-acme-notes.sh']);
  });

  it('turns the per-instance script into a first-boot step: the hold release dropped, the credentials file made 0600, the passwords first-boot secrets', () => {
    const fb = p.read('first-boot/10-onboot.sh');
    expect(fb).toContain('admin_pass=$ADMIN_PASS\nnotes_key=$NOTES_KEY\n');
    expect(p.manifest.secrets).toEqual([
      { name: 'ADMIN_PASS', length: 32, alphabet: 'hex' },
      { name: 'NOTES_KEY', length: 64, alphabet: 'hex' },
    ]);
    expect(fb).toContain(
      'cat > /root/.digitalocean_password <<EOM\nadmin_pass="${admin_pass}"\nEOM\nchmod 0600 /root/.digitalocean_password\n',
    );
    expect(fb).not.toMatch(/ForceCommand|Match User root|systemctl restart ssh/);
    expect(fb).toContain('systemctl restart nginx');
    expect(p.exists('files/var/lib/cloud/scripts/per-instance/001_onboot')).toBe(false);
    const e = entry(p.report, 'files/var/lib/cloud/scripts/per-instance/001_onboot');
    expect(e.became).toEqual(
      expect.arrayContaining([
        'first-boot step first-boot/10-onboot.sh',
        'secrets: ADMIN_PASS (32 hex, made once per droplet)',
        'secrets: NOTES_KEY (64 hex, made once per droplet)',
      ]),
    );
    expect(e.keptAs).toBe('first-boot/10-onboot.sh');
    expect(e.absorbed).toBe(6);
  });

  it("makes motd.txt of the MOTD script: {{ip}} where it printed the address, the package's MOTD path in the removal hint", () => {
    expect(p.read('motd.txt')).toBe(`Acme Notes is ready: http://{{ip}}/

  * Notes live in /var/www/html/notes
  * The admin password is in /root/.digitalocean_password
  * Run certbot to turn on HTTPS: certbot --nginx

To delete this message of the day: rm -rf /etc/update-motd.d/99-acme-notes
`);
    expect(p.exists('files/etc/update-motd.d/99-one-click')).toBe(false);
  });

  it("lays the template's other files into files/ with their modes; writes none of the scaffolder's examples", () => {
    expect(p.files()).toEqual([
      '.editorconfig',
      '.gitattributes',
      '.github/workflows/image.yml',
      '.gitignore',
      '.yo-rc.json',
      'IMPORT.md',
      'Makefile',
      'README.md',
      'files/etc/nginx/sites-available/acme-notes',
      'files/etc/nginx/sites-enabled/acme-notes',
      'files/var/www/html/index.html',
      'first-boot/10-onboot.sh',
      'motd.txt',
      'mpimg.json',
      'mpimgfile.mjs',
      'package.json',
      'scripts/10-acme-notes.sh',
      // the package copy `mpimg new` keeps too: the project installs it without the registry
      `vendor/generator-mpimg-${JSON.parse(fs.readFileSync('package.json', 'utf8')).version}.tgz`,
    ]);
    for (const f of EXAMPLES) expect(p.exists(f), f).toBe(false);
    expect(p.mode('files/var/www/html/index.html')).toBe(0o644);
    // the `ln -s` of the build script, as a link in files/
    expect(fs.readlinkSync(path.join(p.dir, 'files/etc/nginx/sites-enabled/acme-notes'))).toBe(
      '/etc/nginx/sites-available/acme-notes',
    );
  });

  it("drops DigitalOcean's cleanup, naming the lines of the modified copy that are not DigitalOcean's (never kept as the project's own)", () => {
    const e = entry(p.report, 'scripts/90-cleanup.sh');
    expect(e.role).toBe('cleanup script');
    expect(e.became).toEqual([
      "dropped: a modified copy of DigitalOcean's cleanup; the package's cleanup runs instead",
      'lines no DigitalOcean version has (not carried over):',
      '+ 16: rm -rf /var/cache/acme-notes/*',
    ]);
    expect(p.manifest.cleanup.script).toBeUndefined();
    expect(p.report.person).toEqual([
      expect.objectContaining({
        where: 'scripts/90-cleanup.sh',
        what: expect.stringMatching(
          /modified copy of DigitalOcean's cleanup: 1 line\(s\) of it are not DigitalOcean's/,
        ),
      }),
    ]);
  });

  it('reports per original file what it became and the lines absorbed and kept; IMPORT.md holds the same report', () => {
    expect(entry(p.report, 'scripts/02-ufw-nginx.sh')).toMatchObject({
      absorbed: 3,
      kept: 0,
      became: [
        'firewall: limit 22/tcp',
        'firewall: allow 80/tcp, allow 443/tcp',
        'dropped (turning ufw on: the firewall step does it, on from the first boot)',
      ],
    });
    expect(entry(p.report, 'scripts/03-force-ssh-logout.sh')).toMatchObject({ absorbed: 4, kept: 0 });
    expect(entry(p.report, 'scripts/01-acme-notes.sh')).toMatchObject({
      absorbed: 4,
      kept: 3,
      keptAs: 'scripts/10-acme-notes.sh',
    });
    expect(entry(p.report, 'marketplace-image.json provisioners[3] (inline)')).toMatchObject({
      absorbed: 4,
      kept: 0,
      became: expect.arrayContaining(['build.packages: nginx php-fpm php-sqlite3 certbot python3-certbot-nginx']),
    });
    const sum = (k: 'absorbed' | 'kept') => p.report.files.reduce((n: number, f: any) => n + f[k], 0);
    expect(p.report.totals).toEqual({ absorbed: sum('absorbed'), kept: sum('kept'), files: p.report.files.length });
    const md = p.read('IMPORT.md');
    expect(md).toContain(
      '- scripts/01-acme-notes.sh (build script): 4 shell line(s) absorbed, 3 kept; kept as scripts/10-acme-notes.sh',
    );
    expect(md).toContain(`Shell lines: ${p.report.totals.absorbed} absorbed, ${p.report.totals.kept} kept`);
    expect(md).toMatch(/## Needs a person\n\n- scripts\/90-cleanup.sh: /);
  });

  it('validates and bundles with this release (the real mpimg validate and mpimg bundle); the kept scripts pass shellcheck', () => {
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/mpimg\.json: ok \(1 first-boot script\(s\), 2 file\(s\)/);
    expect(bundle.status, bundle.stderr).toBe(0);
    expect(bundle.stdout).toContain('dist/acme-notes.cjs');
    const sc = spawnSync('shellcheck', ['-S', 'error', 'scripts/10-acme-notes.sh', 'first-boot/10-onboot.sh'], {
      cwd: p.dir,
      encoding: 'utf8',
    });
    expect(sc.status, sc.stdout).toBe(0);
  });

  it('`mpimg upgrade` in the imported project brings back none of the examples', () => {
    const r = mpimg(['upgrade'], p.dir);
    expect(r.status, r.stderr).toBe(0);
    for (const f of EXAMPLES) expect(p.exists(f), f).toBe(false);
    expect(p.read('motd.txt')).toContain('http://{{ip}}/');
  });
});

describe('mpimg import: the droplet-1-clicks layout (<app>/template.json, shared common/scripts)', () => {
  const p = importFixture(path.join(D1C, 'acme-wiki-debian-12'));

  it('reads the paths relative to the parent folder, where Packer ran (common/ beside the app)', () => {
    expect(p.report.base).toBe(D1C);
    expect(p.report.baseWhy).toMatch(/relative to its parent folder, as in droplet-1-clicks/);
    expect(p.report.template).toEqual(['acme-wiki-debian-12/template.json']);
    expect(p.report.files.map((f: any) => f.origin)).toEqual(
      expect.arrayContaining([
        'acme-wiki-debian-12/scripts/010-acme-wiki.sh',
        'common/scripts/014-ufw-http.sh',
        'common/scripts/018-force-ssh-logout.sh',
        'common/scripts/020-application-tag.sh',
        'common/scripts/900-cleanup.sh',
      ]),
    );
  });

  it('maps users, directories, services, firewall, variables, and a chmod of a files/ path onto the project', () => {
    expect(p.manifest).toMatchObject({
      name: 'Acme Wiki',
      slug: 'acme-wiki',
      version: '1.4.0',
      distributions: ['debian-12-x64'],
      droplet: { region: 'fra1', size: 's-1vcpu-512mb-10gb' },
      users: [{ name: 'acme-wiki', system: true, home: '/var/lib/acme-wiki', shell: '/usr/sbin/nologin' }],
      directories: [{ path: '/var/lib/acme-wiki/pages' }, { path: '/var/log/acme-wiki' }],
      services: [{ name: 'nginx.service', firstBoot: 'none' }],
      firewall: { limit: ['22/tcp'], allow: ['80/tcp', '443/tcp'] },
      variables: { WIKI_THEME: 'paper' },
      loginHold: { message: 'Please wait while we get your droplet ready...' },
      credentials: { file: '/root/.digitalocean_passwords' },
      build: { packages: ['nginx', 'ufw'] },
    });
    expect(p.mode('files/usr/local/bin/acme-wiki-status')).toBe(0o755);
    expect(p.read('scripts/10-acme-wiki.sh')).toContain('export wiki_theme="${WIKI_THEME}"\n');
    expect(p.read('scripts/10-acme-wiki.sh')).not.toMatch(/^(useradd|mkdir|chmod|systemctl)/m);
    // the shared common/files/ tree comes along
    expect(p.exists('files/var/lib/digitalocean/application.info')).toBe(true);
  });

  it("keeps the shared application-tag script as a build script, and drops the cleanup (every line DigitalOcean's)", () => {
    expect(entry(p.report, 'common/scripts/020-application-tag.sh')).toMatchObject({
      absorbed: 0,
      kept: 9,
      keptAs: 'scripts/20-application-tag.sh',
    });
    expect(entry(p.report, 'common/scripts/900-cleanup.sh').became).toEqual([
      "dropped: DigitalOcean's cleanup, cut down or reordered (every line of it is DigitalOcean's, but it matches no published version); the package's cleanup runs instead",
    ]);
    expect(p.report.person).toEqual([]);
  });

  it('validates and bundles', () => {
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
  });
});

describe('mpimg import: HCL2 (*.pkr.hcl) in the droplet-1-clicks layout', () => {
  const p = importFixture(path.join(D1C, 'acme-chat-22-04'));

  it("reads paths relative to the template's own folder, heredoc inline scripts, a single-file MOTD", () => {
    expect(p.report.base).toBe(path.join(D1C, 'acme-chat-22-04'));
    expect(p.manifest).toMatchObject({
      name: 'Acme Chat',
      distributions: ['ubuntu-22-04-x64'],
      droplet: { region: 'lon1', size: 's-1vcpu-1gb' },
      build: { packages: ['unzip', 'sqlite3'] },
      services: [{ name: 'acme-chat.service', firstBoot: 'none' }],
      firewall: { limit: ['22/tcp'], allow: ['8090/tcp'] },
      directories: [{ path: '/opt/acme-chat' }],
      variables: { VERSION: '' },
      snapshot: { name: '{slug}-{version}-{timestamp}' },
      motd: { file: 'motd.txt' },
    });
    expect(p.read('motd.txt')).toBe('Acme Chat runs on port 8090.\nLogs: journalctl -u acme-chat\n');
    expect(p.files().filter((f) => f.startsWith('files/'))).toEqual([
      'files/var/tmp/99-readme',
      'files/var/tmp/acme-chat.service',
    ]);
    expect(p.read('scripts/10-setup.sh')).toContain('export CHAT_VERSION="${VERSION}"\n');
  });

  it('says what it could not evaluate: the version read from the environment, the snapshot name, the post-processor', () => {
    expect(p.report.person.map((n: any) => n.what)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^the default of template variable "version" cannot be evaluated at import \(\{\{env `ACME_CHAT_VERSION`\}\}\): VERSION is empty/,
        ),
      ]),
    );
    expect(p.report.info.map((n: any) => n.what)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^the snapshot name "acme-chat-.*formatdate.*" has parts mpimg cannot fill in/),
        'not carried over: post-processor block (acme-chat.pkr.hcl:62)',
      ]),
    );
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
  });
});
