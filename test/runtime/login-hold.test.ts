// The login hold must never lock anyone out: it takes effect only at the first boot of a NEW droplet,
// sshd must accept the configuration while held, after the release and after a later append (checked
// with the real sshd binary), and it is released even when a step hangs or the helper library broke.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';

const HOLD = '/opt/acme/acme-wiki/login-hold';
const DROPIN = 'etc/ssh/sshd_config.d/00-acme-wiki-login-hold.conf';
const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const NO_METADATA = { MPIMG_METADATA_URL: 'http://127.0.0.1:9/none', MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' };
const RUN_PARTS = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
// sshd -t needs a host key; a new droplet has none until cloud-init makes them.
const SSHD_T =
  'mkdir -p /run/sshd && k=$(mktemp -d) && ssh-keygen -q -t ed25519 -N "" -f $k/k && /usr/sbin/sshd -t -f /etc/ssh/sshd_config -h $k/k; r=$?; rm -rf $k; exit $r';

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture();
});

type Stage = 'new' | 'booted' | 'no-cloud-init';

/** A staged droplet after install, as a new droplet (cloud-init started, scripts not run) or the build droplet. */
function droplet(opts: { stage: Stage; dropins: boolean; sshd?: string }): string {
  const root = stagedRoot();
  const cfg =
    opts.sshd ??
    (opts.dropins
      ? 'Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\nSubsystem sftp /usr/lib/openssh/sftp-server\n'
      : 'PasswordAuthentication no\nSubsystem sftp /usr/lib/openssh/sftp-server\n');
  fs.writeFileSync(path.join(root, 'etc/ssh/sshd_config'), cfg);
  if (opts.dropins) fs.mkdirSync(path.join(root, 'etc/ssh/sshd_config.d'));
  const r = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  if (opts.stage !== 'no-cloud-init') {
    const sem = path.join(root, 'var/lib/cloud/instances/i-1/sem');
    fs.mkdirSync(sem, { recursive: true });
    fs.symlinkSync('/var/lib/cloud/instances/i-1', path.join(root, 'var/lib/cloud/instance'));
    fs.writeFileSync(path.join(sem, 'consume_data'), '');
    if (opts.stage === 'booted') fs.writeFileSync(path.join(sem, 'config_scripts_per_instance'), '');
  }
  return root;
}

const sshdConfig = (root: string) => fs.readFileSync(path.join(root, 'etc/ssh/sshd_config'), 'utf8');

describe('the login hold', () => {
  it('is never armed on a droplet whose first boot already ran (the build droplet), nor without cloud-init', () => {
    for (const stage of ['booted', 'no-cloud-init'] as const) {
      const root = droplet({ stage, dropins: true });
      const before = sshdConfig(root);
      const r = runInSandbox(root, `${HOLD} arm`);
      expect(r.status, r.stderr).toBe(0);
      expect(fs.existsSync(path.join(root, DROPIN))).toBe(false);
      expect(sshdConfig(root)).toBe(before);
    }
  });

  it('with sshd_config.d: a drop-in of its own; sshd -t passes held, released, and after an append', () => {
    const root = droplet({ stage: 'new', dropins: true });
    const before = sshdConfig(root);
    const armed = runInSandbox(root, `${HOLD} arm && ${SSHD_T}`);
    expect(armed.status, armed.stdout + armed.stderr).toBe(0);
    expect(fs.readFileSync(path.join(root, DROPIN), 'utf8')).toBe(
      [
        '# >>> mpimg:acme-wiki login-hold >>>',
        `# Until this new droplet finished its first boot; removed by ${HOLD} release.`,
        'Match User root',
        `\tForceCommand ${HOLD} wait`,
        'Match all',
        '# <<< mpimg:acme-wiki login-hold <<<',
        '',
      ].join('\n'),
    );
    expect(sshdConfig(root)).toBe(before);
    // what a held root login sees
    const wait = runInSandbox(root, `${HOLD} wait`);
    expect(wait.stdout).toBe('Acme Wiki is still finishing its first boot. Please log in again in a minute.\n');
    // arming twice changes nothing
    runInSandbox(root, `${HOLD} arm`);
    expect(fs.readdirSync(path.join(root, 'etc/ssh/sshd_config.d'))).toEqual(['00-acme-wiki-login-hold.conf']);
    const released = runInSandbox(root, `${HOLD} release && ${SSHD_T}`);
    expect(released.status, released.stderr).toBe(0);
    expect(fs.existsSync(path.join(root, DROPIN))).toBe(false);
    fs.appendFileSync(path.join(root, 'etc/ssh/sshd_config'), 'X11Forwarding no\n');
    expect(runInSandbox(root, SSHD_T).status).toBe(0);
  });

  it('without sshd_config.d: a block closed with `Match all`, so what is appended later stays global', () => {
    const root = droplet({ stage: 'new', dropins: false });
    const before = sshdConfig(root);
    expect(runInSandbox(root, `${HOLD} arm`).status).toBe(0);
    expect(sshdConfig(root)).toBe(
      `${before}# >>> mpimg:acme-wiki login-hold >>>\n# Until this new droplet finished its first boot; removed by ${HOLD} release.\nMatch User root\n\tForceCommand ${HOLD} wait\nMatch all\n# <<< mpimg:acme-wiki login-hold <<<\n`,
    );
    expect(runInSandbox(root, SSHD_T).status).toBe(0);
    // a global keyword appended while held (e.g. by a first-boot step) keeps sshd starting
    fs.appendFileSync(path.join(root, 'etc/ssh/sshd_config'), 'Subsystem backup /bin/true\n');
    const held = runInSandbox(root, SSHD_T);
    expect(held.status, held.stderr).toBe(0);
    expect(runInSandbox(root, `${HOLD} release && ${SSHD_T}`).status).toBe(0);
    expect(sshdConfig(root)).toBe(`${before}Subsystem backup /bin/true\n`);
  });

  it('is not armed when sshd would refuse the configuration with it', () => {
    // already broken before the hold: the hold must not be what keeps people out
    const root = droplet({
      stage: 'new',
      dropins: false,
      sshd: 'Match User nobody\n\tX11Forwarding no\nNotAKeyword yes\n',
    });
    const before = sshdConfig(root);
    const r = runInSandbox(root, `${HOLD} arm`);
    expect(r.stderr).toContain('sshd would not start with the hold: not holding logins');
    expect(sshdConfig(root)).toBe(before);
  });

  it('first boot releases it even when the helper library is broken', () => {
    const root = droplet({ stage: 'new', dropins: true });
    runInSandbox(root, `${HOLD} arm`);
    expect(fs.existsSync(path.join(root, DROPIN))).toBe(true);
    fs.writeFileSync(path.join(root, 'opt/acme/acme-wiki/lib.sh'), 'this is ( not shell\n');
    runInSandbox(root, RUN_PARTS, { env: NO_METADATA });
    expect(fs.existsSync(path.join(root, DROPIN))).toBe(false);
  });

  it('a hung first-boot step is stopped at its timeout with what it started, counted as failed, and the rest go on', () => {
    const root = droplet({ stage: 'new', dropins: true });
    runInSandbox(root, `${HOLD} arm`);
    const step = path.join(root, 'opt/acme/acme-wiki/first-boot/10-password');
    fs.writeFileSync(step, '#!/bin/sh\nsleep 7331 &\nsleep 7332\n');
    // the bundle sets the manifest's timeout (minutes); here the wrapper gets 2 s
    const wrapper = path.join(root, 'var/lib/cloud/scripts/per-instance/10-acme-wiki-password');
    const text = fs.readFileSync(wrapper, 'utf8');
    expect(text).toMatch(/ 1800\n$/);
    fs.writeFileSync(wrapper, text.replace(/ 1800\n$/, ' 2\n'));
    const start = Date.now();
    const r = runInSandbox(root, RUN_PARTS, { env: NO_METADATA });
    expect(Date.now() - start).toBeLessThan(20_000);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/10-acme-wiki-password`);
    expect(r.stderr).toContain('first-boot step 10-password failed (exit 124)');
    const log = fs.readFileSync(path.join(root, 'var/log/mpimg/acme-wiki/10-password.log'), 'utf8');
    expect(log).toContain('10-password timed out after 2 s and was stopped');
    expect(fs.readFileSync(path.join(root, 'var/log/mpimg/acme-wiki/20-ip.log'), 'utf8')).toContain('exit=0');
    expect(fs.readFileSync(path.join(root, 'var/lib/mpimg/acme-wiki/first-boot.failed'), 'utf8')).toBe(
      '10-password 124\n',
    );
    expect(fs.existsSync(path.join(root, DROPIN))).toBe(false);
    expect(spawnSync('pgrep', ['-f', 'sleep 733[12]']).status).toBe(1);
  });
});
