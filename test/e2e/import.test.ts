// Issue 22 on the real bed: a Packer image project in droplet-1-clicks' layout (the Debian fixture
// test/fixtures/import/droplet-1-clicks/acme-wiki-debian-12, with the shared common/ scripts) goes
// through `mpimg import`; the new project is validated and bundled as a vendor does, built over SSH
// on a Debian 12 build droplet with its `build` task, and a droplet made from the image boots with
// systemd and real cloud-init: the site answers, the first-boot step ran, the hold was released, the
// MOTD shows the address, the credentials are root's only, the firewall is mpimg.json's.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { buildImage, type BuiltImage } from './harness/build.js';
import { baseOf, e2eContext } from './harness/context.js';
import {
  credentialValues,
  expectedUfwRules,
  logsHolding,
  parseValues,
  SystemdDroplet,
  ufwRules,
} from './harness/examples.js';
import { run } from './harness/exec.js';
import { mountsUnder } from './harness/mounts.js';
import { hostEnv, type Project } from './harness/project.js';
import { makeKeyPair, sshLogin, type KeyPair } from './harness/ssh.js';
import { buildOrder } from '../../tasks/steps/index.js';

const SUITE = 'bookworm';
const ADDRESS = '192.0.2.31';
const PROMPT = /root@[\w.-]+:~# $/m;
/** Every step of a build (tasks/steps/), in order. */
const BUILD_STEPS = buildOrder();

let work: string;
let keys: KeyPair;
let project: Project & { manifest: Manifest; importOut: string; validate: string };
let built: BuiltImage;
let droplet: SystemdDroplet;

beforeAll(async () => {
  const ctx = e2eContext();
  work = mkdtempSync(join(ctx.runRoot, 'import-'));
  keys = await makeKeyPair(work);
  const fixture = join(ctx.repoRoot, 'test/fixtures/import/droplet-1-clicks/acme-wiki-debian-12');
  const dir = join(work, 'acme-wiki');
  const imp = await run('node', [join(ctx.repoRoot, 'bin/mpimg.js'), 'import', fixture, dir], {
    env: hostEnv(),
    timeoutMs: 300_000,
    input: '',
    allowFail: true,
  });
  if (imp.code !== 0) throw new Error(`mpimg import failed (exit ${imp.code}):\n${imp.stdout}${imp.stderr}`);
  // generator-mpimg as `npm install` would put it (MPIMG_E2E_PACKAGE overrides the repository)
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync(process.env.MPIMG_E2E_PACKAGE || ctx.repoRoot, join(dir, 'node_modules/generator-mpimg'));
  symlinkSync('../generator-mpimg/bin/mpimg.js', join(dir, 'node_modules/.bin/mpimg'));
  const mpimg = join(dir, 'node_modules/.bin/mpimg');
  const validate = await run(mpimg, ['validate'], { cwd: dir, env: hostEnv(), timeoutMs: 120_000, allowFail: true });
  if (validate.code !== 0)
    throw new Error(`mpimg validate failed in the imported project:\n${validate.stdout}${validate.stderr}`);
  const bundle = await run(mpimg, ['bundle'], { cwd: dir, env: hostEnv(), timeoutMs: 120_000, allowFail: true });
  if (bundle.code !== 0)
    throw new Error(`mpimg bundle failed in the imported project:\n${bundle.stdout}${bundle.stderr}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8')) as Manifest;
  project = {
    dir,
    slug: manifest.slug,
    manifest,
    cjs: join(dir, `dist/${manifest.slug}.cjs`),
    sh: join(dir, `dist/${manifest.slug}-install.sh`),
    log: `${bundle.stdout}${bundle.stderr}`,
    importOut: imp.stdout,
    validate: `${validate.stdout}${validate.stderr}`,
  };
  built = await buildImage({
    work,
    base: { name: SUITE, lowers: [baseOf(SUITE)] },
    project,
    keys,
    name: 'import-wiki',
  });
  process.stderr.write(`[e2e] imported acme-wiki: \`mpimg run build\` took ${(built.ms / 1000).toFixed(1)} s\n`);
  droplet = await SystemdDroplet.start({
    work,
    image: built.image,
    name: 'import-wiki',
    slug: project.slug,
    instanceId: `i-import-wiki-${Date.now().toString(36)}`,
    keys,
    address: `${ADDRESS}/24`,
  });
});

afterAll(async () => {
  if (droplet) expect(await droplet.close()).toBe(0);
  await built?.image.release();
  if (work) expect(mountsUnder(work)).toEqual([]);
});

describe(`an imported droplet-1-clicks project (acme-wiki, Debian 12) built over SSH and booted on ${SUITE}`, () => {
  it('imported, validated and bundled; the build ran every standard step and the kept scripts, and the image check found 0 failures', () => {
    expect(project.importOut).toContain('Template: acme-wiki-debian-12/template.json');
    expect(project.validate).toMatch(/mpimg\.json: ok \(1 first-boot script\(s\)/);
    const out = built.output;
    for (const t of BUILD_STEPS) expect(out).toContain(`[${t}] > ${t}:`);
    expect(out).toContain('--- 10-acme-wiki.sh');
    expect(out).toContain('--- 20-application-tag.sh');
    expect(out).toMatch(/\[check\] Summary: \d+ passed, \d+ warnings, 0 failed/);
    expect(out).not.toMatch(/^\[check\] \[FAIL\]/m);
  });

  it("the site answers on :80 from the nginx config the template shipped; the build script ran with the template's environment", async () => {
    const out = await droplet.sh(`
      curl -sS -o /tmp/page -w 'page=%{http_code}\\n' http://127.0.0.1/
      grep -o 'Your wiki is running.' /tmp/page
      systemctl is-active nginx.service; systemctl is-enabled nginx.service
      ls /etc/nginx/sites-enabled
      cat /var/www/acme-wiki/version.txt
      /usr/local/bin/acme-wiki-status
      grep -o 'server_name [^;]*' /etc/nginx/sites-available/acme-wiki
      grep '^application_name=' /var/lib/digitalocean/application.info
    `);
    expect(out).toContain('page=200');
    expect(out).toContain('Your wiki is running.');
    expect(out).toContain('active\nenabled\n');
    expect(out).toContain('acme-wiki\n');
    expect(out).not.toMatch(/^default$/m);
    // application_name/version came from mpimg.json, wiki_theme from its variables
    expect(out).toContain('Acme Wiki 1.4.0 (theme paper)\nAcme Wiki 1.4.0 (theme paper)\n');
    // the first-boot step (the old per-instance script) put the droplet's address in
    expect(out).toContain(`server_name ${ADDRESS} _`);
    expect(out).toContain('application_name="Acme Wiki"');
  });

  it('the user and the folders of mpimg.json (from useradd and mkdir -p), owned as the kept chown says', async () => {
    const out = await droplet.sh(`
      getent passwd acme-wiki | awk -F: '{ print "uid=" ($3 < 1000 ? "system" : $3) " home=" $6 " shell=" $7 }'
      stat -c '%U %n' /var/lib/acme-wiki /var/lib/acme-wiki/pages /var/log/acme-wiki
    `);
    expect(out).toContain('uid=system home=/var/lib/acme-wiki shell=/usr/sbin/nologin');
    expect(out).toContain(
      'acme-wiki /var/lib/acme-wiki\nacme-wiki /var/lib/acme-wiki/pages\nacme-wiki /var/log/acme-wiki\n',
    );
  });

  it('the password made at first boot is in the credentials file (0600, root) and in no log; the wiki got its hash', async () => {
    const file = project.manifest.credentials!.file!;
    expect(file).toBe('/root/.digitalocean_passwords');
    expect((await droplet.sh(`stat -c '%a %U %G' ${file}`)).trim()).toBe('600 root root');
    const v = parseValues(await droplet.sh(credentialValues(file, ['ACME_WIKI_ADMIN_PASSWORD'])));
    expect(v.ACME_WIKI_ADMIN_PASSWORD).toMatch(/^[A-Za-z0-9]{24}$/);
    expect((await droplet.sh('cat /var/lib/acme-wiki/admin.sha256')).trim()).toBe(
      createHash('sha256').update(v.ACME_WIKI_ADMIN_PASSWORD).digest('hex'),
    );
    expect((await droplet.sh(logsHolding(v.ACME_WIKI_ADMIN_PASSWORD))).trim()).toBe('');
  });

  it("the firewall is up with the rules the ufw preset had (now mpimg.json's)", async () => {
    expect(project.manifest.firewall).toEqual({ limit: ['22/tcp'], allow: ['80/tcp', '443/tcp'] });
    const st = await droplet.sh('systemctl is-active ufw.service; ufw status');
    expect(st.split('\n')[0]).toBe('active');
    expect(ufwRules(st)).toEqual(expectedUfwRules(project.manifest.firewall!));
  });

  it("root logs in over SSH (the hold was released) and sees the imported MOTD with the droplet's address", async () => {
    // (Debian's sshd_config has a commented-out "#\tForceCommand cvs server" example)
    const sshd = await droplet.sh(
      'grep -rnE "^[[:space:]]*(ForceCommand|Match)" /etc/ssh/sshd_config /etc/ssh/sshd_config.d/ || echo no-force-command',
    );
    expect(sshd).toContain('no-force-command');
    const login = sshLogin(await droplet.ssh(), keys.privateKey, 'imported wiki login');
    const seen = await login.expect(PROMPT);
    expect(seen).toContain('Welcome to Acme Wiki.');
    expect(seen).toContain(`* The wiki: http://${ADDRESS}/`);
    expect(seen).toContain('To delete this message of the day: rm -rf /etc/update-motd.d/99-acme-wiki');
    expect(seen).not.toContain('Please wait while we get your droplet ready');
    login.send('exit 0\n');
    expect(await login.close()).toBe(0);
  });
});
