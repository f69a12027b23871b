import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyDoScript, normalizedLines } from '../../tasks/import/do-scripts.js';
import { importTemplate, type ImportRequest, type ImportResult } from '../../tasks/import/importer.js';
import { motdText } from '../../tasks/import/motd.js';
import { makeKey, type TestKey } from '../helpers/gpg.js';
import { serveDir, type Served } from '../helpers/static-server.js';
import { tempDir } from '../helpers/temp.js';
import { D1C, entry, importFixture, validateAndBundle } from './support.js';

/** A marketplace-partners style project made here: template.json with these inline lines and files. */
async function importLines(
  lines: string[],
  files: Record<string, string> = {},
  template: Record<string, unknown> = {},
  options: ImportRequest['options'] = { fetchKeys: false },
): Promise<ImportResult> {
  const dir = tempDir('mpimg-import-lines-');
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text, { mode: 0o755 });
  }
  const provisioners: unknown[] = [];
  if (Object.keys(files).some((f) => f.startsWith('files/')))
    provisioners.push({ type: 'file', source: 'files/', destination: '/' });
  provisioners.push({ type: 'shell', environment_vars: ['app_version={{user `app_version`}}'], inline: lines });
  fs.writeFileSync(
    path.join(dir, 'template.json'),
    JSON.stringify({
      variables: { application_name: 'Probe App', app_version: '7.1' },
      builders: [
        {
          type: 'digitalocean',
          image: 'ubuntu-24-04-x64',
          region: 'nyc3',
          size: 's-1vcpu-1gb',
          snapshot_name: 'probe-{{timestamp}}',
        },
      ],
      provisioners,
      ...template,
    }),
  );
  return importTemplate({ source: dir, options });
}

const keptScript = (r: ImportResult): string | undefined => {
  const f = [...r.files.keys()].find((k) => k.startsWith('scripts/'));
  return f ? r.files.get(f)!.data.toString() : undefined;
};
const person = (r: ImportResult) => r.report.person.map((n) => n.what);

describe('recognizers, one line at a time', () => {
  it('ufw: services and application profiles by their ports, ranges, lists, proto forms; reset and enable dropped', async () => {
    const r = await importLines([
      'ufw --force reset',
      'ufw default deny incoming',
      'ufw limit OpenSSH',
      "ufw allow 'Apache Full'",
      'ufw allow 6000:6010/tcp',
      'ufw allow proto udp from any to any port 53',
      'ufw allow 8080,8443/tcp',
      'ufw allow 3000',
      'ufw allow http/tcp',
      'ufw --force enable',
    ]);
    expect(r.manifest.firewall).toEqual({
      limit: ['22/tcp'],
      allow: ['80/tcp', '443/tcp', '6000:6010/tcp', '53/udp', '8080/tcp', '8443/tcp', '3000'],
    });
    expect(keptScript(r)).toBeUndefined();
  });

  it('ufw: one rule $.firewall cannot say keeps every ufw line as script (the firewall step would delete it), named for a person', async () => {
    const r = await importLines(['ufw limit ssh', 'ufw allow from 10.0.0.0/8', 'ufw --force enable']);
    expect(r.manifest.firewall).toBeUndefined();
    expect(keptScript(r)).toContain('ufw limit ssh\nufw allow from 10.0.0.0/8\nufw --force enable\n');
    expect(person(r)).toContain(
      'the ufw lines stay as script (template.json provisioners[0] (inline):3: "ufw allow from 10.0.0.0/8" has no $.firewall equivalent); add "firewall" to mpimg.json by hand',
    );
    const nossh = await importLines(['ufw allow http', 'ufw --force enable']);
    expect(nossh.manifest.firewall).toBeUndefined();
    expect(person(nossh)[0]).toMatch(/the firewall does not let SSH \(22\/tcp\) in/);
  });

  it('apt: installs become build.packages until a kept line may change what apt can install; options that change the set keep the line', async () => {
    const r = await importLines([
      'DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confold install nginx',
      'sudo apt install -qq -y git > /dev/null 2>&1',
      'apt-get install -y --no-install-recommends tini',
      'apt-get install -y ./vendor.deb',
      'curl -fsSL https://deb.example/setup.sh | bash -',
      'apt-get update',
      'apt-get install -y nodejs',
      'apt-get -y autoremove',
    ]);
    expect(r.manifest.build?.packages).toEqual(['nginx', 'git']);
    expect(keptScript(r)).toContain(
      [
        'apt-get install -y --no-install-recommends tini',
        'apt-get install -y ./vendor.deb',
        'curl -fsSL https://deb.example/setup.sh | bash -',
        'apt-get update',
        'apt-get install -y nodejs',
        '# mpimg import: dropped (apt clean',
      ].join('\n'),
    );
  });

  it('apt: an install of nothing (an empty apt_packages) is dropped', async () => {
    const r = await importLines(
      ['apt-get -qqy install {{user `apt_packages`}}'],
      {},
      { variables: { application_name: 'Probe App', app_version: '7.1', apt_packages: '' } },
    );
    expect(r.manifest.build?.packages).toEqual([]);
    expect(keptScript(r)).toBeUndefined();
  });

  it('repositories: a key put in trusted.gpg.d pairs with the one list without signed-by (the fetch is the --fetch-keys one)', async () => {
    const key = makeKey('Trusted Repo <t@example.org>');
    const asked: string[] = [];
    const r = await importLines(
      [
        'wget -qO - https://keys.example.org/public | gpg --dearmor | tee /etc/apt/trusted.gpg.d/example.gpg > /dev/null',
        'echo "deb https://apt.example.org/deb $(awk -F= \'/^VERSION_CODENAME/{print$2}\' /etc/os-release) main" | tee /etc/apt/sources.list.d/example.list',
        'apt -qqy update',
        'apt -qqy install example-jre',
      ],
      {},
      {},
      {
        fetchKeys: true,
        fetch: async (url) => {
          asked.push(url);
          return key.binary;
        },
      },
    );
    expect(asked).toEqual(['https://keys.example.org/public']);
    expect(r.manifest.build?.repositories).toEqual([
      {
        name: 'example',
        uris: 'https://apt.example.org/deb',
        suites: ['{codename}'],
        components: ['main'],
        key: { file: 'keys/example.gpg' },
      },
    ]);
    expect(r.files.get('keys/example.gpg')!.data.equals(key.binary)).toBe(true);
    expect(r.manifest.build?.packages).toEqual(['example-jre']);
    expect(keptScript(r)).toBeUndefined();
  });

  it('systemctl enable: units of every kind become services (enabled, left alone at first boot); --now keeps a start', async () => {
    const r = await importLines([
      'systemctl enable docker',
      'systemctl enable --now app.socket worker@1.service',
      'systemctl daemon-reload',
    ]);
    expect(r.manifest.services).toEqual([
      { name: 'docker.service', firstBoot: 'none' },
      { name: 'app.socket', firstBoot: 'none' },
      { name: 'worker@1.service', firstBoot: 'none' },
    ]);
    expect(keptScript(r)).toContain('systemctl start app.socket worker@1.service\nsystemctl daemon-reload\n');
  });

  it("repositories: a PPA or list named like the distribution's own repositories becomes build.repositories under a name the rules take", async () => {
    const r = await importLines([
      'add-apt-repository -y ppa:ubuntu-toolchain-r/test',
      'add-apt-repository -y ppa:deadsnakes/ppa',
      'apt-get install -y gcc-13 python3.12',
    ]);
    expect(r.manifest.build?.repositories).toEqual([
      { name: 'ppa-ubuntu-toolchain-r-test', ppa: 'ubuntu-toolchain-r/test' },
      { name: 'deadsnakes-ppa', ppa: 'deadsnakes/ppa' },
    ]);
    expect(r.manifest.build?.packages).toEqual(['gcc-13', 'python3.12']);
    expect(keptScript(r)).toBeUndefined();
  });

  it('cloud-init waits, in their forms, are dropped', async () => {
    const r = await importLines([
      'cloud-init status --wait || true',
      '/usr/bin/cloud-init status --wait > /dev/null',
      'while [ ! -f /var/lib/cloud/instance/boot-finished ]; do sleep 1; done',
      'systemctl restart app',
    ]);
    expect(keptScript(r)).toMatch(
      /# mpimg import: dropped \(waiting for cloud-init.*\n# mpimg import: dropped \(waiting.*\n# mpimg import: dropped \(waiting.*\nsystemctl restart app\n$/,
    );
  });

  it('users and directories: useradd/adduser --system and mkdir -p; options mpimg.json cannot say keep the line', async () => {
    const r = await importLines([
      'useradd -r -m -d /srv/app -s /bin/bash -c "App user" -G www-data app',
      'adduser --system --group --no-create-home --disabled-login worker',
      'useradd -u 1500 fixed',
      'mkdir -p /srv/app/data /var/log/app',
      'mkdir -p -m 700 /srv/app/secret',
      'mkdir /just-one',
      'mkdir -p ~/cache',
    ]);
    expect(r.manifest.users).toEqual([
      { name: 'app', system: true, home: '/srv/app', shell: '/bin/bash', comment: 'App user', groups: ['www-data'] },
      { name: 'worker', system: true },
    ]);
    expect(r.manifest.directories).toEqual([
      { path: '/srv/app/data' },
      { path: '/var/log/app' },
      { path: '/srv/app/secret', mode: '0700' },
    ]);
    expect(keptScript(r)).toContain('useradd -u 1500 fixed\n');
    expect(keptScript(r)).toContain('mkdir /just-one\nmkdir -p ~/cache\n');
  });

  it('the passwords file: credentials.file, chmod 0600 added after the write; the password a first-boot secret', async () => {
    const r = await importLines([], {
      'files/var/lib/cloud/scripts/per-instance/01-setup':
        '#!/bin/sh\ndb_pass=$(pwgen -s 24 1)\necho "db_pass=${db_pass}" >> /root/.digitalocean_passwords\n',
    });
    expect(r.manifest.credentials).toEqual({ file: '/root/.digitalocean_passwords' });
    expect(r.manifest.secrets).toEqual([{ name: 'DB_PASS', length: 24, alphabet: 'alnum' }]);
    expect(r.files.get('first-boot/10-setup.sh')!.data.toString()).toBe(
      '#!/bin/sh\ndb_pass=$DB_PASS\necho "db_pass=${db_pass}" >> /root/.digitalocean_passwords\nchmod 0600 /root/.digitalocean_passwords\n',
    );
    expect(entry(r.report, 'files/var/lib/cloud/scripts/per-instance/01-setup').became).toContain(
      'secrets: DB_PASS (24 alnum, made once per droplet)',
    );
  });

  it('first-boot passwords of each generator become $.secrets of the same strength; at build time they stay script', async () => {
    const r = await importLines(['build_key=$(openssl rand -hex 16)'], {
      'files/var/lib/cloud/scripts/per-instance/01-setup': [
        '#!/bin/sh',
        'a=$(openssl rand -hex 16)',
        'B_KEY="$(openssl rand -base64 33)"',
        "c=$(tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 40)",
        'd=$(head /dev/urandom | tr -dc a-f0-9 | head -c 8)',
        'e=$(date +%s | sha256sum)',
        'path=$(pwgen 16 1)',
        'a=$(pwgen 20 1)',
        'echo "$a $B_KEY $c $d $e" > /root/.digitalocean_password',
        '',
      ].join('\n'),
    });
    expect(r.manifest.secrets).toEqual([
      { name: 'A', length: 32, alphabet: 'hex' },
      { name: 'B_KEY', length: 44, alphabet: 'base64url' },
      { name: 'C', length: 40, alphabet: 'alnum' },
      { name: 'D', length: 12, alphabet: 'hex' },
      { name: 'APP_PATH', length: 16, alphabet: 'alnum' },
      { name: 'A_2', length: 20, alphabet: 'alnum' },
    ]);
    const fb = r.files.get('first-boot/10-setup.sh')!.data.toString();
    expect(fb).toContain('a=$A\n# B_KEY: $.secrets (made at first boot)\nc=$C\nd=$D\n');
    // not a generator it knows: kept as it was; a reserved name, a second time: a name of their own
    expect(fb).toContain('e=$(date +%s | sha256sum)\npath=$APP_PATH\na=$A_2\n');
    expect(keptScript(r)).toContain('build_key=$(openssl rand -hex 16)');
  });

  it('a kept line that still names a moved file leaves that file in files/ (and its chmod is then a mode)', async () => {
    const r = await importLines(
      [
        'chmod +x /var/lib/cloud/scripts/per-instance/001_onboot',
        'sed -i "s/X/Y/" /var/lib/cloud/scripts/per-instance/001_onboot',
      ],
      {
        'files/var/lib/cloud/scripts/per-instance/001_onboot': '#!/bin/sh\necho X\n',
      },
    );
    expect([...r.files.keys()].filter((k) => k.startsWith('first-boot/'))).toEqual([]);
    expect(r.files.get('files/var/lib/cloud/scripts/per-instance/001_onboot')).toBeDefined();
    expect(r.report.info.map((n) => n.what)).toContain(
      '/var/lib/cloud/scripts/per-instance/001_onboot stays in files/: a kept build line still uses it there',
    );
  });

  it("MOTD: a placeholder a build line filled in from a template variable becomes the variable's {{NAME}}", async () => {
    const r = await importLines(
      [
        'chmod +x /etc/update-motd.d/99-one-click',
        'sed -i "s/{{VERSION}}/${app_version}/g" /etc/update-motd.d/99-one-click',
      ],
      {
        'files/etc/update-motd.d/99-one-click':
          '#!/bin/sh\ncat <<EOF\nProbe {{VERSION}} on $(hostname -I | cut -d" " -f1)\nEOF\n',
      },
    );
    expect(r.files.get('motd.txt')).toBeUndefined(); // $(hostname ...) inline: not the address idiom
    const r2 = await importLines(
      [
        'chmod +x /etc/update-motd.d/99-one-click',
        'sed -i "s/{{VERSION}}/${app_version}/g" /etc/update-motd.d/99-one-click',
      ],
      {
        'files/etc/update-motd.d/99-one-click':
          '#!/bin/sh\nip=$(hostname -I | cut -d" " -f1)\ncat <<EOF\nProbe {{VERSION}} on $ip\nEOF\n',
      },
    );
    expect(r2.files.get('motd.txt')!.data.toString()).toBe('Probe {{APP_VERSION}} on {{ip}}\n');
    expect(r2.manifest.variables).toEqual({ APP_VERSION: '7.1' });
    expect(keptScript(r2)).toBeUndefined();
  });
});

describe('the MOTD script and DigitalOcean scripts', () => {
  it('reads echo lines and here-documents; anything it runs or computes keeps the script in files/ with the reason', () => {
    expect(motdText('#!/bin/sh\necho "Hello"\necho\nprintf "Port %%s: 80\\n"\n', '/x')).toEqual({
      text: 'Hello\n\nPort %s: 80',
    });
    expect(motdText("#!/bin/sh\ncat <<'EOF'\nliteral $HOME\nEOF\n", '/x')).toEqual({ text: 'literal $HOME' });
    expect(motdText('#!/bin/sh\ncat <<EOF\nuser $USER\nEOF\n', '/x')).toEqual({
      why: 'its text uses the shell value $USER that only the script can compute',
    });
    expect(motdText('#!/bin/sh\n. /etc/os-release\necho "$NAME"\n', '/x')).toEqual({
      why: 'line 2 reads another file into the script',
    });
    expect(motdText('#!/bin/sh\necho -e "\\e[1mbold\\e[0m"\n', '/x')).toMatchObject({
      why: expect.stringMatching(/options/),
    });
    expect(motdText('#!/bin/sh\nuptime\n', '/x')).toEqual({ why: 'line 2 runs uptime' });
  });

  it('tells a published version (by fingerprint), a modified copy (with the lines it adds) and other scripts apart', () => {
    const published =
      '#!/bin/bash\n# ours\nrm -rf /tmp/*\nhistory -c\nrm -f /root/.ssh/authorized_keys\ntouch /etc/ssh/revoked_keys\nunset HISTFILE\n';
    const fp = (s: string) => createHash('sha256').update(s).digest('hex');
    const lines = normalizedLines(published).map((l) => l.text);
    const table = {
      cleanup: {
        versions: { [fp(lines.join('\n'))]: { date: '2020-01-02', where: 'example/90-cleanup.sh' } },
        lines: lines.map((l) => fp(l).slice(0, 16)),
      },
      check: { versions: {}, lines: [] },
    };
    expect(
      classifyDoScript(published.replace('# ours', '# comments and blanks do not count\n\n'), 'anything.sh', table),
    ).toEqual({
      kind: 'cleanup',
      version: { date: '2020-01-02', where: 'example/90-cleanup.sh' },
      added: [],
      shared: 5,
    });
    const modified = `${published}rm -rf /opt/app/cache\n`;
    expect(classifyDoScript(modified, 'x.sh', table)).toEqual({
      kind: 'cleanup',
      version: undefined,
      added: [{ line: 8, text: 'rm -rf /opt/app/cache' }],
      shared: 5,
    });
    expect(
      classifyDoScript('#!/bin/sh\napt-get install nginx\nsystemctl enable nginx\n', '90-cleanup.sh', table),
    ).toBeUndefined();
  });
});

describe('the acme-tools fixture: repositories, variables, what needs a person', () => {
  it('without the network: the deb822 list with its key written in it and the PPA become build.repositories; the repository whose key is a URL stays, with its apt update', () => {
    const p = importFixture(path.join(D1C, 'acme-tools-24-04'));
    expect(p.manifest.build.repositories).toEqual([
      {
        name: 'acme-extras',
        uris: 'https://extras.acme-tools.example/apt',
        suites: ['stable'],
        components: ['main'],
        key: { file: 'keys/acme-extras.asc' },
      },
      { name: 'acme-tools', ppa: 'acme/tools' },
    ]);
    expect(p.read('keys/acme-extras.asc')).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDME/);
    const repos = p.read('scripts/20-repositories.sh');
    expect(repos).toContain(
      'curl -fsSL https://repo.acme-tools.example/key.asc | gpg --dearmor -o /etc/apt/keyrings/acme-tools.gpg\n',
    );
    expect(repos).toContain('apt-get update\napt-get install -y acme-cli acme-extras\n');
    expect(p.manifest.build.packages).toEqual(['curl', 'jq', 'git']);
    expect(p.read('scripts/10-inline.sh')).toContain("apt-get -qqy install 'lamp-server^'\n");
    expect(p.read('scripts/10-inline.sh')).toContain(
      `echo 'built '"\${MPIMG_VERSION}"' at '"$(date +%s)"' from {{template_dir}}' > /etc/acme-tools/build.txt\n`,
    );
    expect(p.manifest).toMatchObject({
      version: '2.0.3',
      variables: { NODE_VERSION: '20', LICENSE_KEY: '' },
      users: [{ name: 'acme', system: true, home: '/opt/acme-tools', shell: '/bin/bash' }],
      directories: [{ path: '/var/lib/acme-tools', mode: '0750' }],
      services: [{ name: 'acme-tools.service', firstBoot: 'none' }],
      droplet: { region: 'sfo3', size: 's-2vcpu-2gb', tags: ['acme', 'build'] },
      snapshot: { name: 'acme-tools-{version}-{timestamp}' },
    });
    expect(p.manifest.variables.API_SECRET).toBeUndefined();
    expect(p.read('scripts/30-tools.sh')).toContain("export api_secret=''\n");
    expect(p.mode('files/opt/acme-tools/acme-tools')).toBe(0o755);
    const notes = p.report.person.map((n: any) => `${n.where}: ${n.what}`);
    for (const re of [
      /provisioners\[5\]: a "ansible" provisioner is not carried over/,
      /: the signing key of repository "acme-tools" comes from https:\/\/repo\.acme-tools\.example\/key\.asc: run the import again with --fetch-keys/,
      /011-tools\.sh:5: runs a script fetched from the network at build time/,
      /011-tools\.sh:11: makes a secret at build time: every droplet made from the image gets the same one/,
      /011-tools\.sh:22: an interactive first-login hook in root's shell profile: make it a first-login script/,
      /firewall: the ufw lines stay as script .*"ufw allow from 10\.0\.0\.0\/8 to any port 8080" has no \$\.firewall equivalent/,
      /the default of template variable "license_key" cannot be evaluated at import \(\{\{env `ACME_LICENSE`\}\}\)/,
      /uses the secret template variable "api_secret": mpimg\.json's variables are not secret/,
      /the template expression \{\{template_dir\}\} cannot be evaluated at import/,
    ])
      expect(
        notes.some((n: string) => re.test(n)),
        String(re),
      ).toBe(true);
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
  });

  describe('--fetch-keys, against a key served on 127.0.0.1', () => {
    let key: TestKey;
    let served: Served;
    let src: string;
    beforeAll(async () => {
      key = makeKey('Acme Repository <repo@acme-tools.example>');
      const www = tempDir('mpimg-import-www-');
      fs.writeFileSync(path.join(www, 'key.asc'), key.armored);
      fs.writeFileSync(path.join(www, 'page.html'), '<html>not a key</html>\n');
      served = await serveDir(www);
      src = path.join(tempDir('mpimg-import-fetch-'), 'droplet-1-clicks');
      fs.cpSync(D1C, src, { recursive: true });
    });
    afterAll(async () => {
      await served?.close();
    });

    const withKeyUrl = (url: string) => {
      const f = path.join(src, 'acme-tools-24-04/scripts/010-repositories.sh');
      const text = fs.readFileSync(path.join(D1C, 'acme-tools-24-04/scripts/010-repositories.sh'), 'utf8');
      fs.writeFileSync(f, text.replace('https://repo.acme-tools.example/key.asc', url));
    };

    it('keeps the fetched key in keys/, shows its fingerprint, and moves the repository and the installs after it into mpimg.json', () => {
      withKeyUrl(`${served.url}/key.asc`);
      const p = importFixture(path.join(src, 'acme-tools-24-04'), ['--fetch-keys']);
      expect(p.manifest.build.repositories).toContainEqual({
        name: 'acme-tools',
        uris: 'https://repo.acme-tools.example/apt',
        suites: ['{codename}'],
        components: ['main'],
        key: { file: 'keys/acme-tools.asc' },
      });
      expect(p.manifest.build.repositories).toContainEqual({ name: 'acme-tools-2', ppa: 'acme/tools' });
      expect(p.read('keys/acme-tools.asc')).toBe(key.armored);
      expect(p.manifest.build.packages).toEqual(['curl', 'jq', 'git', 'acme-cli', 'acme-extras']);
      expect(p.exists('scripts/20-repositories.sh')).toBe(false);
      const became = entry(p.report, 'acme-tools-24-04/scripts/010-repositories.sh').became.join('\n');
      expect(became).toContain(`fingerprint ${key.fingerprint}: compare it with the one the vendor publishes`);
      expect(became).toContain('dropped (the keyring for a repository moved into build.repositories)');
      const { validate, bundle } = validateAndBundle(p.dir);
      expect(validate.status, validate.stderr).toBe(0);
      expect(bundle.status, bundle.stderr).toBe(0);
    });

    it('a URL that gives no key, or nothing, keeps the lines and says why', () => {
      withKeyUrl(`${served.url}/page.html`);
      const p = importFixture(path.join(src, 'acme-tools-24-04'), ['--fetch-keys', '--dry-run']);
      expect(p.run.stdout.length).toBeGreaterThan(0);
      const r = JSON.parse(p.run.stdout);
      expect(r.person.map((n: any) => n.what)).toContainEqual(
        expect.stringMatching(
          /^what http:\/\/127\.0\.0\.1:\d+\/page\.html gave is not an OpenPGP public key: repository "acme-tools" kept as script$/,
        ),
      );
      withKeyUrl(`${served.url}/missing.asc`);
      const q = JSON.parse(importFixture(path.join(src, 'acme-tools-24-04'), ['--fetch-keys', '--dry-run']).run.stdout);
      expect(q.person.map((n: any) => n.what)).toContainEqual(
        expect.stringMatching(
          /^could not fetch the signing key of repository "acme-tools" from .*\/missing\.asc \(HTTP 404\); its lines were kept as script$/,
        ),
      );
    });
  });
});

describe('files a build line writes', () => {
  it('a fixed here-document, an echo of plain words and an ln -s become files/ entries; a later chmod is their mode', async () => {
    const r = await importLines([
      "cat > /etc/app/app.conf <<'EOF'",
      'port = 8080',
      'path = $HOME/data',
      'EOF',
      'echo plain words > /etc/app/mode',
      'chmod 600 /etc/app/mode',
      'ln -sf /etc/app/app.conf /etc/app/current.conf',
      'systemctl restart app',
    ]);
    expect(r.files.get('files/etc/app/app.conf')).toEqual({
      data: Buffer.from('port = 8080\npath = $HOME/data\n'),
      mode: 0o644,
    });
    expect(r.files.get('files/etc/app/mode')).toEqual({ data: Buffer.from('plain words\n'), mode: 0o600 });
    expect(r.files.get('files/etc/app/current.conf')).toMatchObject({ link: '/etc/app/app.conf' });
    expect(keptScript(r)).toMatch(
      /# mpimg import: files\/etc\/app\/app\.conf .*\n# mpimg import: files\/etc\/app\/mode .*\n# mpimg import: the mode of files\/etc\/app\/mode \(0600\).*\n# mpimg import: files\/etc\/app\/current\.conf \(a link.*\nsystemctl restart app\n$/,
    );
  });

  it('keeps writes files/ cannot stand for: expansions in the text, temporary files, apt sources, a folder an earlier line made, a second write of a file', async () => {
    const r = await importLines([
      'cat > /etc/app/env <<EOF',
      'HOME_DIR=$HOME',
      'EOF',
      "cat > /tmp/install.sh <<'EOF'",
      'echo hi',
      'EOF',
      'echo "deb https://x.example/ stable main" > /etc/apt/sources.list.d/x.list',
      'git clone https://git.example/app.git /opt/app',
      "cat > /opt/app/.env <<'EOF'",
      'A=1',
      'EOF',
      'echo first > /etc/app/twice',
      'echo second > /etc/app/twice',
    ]);
    // the first write is files/; the second still runs after it, as before
    expect([...r.files.keys()].filter((k) => k.startsWith('files/'))).toEqual(['files/etc/app/twice']);
    expect(r.files.get('files/etc/app/twice')!.data.toString()).toBe('first\n');
    const kept = keptScript(r)!;
    for (const line of [
      'cat > /etc/app/env <<EOF',
      "cat > /tmp/install.sh <<'EOF'",
      'echo "deb https://x.example/ stable main" > /etc/apt/sources.list.d/x.list',
      "cat > /opt/app/.env <<'EOF'",
      'echo second > /etc/app/twice',
    ])
      expect(kept).toContain(`${line}\n`);
  });
});
