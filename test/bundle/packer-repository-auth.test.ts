/**
 * Private repositories in the Packer template: the credentials come from the sensitive variables of
 * the build secrets, are refused by `packer validate` by the same rules as the SSH task, and the
 * template's own provisioners, run by the real packer (over the test sshd, in a staged root), put
 * them in place 0600 for the build scripts and take them away after them; the value is on no command
 * line and in nothing Packer prints (its debug log included).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import type { Repository } from '../../runtime/sections/build.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { secretNeedles } from '../../tasks/build-secrets.js';
import { NEEDLES_AWK } from '../../tasks/steps/check.js';
import { credentialProblem } from '../../tasks/steps/repository-auth.js';
import { makeProject } from '../helpers/project-fixture.js';
import { hclString, nullBuildDir, runPacker } from '../helpers/packer-run.js';
import { sshdPerFile } from '../helpers/sshd-run.js';
import { tempDir } from '../helpers/temp.js';

const sshd = sshdPerFile();
const home = tempDir('mpimg-packer-home-');

const packer = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) => runPacker(cwd, args, { home, env });

const APT_REPO: Repository = {
  name: 'acme-private',
  uris: 'https://apt.acme.example/debian/',
  suites: ['stable'],
  components: ['main'],
  key: { file: 'acme.gpg' },
  auth: { username: 'builder', password: '{{build.secret.REPO_TOKEN}}' },
};
const DNF_REPO: Repository = {
  name: 'acme-rpm',
  baseurl: 'https://rpm.acme.example/el/$releasever/$basearch/',
  key: { file: 'acme.gpg' },
  auth: { username: '{{build.secret.REPO_USER}}', password: '{{build.secret.REPO_PASSWORD}}' },
};

/** A project building `image` with `repo`, its secrets declared, and a build script that looks at the credentials. */
function project(
  image: string,
  repo: Repository,
  secrets: string[],
  seen = '/dev/null',
): { dir: string; text: string } {
  const dir = makeProject({
    manifest: {
      distributions: [image],
      build: { packages: ['jq'], secrets: secrets.map((name) => ({ name })), repositories: [repo] },
    } as Partial<Manifest>,
  });
  writeFileSync(join(dir, 'acme.gpg'), 'not read by these tests\n');
  // The build script records what it finds of the credentials while the build runs, and every
  // command line of the machine at that moment.
  const auth = repo.uris !== undefined ? `etc/apt/auth.conf.d/${repo.name}.conf` : `etc/yum.repos.d/${repo.name}.repo`;
  writeFileSync(
    join(dir, 'scripts/10-install.sh'),
    `#!/bin/sh\nset -eu\nf="$MPIMG_ROOT/${auth}"\nstat -c %a "$f" > '${seen}.mode'\ncat "$f" > '${seen}'\nfor p in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$p" 2>/dev/null || true; echo; done > '${seen}.cmdlines'\n`,
    { mode: 0o755 },
  );
  return { dir, text: readFileSync(writeBundle(loadProject(dir)).packer, 'utf8') };
}

/** The template as this machine's Packer 1.6.6 reads it (see packer-template.test.ts). */
const forOldPacker = (text: string): string =>
  text.replace(/^packer \{\n[\s\S]*?\n\}\n/m, '').replace(/^ {2}droplet_agent += false\n/m, '');

function validate(dir: string, text: string, env: Record<string, string>) {
  writeFileSync(join(dir, 'dist/check.pkr.hcl'), forOldPacker(text));
  const r = packer(dir, ['validate', 'dist/check.pkr.hcl'], { DIGITALOCEAN_TOKEN: 'dop_v1_not-a-real-token', ...env });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

// Values a shell, HCL or apt could misread; those with blanks and line breaks are refused.
const HOSTILE = [`q"u'o\`te$(id)\\back`, 'dollar${var.do_token}%{if true}x%{endif}$HOME', 'semi;colon&amp<lt>#hash'];
const REFUSED_ANY = ['two words', 'line\nbreak-of-a-long-value', 'tab\there', 'ls\u2028sep', 'nbsp\u00a0here', 'end '];

describe('repository credentials in the Packer template', () => {
  it('the rule refuses exactly what JavaScript calls a blank (the rule of the SSH task before it was shared)', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const ch = String.fromCharCode(c);
      const refused = credentialProblem(APT_REPO, 'password', `abcd${ch}efgh`) !== undefined;
      expect(refused, `U+${c.toString(16)}`).toBe(/\s/.test(ch));
    }
  });

  it('apt: packer validate refuses a value where the SSH task refuses it, and takes the others', () => {
    const { dir, text } = project('debian-12-x64', APT_REPO, ['REPO_TOKEN']);
    expect(text).toContain('validation {\n    condition     = length([for s in ["\\u0009", "\\u000a", ');
    for (const v of [...HOSTILE, ...REFUSED_ANY]) {
      const r = validate(dir, text, { MPIMG_BUILD_SECRET_REPO_TOKEN: v });
      const ssh = credentialProblem(APT_REPO, 'password', v);
      expect(r.ok, `${JSON.stringify(v)}: ${r.out}`).toBe(ssh === undefined);
      if (ssh) {
        expect(r.out.replace(/\s+/g, ' ')).toContain(
          'The password of repository "acme-private" (build secret REPO_TOKEN) holds a blank or a line break',
        );
        expect(ssh.message).toBe(
          'the password of repository "acme-private" (build secret REPO_TOKEN) holds a blank or a line break',
        );
      }
    }
  }, 120_000);

  it('dnf: also a "$name" or "${" in the password and a ":" in the user name, as the SSH task', () => {
    const { dir, text } = project('rockylinux-9-x64', DNF_REPO, ['REPO_USER', 'REPO_PASSWORD']);
    const cases: Array<[string, string, string | undefined]> = [
      ['builder', `q"u'o\`te\\back;&<>#$`, undefined],
      ['builder', 'pass$basearch-long', 'holds a "$" followed by a name or "{"'],
      ['builder', 'pass${releasever}x', 'holds a "$" followed by a name or "{"'],
      ['builder', 'pass\nword-of-a-long-line', 'holds a blank or a line break'],
      ['build:er', 'fine-password', 'holds a ":"'],
    ];
    for (const [user, password, refused] of cases) {
      const r = validate(dir, text, { MPIMG_BUILD_SECRET_REPO_USER: user, MPIMG_BUILD_SECRET_REPO_PASSWORD: password });
      const ssh = credentialProblem(DNF_REPO, 'username', user) ?? credentialProblem(DNF_REPO, 'password', password);
      expect(r.ok, `${JSON.stringify([user, password])}: ${r.out}`).toBe(refused === undefined);
      const field = user.includes(':') ? 'username' : 'password';
      if (refused) {
        const what = `${field} of repository "acme-rpm" (build secret ${field === 'username' ? 'REPO_USER' : 'REPO_PASSWORD'}) ${refused}`;
        expect(ssh?.message).toMatch(new RegExp(`^the ${what.replace(/[$()"{]/g, '\\$&')}`));
        expect(r.out.replace(/\s+/g, ' ')).toContain(`The ${what}`);
      } else expect(ssh).toBeUndefined();
    }
  }, 120_000);
});

/**
 * The template's repositories step (without the build script's own `repositories` command, which
 * fetches keys and runs apt-get update: test/bundle/build-script.test.ts covers it) and scripts step,
 * run by the real packer over the test sshd with MPIMG_ROOT a staged root (the template sets "/").
 */
function runSteps(dir: string, text: string, staged: string, env: Record<string, string>, remote: string) {
  const step = (name: string): string => {
    const from = text.indexOf(`\n  # step ${name}: `);
    return text.slice(from, text.indexOf('\n  # step ', from + 1));
  };
  const repositories = step('repositories')
    .split('\n\n')
    .filter((b) => !b.includes('acme-wiki-build.sh repositories'))
    .join('\n\n');
  expect(repositories).toContain('MPIMG_REPO_AUTH_1=');
  return runProvisioners(dir, text, `${repositories}\n${step('scripts')}`, staged, env, remote);
}

/** Provisioners of the template run by the real packer over the test sshd, MPIMG_ROOT the staged root. */
function runProvisioners(
  dir: string,
  text: string,
  provisioners: string,
  staged: string,
  env: Record<string, string>,
  remote: string,
) {
  // Packer's own files (its script, the environment file with the credentials) in a folder of the
  // test, not this machine's /tmp: a failed provisioner leaves them behind.
  const steps = provisioners
    .replaceAll('"MPIMG_ROOT=/"', JSON.stringify(`MPIMG_ROOT=${staged}`))
    .replaceAll('provisioner "shell" {\n', `provisioner "shell" {\n    remote_folder = ${JSON.stringify(remote)}\n`);
  // nothing of this machine's own /etc: every step writes under the staged root
  expect(steps).not.toContain('MPIMG_ROOT=/"');
  const variables = [...text.matchAll(/^variable "build_secret_[A-Z_]+" \{\n[\s\S]*?\n\}\n/gm)].map((m) => m[0]);
  const runDir = nullBuildDir(sshd, {
    head: variables.join('\n'),
    locals: { project: hclString(dir), work: hclString(join(tempDir('mpimg-packer-work-'), 'work')) },
    body: steps,
  });
  return packer(runDir, ['build', '-color=false', 'run.pkr.hcl'], { PACKER_LOG: '1', ...env });
}

describe('repository credentials put in place and taken away by the Packer template', () => {
  it('apt: auth.conf.d/<name>.conf 0600 for the build scripts, gone after them with the list', () => {
    const seen = join(tempDir('mpimg-packer-seen-'), 'auth');
    const token = `q"u'o\`te$(id)\\back;&<>#\${var.do_token}%{ifx}$HOME`;
    const { dir, text } = project('debian-12-x64', APT_REPO, ['REPO_TOKEN'], seen);
    const staged = tempDir('mpimg-packer-root-');
    const list = join(staged, 'etc/apt/sources.list.d/acme-private.sources');
    mkdirSync(join(staged, 'etc/apt/sources.list.d'), { recursive: true });
    writeFileSync(list, '# mpimg:acme-wiki repository acme-private: written by acme-wiki-build.sh\n');
    const remote = tempDir('mpimg-packer-remote-');
    const r = runSteps(dir, text, staged, { MPIMG_BUILD_SECRET_REPO_TOKEN: token }, remote);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    // during the build scripts: apt's file, 0600, in auth.conf(5)'s form, the value exactly as given
    expect(readFileSync(`${seen}.mode`, 'utf8')).toBe('600\n');
    expect(readFileSync(seen, 'utf8')).toBe(
      `# mpimg:acme-wiki build credentials, removed before the snapshot\nmachine https://apt.acme.example/debian login builder password ${token}\n`,
    );
    expect(readFileSync(`${seen}.cmdlines`, 'utf8')).toContain('10-install.sh');
    expect(readFileSync(`${seen}.cmdlines`, 'utf8')).not.toContain(token);
    expect(r.stdout).toContain('credentials of repository acme-private in place for the build');
    expect(r.stdout).toContain('credentials of repository acme-private removed, with its list');
    // after them: neither the credentials nor the list (apt-get update would fail on it), nor a temp file
    expect(existsSync(join(staged, 'etc/apt/auth.conf.d/acme-private.conf'))).toBe(false);
    expect(existsSync(list)).toBe(false);
    expect(spawnSync('ls', ['-A', join(staged, 'etc/apt/auth.conf.d')], { encoding: 'utf8' }).stdout).toBe('');
    expect(statSync(join(staged, 'etc/apt/auth.conf.d')).mode & 0o777).toBe(0o700);
    // Packer printed nothing of it, its debug log (PACKER_LOG=1, on stderr) included
    expect(r.stdout + r.stderr).not.toContain(token);
    expect(r.stdout + r.stderr).not.toContain('$(id)\\back');
    // and took its environment file with the credentials away again
    expect(spawnSync('ls', ['-A', remote], { encoding: 'utf8' }).stdout).toBe('');
  }, 240_000);

  it('dnf: username and password in the 0600 .repo for the build scripts, the .repo gone after them', () => {
    const seen = join(tempDir('mpimg-packer-seen-'), 'auth');
    const password = `q"u'o\`te\\back;&<>#$-%{ifx}$`;
    const { dir, text } = project('rockylinux-9-x64', DNF_REPO, ['REPO_USER', 'REPO_PASSWORD'], seen);
    const staged = tempDir('mpimg-packer-root-');
    const repo = join(staged, 'etc/yum.repos.d/acme-rpm.repo');
    mkdirSync(join(staged, 'etc/yum.repos.d'), { recursive: true });
    // as the build script's repositories command leaves it: 0644, no credentials
    const written = '# mpimg:acme-wiki repository acme-rpm: written by acme-wiki-build.sh\n[acme-rpm]\nname=acme-rpm\n';
    writeFileSync(repo, written, { mode: 0o644 });
    const remote = tempDir('mpimg-packer-remote-');
    const r = runSteps(
      dir,
      text,
      staged,
      { MPIMG_BUILD_SECRET_REPO_USER: 'builder-7', PKR_VAR_build_secret_REPO_PASSWORD: password },
      remote,
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(`${seen}.mode`, 'utf8')).toBe('600\n');
    expect(readFileSync(seen, 'utf8')).toBe(`${written}username=builder-7\npassword=${password}\n`);
    expect(readFileSync(`${seen}.cmdlines`, 'utf8')).not.toContain(password);
    expect(existsSync(repo)).toBe(false);
    expect(r.stdout).toContain('credentials of repository acme-rpm removed, with its list');
    expect(r.stdout + r.stderr).not.toContain(password);
    expect(spawnSync('ls', ['-A', remote], { encoding: 'utf8' }).stdout).toBe('');
  }, 240_000);

  it('dnf: a missing .repo stops the build, naming the repository', () => {
    const { dir, text } = project('rockylinux-9-x64', DNF_REPO, ['REPO_USER', 'REPO_PASSWORD']);
    const staged = tempDir('mpimg-packer-root-');
    const r = runSteps(
      dir,
      text,
      staged,
      { MPIMG_BUILD_SECRET_REPO_USER: 'builder-7', MPIMG_BUILD_SECRET_REPO_PASSWORD: 'a-good-password' },
      tempDir('mpimg-packer-remote-'),
    );
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('repository acme-rpm: its credentials could not be put in place');
    expect(existsSync(join(staged, 'etc/yum.repos.d/acme-rpm.repo'))).toBe(false);
  }, 240_000);
});

describe("the Packer template's search for the build secrets' values in the image", () => {
  it('names the files that hold a value (never the value), stops the build, and passes a clean image', () => {
    const cert = `-----BEGIN CERT-----\nMIIBdummy-line-of-a-cert-0123456789\nshort\n-----END CERT-----`;
    const dir = makeProject({
      manifest: {
        build: { packages: ['jq'], secrets: [{ name: 'LICENSE_KEY' }, { name: 'CERT' }] },
      } as Partial<Manifest>,
    });
    const text = readFileSync(writeBundle(loadProject(dir)).packer, 'utf8');
    const from = text.indexOf('\n  # step check: ');
    const check = text.slice(from, text.indexOf('\n  # step ', from + 1));
    const scan = check.split('\n\n').filter((b) => b.includes('mpimg-scan'));
    expect(scan).toHaveLength(1);
    const env = { MPIMG_BUILD_SECRET_LICENSE_KEY: `lic"$(id)\\x-4242`, MPIMG_BUILD_SECRET_CERT: cert };
    const staged = tempDir('mpimg-packer-root-');
    mkdirSync(join(staged, 'opt/acme'), { recursive: true });
    mkdirSync(join(staged, 'run'), { recursive: true });
    writeFileSync(join(staged, 'opt/acme/app.env'), `KEY=${env.MPIMG_BUILD_SECRET_LICENSE_KEY}\n`);
    writeFileSync(join(staged, 'opt/acme/cert.pem'), 'MIIBdummy-line-of-a-cert-0123456789\n');
    writeFileSync(join(staged, 'opt/acme/fine.txt'), 'short\n-----BEGIN CERT-----\n');
    writeFileSync(join(staged, 'run/ignored'), env.MPIMG_BUILD_SECRET_LICENSE_KEY);
    const remote = tempDir('mpimg-packer-remote-');
    const leaked = runProvisioners(dir, text, scan[0], staged, env, remote);
    expect(leaked.status).not.toBe(0);
    const out = leaked.stdout + leaked.stderr;
    expect(out).toContain('[FAIL] /opt/acme/app.env holds the value of a build secret ($.build.secrets)');
    expect(out).toContain('[FAIL] /opt/acme/cert.pem holds the value of a build secret');
    expect(out).not.toContain('fine.txt');
    expect(out).not.toContain('/run/ignored');
    expect(out).toContain("a build secret's value is in the image");
    expect(out).not.toContain('lic"$(id)');
    expect(out).not.toContain('MIIBdummy');
    // the environment file with the values is gone, also when the script failed
    expect(spawnSync('ls', ['-A', remote], { encoding: 'utf8' }).stdout).not.toMatch(/varfile/);
    for (const f of ['app.env', 'cert.pem']) rmSync(join(staged, 'opt/acme', f));
    const clean = runProvisioners(dir, text, scan[0], staged, env, tempDir('mpimg-packer-remote-'));
    expect(clean.status, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toContain('[PASS] no value of the 2 build secret(s) in the image');
  }, 240_000);

  it('searches for the lines secretNeedles names (awk on the droplet, the rule of the SSH check)', () => {
    const values = [
      `q"u'o\`te$(id)\\back;&<>#`,
      '  indented value with blanks  ',
      '-----BEGIN KEY-----\nMIIBdummy-line-of-a-key-0123456789\n   short\n  an indented long line of it  \r\n-----END KEY-----',
      'two\nshort-line\n',
    ];
    for (const v of values) {
      const r = spawnSync('awk', [NEEDLES_AWK], { input: `${v}\n`, encoding: 'utf8' });
      expect(r.stdout.split('\n').filter(Boolean).sort(), JSON.stringify(v)).toEqual(
        secretNeedles([v])
          .filter((n) => n !== '' && !n.includes('\n'))
          .sort(),
      );
    }
  });
});

describe('the shell of these provisioners', () => {
  it('is shellcheck-clean (the inline lines as Packer runs them)', () => {
    const texts = [
      project('debian-12-x64', APT_REPO, ['REPO_TOKEN']).text,
      project('rockylinux-9-x64', DNF_REPO, ['REPO_USER', 'REPO_PASSWORD']).text,
    ];
    const scripts = texts.flatMap((t) =>
      [...t.matchAll(/^ {6}(".*"),$/gm)]
        .map((m) => JSON.parse(m[1].replaceAll('$${', '${').replaceAll('%%{', '%{')) as string)
        .filter((l) => /MPIMG_REPO_AUTH|mpimg-scan|removed, with its list/.test(l)),
    );
    // placement, removal and scan, for apt and dnf
    expect(scripts).toHaveLength(6);
    const dir = tempDir('mpimg-packer-sc-');
    scripts.forEach((s, i) => writeFileSync(join(dir, `${i}.sh`), `#!/bin/sh -e\n${s}\n`));
    const r = spawnSync('shellcheck', ['-s', 'sh', ...scripts.map((_, i) => join(dir, `${i}.sh`))], {
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('without build scripts', () => {
  it('the scripts step still takes the credentials away (as the task does), and only that', () => {
    const dir = makeProject({
      manifest: {
        build: { packages: ['jq'], secrets: [{ name: 'REPO_TOKEN' }], repositories: [APT_REPO] },
      } as Partial<Manifest>,
    });
    writeFileSync(join(dir, 'acme.gpg'), 'not read by this test\n');
    rmSync(join(dir, 'scripts'), { recursive: true });
    const text = readFileSync(writeBundle(loadProject(dir)).packer, 'utf8');
    const from = text.indexOf('\n  # step scripts: ');
    const step = text.slice(from, text.indexOf('\n  # step ', from + 1));
    expect(step.match(/provisioner "/g)).toHaveLength(1);
    expect(step).toContain("echo 'credentials of repository acme-private removed, with its list");
    expect(step).not.toContain('${local.work}/scripts');
  });
});
