/**
 * $.secrets and $.files.templates on a droplet: what install laid down, run for real by sh in a
 * private mount namespace over a staged root (as cloud-init runs per-instance scripts), with every
 * program on PATH replaced by a stub that records its arguments and runs the real one.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { serveDir, type Served } from '../helpers/static-server.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';
import type { Manifest } from '../../runtime/manifest.js';

const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const RUN_PARTS = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
const HOSTILE = `a/b & c \\1 $HOME "q" 'q' {{secret.DB_PASSWORD}} %s`;
const TEMPLATE = [
  'server_name {{ip}};',
  'host = {{hostname}}',
  'db = {{secret.DB_PASSWORD}} key={{secret.SECRET_KEY}}',
  'title = {{APP_TITLE}}',
  'jinja = {{ ip }} {{ user.name }} {% if x %}{{x|e}}{% endif %}',
  'go = {{.Values.ip}} {{- .Name -}} mustache = {{name}} {{{body}}} {{#list}}{{/list}}',
  'empty = {{}} half = {{ip} {ip}} {{{{ip}}}}',
  'no newline at the end: {{hostname}}',
].join('\n');

const manifest: Partial<Manifest> = {
  variables: { APP_TITLE: HOSTILE },
  secrets: [
    { name: 'DB_PASSWORD', length: 24 },
    { name: 'SECRET_KEY', length: 50, alphabet: 'base64url' },
    { name: 'TOKEN', length: 16, alphabet: 'hex' },
    { name: 'PIN', length: 20, alphabet: '0123456789-[]:^' },
  ],
  // The template holds secrets: the image does not carry it at its path; first boot writes it there
  // as daemon:adm (users of this machine's /etc, which the sandbox keeps) with its mode in files/.
  files: {
    dir: 'files',
    templates: ['/opt/app/app.conf'],
    owners: [{ path: '/opt/app/app.conf', owner: 'daemon', group: 'adm' }],
  },
};
const [DAEMON_UID, ADM_GID] = ['daemon', 'adm'].map((n, i) =>
  Number(spawnSync('getent', [i ? 'group' : 'passwd', n], { encoding: 'utf8' }).stdout.split(':')[2]),
);

let b: ReturnType<typeof bundledFixture>;
let server: Served;
let metadata: Record<string, string>;
let stubs: string;
let argvLog: string;

beforeAll(async () => {
  const dir = tempDir('mpimg-proj-');
  fs.mkdirSync(path.join(dir, 'files/opt/app'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'files/opt/app/app.conf'), TEMPLATE, { mode: 0o640 });
  b = bundledFixture({ manifest, dir });
  // the metadata service, in a child process (spawnSync blocks this one's event loop)
  const served = tempDir('mpimg-metadata-');
  fs.chmodSync(served, 0o755);
  fs.writeFileSync(path.join(served, 'ipv4'), '203.0.113.9');
  server = await serveDir(served);
  metadata = {
    MPIMG_METADATA_URL: `${server.url}/ipv4`,
    MPIMG_IP_TRIES: '1',
    MPIMG_IP_DELAY: '0',
  };
  stubs = tempDir('mpimg-stubs-');
  fs.chmodSync(stubs, 0o755);
  argvLog = path.join(stubs, 'argv.log');
  const seen = new Set<string>();
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      if (seen.has(name) || !/^[A-Za-z0-9._+-]+$/.test(name)) continue;
      seen.add(name);
      fs.writeFileSync(
        path.join(stubs, name),
        `#!/bin/sh\nprintf '%s\\n' "$0" "$@" >> '${argvLog}'\nexec '${dir}/${name}' "$@"\n`,
        { mode: 0o755 },
      );
    }
  }
});
afterAll(() => server.close());

/** A staged root with the bundle installed, the template and a first-boot step that uses the secrets. */
function installed(): string {
  const root = stagedRoot();
  const r = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  fs.writeFileSync(
    path.join(root, 'opt/acme/acme-wiki/first-boot/20-ip'),
    // a step that hands the secrets of its environment over to the test (printf is sh's own)
    '#!/bin/sh\nset -eu\nprintf "%s %s" "$DB_PASSWORD" "$PIN" > /root/seen-by-step\n',
  );
  return root;
}

const run = (root: string) => {
  fs.rmSync(argvLog, { force: true });
  return runInSandbox(root, RUN_PARTS, { env: { ...metadata, PATH: `${stubs}:/usr/sbin:/usr/bin:/sbin:/bin` } });
};
const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), 'utf8');
const credentials = (root: string) => read(root, 'root/.acme-wiki-credentials');
const secretsOf = (root: string) =>
  Object.fromEntries([...credentials(root).matchAll(/^([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));

/** Every log first boot wrote, and everything it printed. */
const allLogs = (root: string) =>
  fs
    .readdirSync(path.join(root, 'var/log/mpimg/acme-wiki'))
    .map((f) => read(root, `var/log/mpimg/acme-wiki/${f}`))
    .join('\n');

describe('secrets made at first boot', () => {
  it('are made once per droplet, 0600 root in the credentials file, of their length and alphabet', () => {
    const root = installed();
    expect(fs.existsSync(path.join(root, 'root/.acme-wiki-credentials'))).toBe(false);
    const r = run(root);
    expect(r.stdout).not.toContain('FAILED');
    const st = fs.statSync(path.join(root, 'root/.acme-wiki-credentials'));
    expect(st.mode & 0o777).toBe(0o600);
    expect([st.uid, st.gid]).toEqual([0, 0]);
    const s = secretsOf(root);
    expect(s.DB_PASSWORD).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(s.SECRET_KEY).toMatch(/^[A-Za-z0-9_-]{50}$/);
    expect(s.TOKEN).toMatch(/^[0-9a-f]{16}$/);
    expect(s.PIN).toMatch(/^[0-9\-[\]:^]{20}$/);
    // the step saved its own password too, and got the secrets in its environment
    expect(Object.keys(s).sort()).toEqual(['ADMIN_PASSWORD', 'DB_PASSWORD', 'PIN', 'SECRET_KEY', 'TOKEN']);
    expect(read(root, 'root/seen-by-step')).toBe(`${s.DB_PASSWORD} ${s.PIN}`);
    expect(read(root, 'var/lib/mpimg/acme-wiki/first-boot.last')).toBe('prepare 0\n10-password 0\n20-ip 0\n');

    // first boot again (cloud-init clean, a second boot): the same secrets
    const again = run(root);
    expect(again.stdout).not.toContain('FAILED');
    expect(secretsOf(root)).toEqual({ ...s, ADMIN_PASSWORD: secretsOf(root).ADMIN_PASSWORD });
    expect(read(root, 'var/log/mpimg/acme-wiki/prepare.log')).toContain('secret DB_PASSWORD: kept');

    // another droplet of the same image: its own
    const other = installed();
    run(other);
    const o = secretsOf(other);
    for (const k of ['DB_PASSWORD', 'SECRET_KEY', 'TOKEN', 'PIN']) expect(o[k]).not.toBe(s[k]);
  });

  it('never reach a log, the output or any command line', () => {
    const root = installed();
    const r = run(root);
    expect(r.stdout).not.toContain('FAILED');
    const s = secretsOf(root);
    const logs = allLogs(root);
    const argv = fs.readFileSync(argvLog, 'utf8');
    // the stubs did record the tools first boot ran (tr made the secrets, awk filled in the template)
    expect(argv).toMatch(/\/tr\n-dc\n/);
    expect(argv).toMatch(/\/awk\n/);
    expect(argv).toContain('/sed\n');
    for (const v of Object.values(s)) {
      expect(v.length).toBeGreaterThanOrEqual(16);
      expect(r.stdout + r.stderr).not.toContain(v);
      expect(logs).not.toContain(v);
      expect(argv).not.toContain(v);
    }
    // what the image holds (the bundle's files) never had a value
    const state = fs.readdirSync(path.join(root, 'var/lib/mpimg/acme-wiki'));
    for (const f of state)
      for (const v of Object.values(s)) expect(read(root, `var/lib/mpimg/acme-wiki/${f}`)).not.toContain(v);
  });

  it('keeps a line the customer changed, and refuses one it cannot read back', () => {
    const root = installed();
    run(root);
    const file = path.join(root, 'root/.acme-wiki-credentials');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^TOKEN='[^']*'$/m, "TOKEN='mine'"));
    run(root);
    expect(secretsOf(root).TOKEN).toBe('mine');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^TOKEN='mine'$/m, 'TOKEN=mine'));
    const r = run(root);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/0-acme-wiki-prepare`);
    expect(r.stderr).toContain('first-boot step prepare failed');
    expect(read(root, 'var/log/mpimg/acme-wiki/prepare.log')).toContain(
      "TOKEN in /root/.acme-wiki-credentials is not written NAME='value' (a value without quotes, not empty): fix or remove that line",
    );
    expect(read(root, 'root/.acme-wiki-credentials')).toContain('TOKEN=mine\n');
  });
});

describe('templates filled in at first boot', () => {
  const expected = (s: Record<string, string>) =>
    [
      'server_name 203.0.113.9;',
      `host = ${os.hostname()}`,
      `db = ${s.DB_PASSWORD} key=${s.SECRET_KEY}`,
      `title = ${HOSTILE}`,
      'jinja = {{ ip }} {{ user.name }} {% if x %}{{x|e}}{% endif %}',
      'go = {{.Values.ip}} {{- .Name -}} mustache = {{name}} {{{body}}} {{#list}}{{/list}}',
      'empty = {{}} half = {{ip} {ip}} {{203.0.113.9}}',
      `no newline at the end: ${os.hostname()}`,
    ].join('\n');

  it('writes a template that holds a secret into place at first boot only, filled in, owner and mode as declared', () => {
    const root = installed();
    const target = path.join(root, 'opt/app/app.conf');
    // the image holds the unfilled template only in the runtime home's root-only folder
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.existsSync(path.join(root, 'opt/app'))).toBe(false);
    const copy = path.join(root, 'opt/acme/acme-wiki/templates/opt/app/app.conf');
    expect(fs.readFileSync(copy, 'utf8')).toBe(TEMPLATE);
    expect(fs.statSync(path.join(root, 'opt/acme/acme-wiki/templates')).mode & 0o7777).toBe(0o700);
    const r = run(root);
    expect(r.stdout).not.toContain('FAILED');
    const s = secretsOf(root);
    expect(fs.readFileSync(target, 'utf8')).toBe(expected(s));
    const st = fs.statSync(target);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([DAEMON_UID, ADM_GID, 0o640]);
    expect(fs.statSync(path.join(root, 'opt/app')).mode & 0o7777).toBe(0o755);
    expect(fs.readdirSync(path.join(root, 'opt/app'))).toEqual(['app.conf']);
    expect(fs.existsSync(path.join(root, 'var/lib/mpimg/acme-wiki/prepared'))).toBe(true);

    // again: the same file; removed: written again; changed by the customer since: kept
    run(root);
    expect(fs.readFileSync(target, 'utf8')).toBe(expected(s));
    fs.rmSync(target);
    expect(run(root).stdout).not.toContain('FAILED');
    expect(fs.readFileSync(target, 'utf8')).toBe(expected(s));
    fs.writeFileSync(target, 'mine\n');
    run(root);
    expect(fs.readFileSync(target, 'utf8')).toBe('mine\n');
    expect(read(root, 'var/log/mpimg/acme-wiki/prepare.log')).toContain(
      'template /opt/app/app.conf: changed since it was filled in, kept',
    );
  });

  it('inserts a secret the customer set with quotes, $(), & and U+2028 as it is; refuses one with a line break', () => {
    const root = installed();
    run(root);
    const file = path.join(root, 'root/.acme-wiki-credentials');
    const hostile = 'a"b$(touch /root/pwned)`id`&\\1\u2028%s{{ip}}{{secret.PIN}}';
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^DB_PASSWORD='[^']*'$/m, `DB_PASSWORD='${hostile}'`));
    fs.rmSync(path.join(root, 'opt/app/app.conf'));
    expect(run(root).stdout).not.toContain('FAILED');
    const s = { ...secretsOf(root), DB_PASSWORD: hostile };
    expect(read(root, 'opt/app/app.conf')).toBe(expected(s));
    expect(fs.existsSync(path.join(root, 'root/pwned'))).toBe(false);

    // a value over two lines is no NAME='value' line: prepare fails, writes nothing, leaves no record
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    fs.writeFileSync(file, lines.map((l) => (l.startsWith('DB_PASSWORD=') ? "DB_PASSWORD='one\ntwo'" : l)).join('\n'));
    fs.rmSync(path.join(root, 'opt/app/app.conf'));
    const r = run(root);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/0-acme-wiki-prepare`);
    expect(fs.existsSync(path.join(root, 'opt/app/app.conf'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'var/lib/mpimg/acme-wiki/prepared'))).toBe(false);
  });

  it('refuses to fill in a file in a folder another user may change (a link could take its place)', () => {
    const root = installed();
    fs.mkdirSync(path.join(root, 'opt/app'));
    fs.chownSync(path.join(root, 'opt/app'), 4242, 4242);
    const r = run(root);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/0-acme-wiki-prepare`);
    expect(read(root, 'var/log/mpimg/acme-wiki/prepare.log')).toContain(
      "template /opt/app/app.conf: /opt/app is not root's alone (another user may change it): not filled in",
    );
    expect(fs.readdirSync(path.join(root, 'opt/app'))).toEqual([]);
  });

  it('replaces a link put at its path by nothing: refused, the link and what it leads to untouched', () => {
    const root = installed();
    fs.mkdirSync(path.join(root, 'opt/app'));
    fs.writeFileSync(path.join(root, 'root/victim'), 'root only\n', { mode: 0o600 });
    fs.symlinkSync('/root/victim', path.join(root, 'opt/app/app.conf'));
    const r = run(root);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/0-acme-wiki-prepare`);
    expect(read(root, 'var/log/mpimg/acme-wiki/prepare.log')).toContain(
      'template /opt/app/app.conf is not a regular file: not filled in',
    );
    expect(fs.readlinkSync(path.join(root, 'opt/app/app.conf'))).toBe('/root/victim');
    expect(read(root, 'root/victim')).toBe('root only\n');
  });
});

describe('status and uninstall with a template that holds a secret', () => {
  it('status finds nothing missing before or after first boot; uninstall removes the copy and leaves the filled-in file', () => {
    const outputs: string[] = [];
    for (const x of ['node', 'sh'] as const) {
      const cmd = (args: string[], root: string) =>
        x === 'node'
          ? spawnSync(process.execPath, [b.cjs, ...args, '--root', root], { encoding: 'utf8' })
          : spawnSync('sh', [b.sh, ...args, '--root', root], { encoding: 'utf8' });
      const root = stagedRoot();
      expect(cmd(['install'], root).status).toBe(0);
      const st = cmd(['status'], root);
      expect(st.status, st.stdout + st.stderr).toBe(0);
      expect(run(root).stdout).not.toContain('FAILED');
      const after = cmd(['status'], root);
      expect(after.status, after.stdout + after.stderr).toBe(0);
      const u = cmd(['uninstall'], root);
      expect(u.status, u.stdout + u.stderr).toBe(0);
      // Found: what first boot made was left without a word. Named now, each with how to remove it.
      expect(u.stdout).toContain(
        [
          "kept     /opt/app/app.conf (filled in at first boot, it holds this droplet's secrets: remove it (rm) once nothing uses it)",
          'kept     /root/.acme-wiki-credentials (the passwords first boot saved: remove it (rm) once they are kept elsewhere)',
          "kept     /var/lib/mpimg/acme-wiki (first boot's records of this droplet: remove it (rm -r) once they are not needed)",
          "kept     /var/log/mpimg/acme-wiki (first boot's logs: remove it (rm -r) once they are not needed)",
          `uninstall: `,
        ].join('\n'),
      );
      outputs.push(u.stdout.replaceAll(root, 'ROOT'));
      expect(fs.existsSync(path.join(root, 'opt/acme/acme-wiki'))).toBe(false);
      // this droplet's config with its secrets, as the credentials file: the customer's now
      expect(read(root, 'opt/app/app.conf')).toContain(`db = ${secretsOf(root).DB_PASSWORD} `);
    }
    expect(outputs[1]).toBe(outputs[0]);
  });

  it('uninstall on the image (first boot not run): names nothing it did not make', () => {
    for (const x of ['node', 'sh'] as const) {
      const root = stagedRoot();
      const cmd = (args: string[]) =>
        x === 'node'
          ? spawnSync(process.execPath, [b.cjs, ...args, '--root', root], { encoding: 'utf8' })
          : spawnSync('sh', [b.sh, ...args, '--root', root], { encoding: 'utf8' });
      expect(cmd(['install']).status).toBe(0);
      const u = cmd(['uninstall', '--json']);
      expect(u.status, u.stderr).toBe(0);
      const changes = JSON.parse(u.stdout).changes as Array<{ path: string; action: string }>;
      expect(changes.filter((c) => c.action === 'kept' && !/^\/(opt|var|var\/lib|etc|root)$/.test(c.path))).toEqual([]);
    }
  });
});

describe('the prepare step in the bundle', () => {
  it('is laid down the same by both executors, and shellcheck-clean POSIX sh', () => {
    const a = stagedRoot();
    const c = stagedRoot();
    expect(spawnSync(process.execPath, [b.cjs, 'install', '--root', a]).status).toBe(0);
    const r = spawnSync('sh', [b.sh, 'install', '--root', c], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(treeDigest(c)).toEqual(treeDigest(a));
    const files = [
      'opt/acme/acme-wiki/prepare',
      'opt/acme/acme-wiki/lib.sh',
      `${PER_INSTANCE.slice(1)}/0-acme-wiki-prepare`,
    ].map((f) => path.join(a, f));
    expect(fs.statSync(files[0]).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(a, 'opt/acme/acme-wiki/templates/opt/app/app.conf')).mode & 0o777).toBe(0o600);
    // SC2016 (a "$" in single quotes): the hostile variable's value is meant literally
    const sc = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', '-e', 'SC2016', ...files], { encoding: 'utf8' });
    expect(sc.stdout).toBe('');
    expect(sc.status).toBe(0);
    // the bundle holds names, lengths and alphabets; never a value
    expect(fs.readFileSync(files[0], 'utf8')).toContain("mpimg__make_secret DB_PASSWORD 24 '\\101\\102");
  });
});
