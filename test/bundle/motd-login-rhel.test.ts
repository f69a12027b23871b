/**
 * The MOTD of the RHEL family at a REAL login. The RHEL family runs no /etc/update-motd.d, so the
 * bundle installs /etc/profile.d/zz-<slug>-motd.sh, which login shells source. Here the bundle is
 * installed for Rocky Linux 9 into a root of its own (test/helpers/host-root.ts) and root logs in
 * there as a customer does: over SSH (this machine's sshd with PAM, and ssh -tt) and at the console
 * (login(1)), each with a PAM session and a bash login shell on a pseudo-terminal
 * (test/helpers/login-root.ts).
 *
 * Proven: a login shell reads the snippet through /etc/profile's /etc/profile.d/*.sh loop and shows
 * the message once (a nested login shell does not repeat it), and after a real first boot with a
 * failed step a warning naming it; a command run without a terminal, as `ssh host cmd`, scp or rsync
 * run it, gets no MOTD in its output; without the snippet the login shows none (nothing else prints
 * it). Not proven: Rocky's own /etc/profile, /etc/bashrc and PAM
 * stack and sshd_config (these are Debian's; Rocky's /etc/profile has the same profile.d loop), nor
 * Rocky's /etc/bashrc, which also sources profile.d in interactive non-login shells.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { addLogin, login, sshLogin } from '../helpers/login-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { put } from '../scripts/fixture-root.js';

const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const SNIPPET = 'etc/profile.d/zz-acme-wiki-motd.sh';
// A line of the vendor's text that a shell or printf would change if it ever read it as code.
const HOSTILE = `Try: echo "$(id)" & <b>'x'</b> \\n %s \`id\` $HOME`;
const WELCOME = new RegExp(
  `Welcome to Acme Wiki 1\\.2\\.3!\nOpen http://[^\n/]+/ in a browser\\.\n${HOSTILE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`,
  'g',
);
let root: string;

beforeAll(() => {
  for (const tool of ['login', 'script', 'bash', 'unshare', 'sshd', 'ssh', 'ssh-keygen', 'ip']) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { env: { PATH: '/usr/sbin:/usr/bin' } }).status !== 0)
      throw new Error(
        `${tool} is not installed: these tests log in for real (Debian: apt-get install login bsdutils util-linux openssh-server openssh-client iproute2)`,
      );
  }
  root = hostRoot('rocky');
  addLogin(root);
  const out = tempDir('mpimg-dist-');
  chmodSync(out, 0o755);
  const dir = makeProject({ manifest: { distributions: ['rockylinux-9-x64'], loginHold: false }, firstLogin: false });
  // a first-boot step that fails: the login names it
  put(dir, 'motd.txt', `Welcome to {{name}} {{version}}!\nOpen http://{{ip}}/ in a browser.\n${HOSTILE}\n`);
  put(dir, 'first-boot/30-mail.sh', '#!/bin/sh\necho "no mail relay" >&2\nexit 3\n', 0o755);
  const b = writeBundle(loadProject(dir), out);
  const r = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`install --root failed: ${r.stderr}`);
}, 120_000);

describe('the RHEL family MOTD at a real login', () => {
  it('a console login shows it once, before the prompt; a nested login shell does not repeat it', () => {
    const r = login(root, 'echo "typed: $(id -un)"\nbash -lic \'echo "nested: $SHLVL"\'\nexit\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(WELCOME), r.stdout).toHaveLength(1);
    expect(r.stdout).toMatch(/\ntyped: root\n/);
    expect(r.stdout).toMatch(/\nnested: 2\n/);
    // the message comes before what was typed ran
    expect(r.stdout.search(WELCOME)).toBeLessThan(r.stdout.indexOf('\ntyped: root\n'));
    expect(processesIn(root)).toEqual([]);
  }, 120_000);

  it('an SSH login (sshd with PAM, ssh -tt) shows it once; `ssh host command` gets none in its output', () => {
    const r = sshLogin(root, 'echo "typed: $(id -un)"\nexit\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(WELCOME), r.stdout).toHaveLength(1);
    expect(r.stdout).toMatch(/\ntyped: root\n/);
    const cmd = sshLogin(root, '', 'echo done');
    expect(cmd.code, cmd.stderr).toBe(0);
    expect(cmd.stdout).toBe('done\n');
    expect(processesIn(root)).toEqual([]);
  }, 120_000);

  it('a command without a terminal (ssh host cmd, scp, rsync) gets no MOTD in its output', () => {
    for (const shell of ["bash -c 'echo done'", "bash -lc 'echo done'", "sh -lc 'echo done'"]) {
      const r = inHostRoot(root, `cd /root && HOME=/root ${shell}`, { net: true });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout, shell).toBe('done\n');
    }
  }, 120_000);

  it('after a first boot with a failed step, the login says so and names it', () => {
    const boot = inHostRoot(root, `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`, {
      net: true,
      env: { MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' },
    });
    expect(boot.stdout).toContain(`FAILED ${PER_INSTANCE}/30-acme-wiki-mail\n`);
    const r = login(root, 'echo "typed: $(id -un)"\nexit\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(WELCOME), r.stdout).toHaveLength(1);
    expect(r.stdout).toMatch(/\nWARNING: first-boot steps failed; see \/var\/log\/mpimg\/acme-wiki:\n {2}30-mail 3\n/);
  }, 120_000);

  it('without the snippet the login shows no MOTD: it is what shows it', () => {
    rmSync(join(root, SNIPPET));
    const r = login(root, 'echo "typed: $(id -un)"\nexit\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\ntyped: root\n/);
    expect(r.stdout).not.toMatch(/Welcome to Acme Wiki/);
  }, 120_000);
});
