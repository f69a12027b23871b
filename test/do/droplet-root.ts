/**
 * "A droplet made from the image" for tests: a root filesystem in a temp dir with the project's
 * real bundle installed (its sh installer, under --root) and its real first boot run (the login
 * hold armed, the per-instance scripts in order, as cloud-init runs them), reached over a real sshd
 * on 127.0.0.1 whose every session runs inside that root: a private mount namespace with this
 * machine's /usr bound read-only, fake systemctl/ufw/cloud-init/curl/hostname/ip/apt-get in front
 * of it (/usr/local/sbin), its own /proc, then chroot. Nothing a session does can reach this
 * machine's /etc, /root, /var or /run, and the fake curl answers the metadata address itself, so
 * nothing is ever sent to 169.254.169.254.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

export const DROPLET_IP = '198.51.100.7';
export const SLUG = 'acme-wiki';
export const CREDENTIALS = `/root/.${SLUG}-credentials`;
export const ADMIN_PASSWORD_MARK = 'mpimg-test-admin-password-';

export const VERIFY_MANIFEST = {
  name: 'Acme Wiki',
  slug: SLUG,
  vendor: 'acme',
  version: '1.2.0',
  distributions: ['debian-12-x64'],
  loginHold: true,
  services: ['acme-wiki.service'],
  firewall: { limit: ['22/tcp'], allow: ['80/tcp'] },
  verify: { commands: [`test -s /var/lib/${SLUG}/ready`] },
  droplet: { region: 'fra1' },
};

function put(root: string, rel: string, text: string | Buffer, mode = 0o644): void {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
  chmodSync(abs, mode);
}

/** An image project with a bundle in dist/ (made by the real bundler). */
export function verifyProject(
  manifest: Record<string, unknown> = VERIFY_MANIFEST,
  steps: Record<string, string> = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpimg-verify-proj-'));
  put(dir, 'mpimg.json', `${JSON.stringify(manifest, null, 2)}\n`);
  put(
    dir,
    'first-boot/10-setup.sh',
    steps.setup ??
      [
        '#!/bin/sh',
        'set -eu',
        `. /opt/acme/${SLUG}/lib.sh`,
        `mpimg_save_credential ADMIN_PASSWORD "${ADMIN_PASSWORD_MARK}$(mpimg_random_password 12)"`,
        `mkdir -p /var/lib/${SLUG} && echo yes > /var/lib/${SLUG}/ready`,
        'echo setup done',
        '',
      ].join('\n'),
    0o755,
  );
  put(dir, 'first-boot/20-ip.sh', steps.ip ?? '#!/bin/sh\nset -eu\necho configured\n', 0o755);
  put(dir, 'motd.txt', 'Welcome to {{name}} {{version}}!\nOpen http://{{ip}}/ in a browser.\n');
  // A task file without imports (the standard tasks, verify among them, come from the CLI).
  put(
    dir,
    'mpimgfile.mjs',
    [
      "const mark = Symbol.for('generator-mpimg.task');",
      "export const hello = Object.assign(async () => {}, { taskName: 'hello', description: 'hello', [mark]: true });",
      '',
    ].join('\n'),
  );
  writeBundle(loadProject(dir));
  return dir;
}

/** What the fake commands in front of /usr answer, changeable per test. */
export interface FakeState {
  /** Units `systemctl is-active` calls active. */
  active: string[];
  /** `ufw status` output. */
  ufw: string;
  /** What the metadata service gives as the public IPv4. */
  metadataIp: string;
  /** What `apt-get -s dist-upgrade` and `apt-cache policy` print, and `apt-get update` exits with. */
  aptSimulation?: string;
  aptPolicy?: string;
  aptUpdateExit?: number;
}

/**
 * Recorded apt answers (`apt-get -s dist-upgrade`, `apt-cache policy`) for the three answers of
 * `mpimg outdated`. security: a security fix, one held back by `upgrade` (a new dependency comes
 * with it: no [installed] version) and a stable update (exit 4); other: the stable update alone
 * (exit 3); none: nothing pending (exit 0).
 */
const SIMULATION = `Inst libnew1 (1.0-1 Debian-Security:12/stable-security [amd64])
Inst libfoo [1.0-1] (1.0-2 Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable-updates [all])
Conf libnew1 (1.0-1 Debian-Security:12/stable-security [amd64])
`;
const policyTable = (name: string, from: string, to: string, suite: string) => `${name}:
  Installed: ${from}
  Candidate: ${to}
  Version table:
     ${to} 500
        500 http://deb.debian.org/debian${suite.endsWith('-security') ? '-security' : ''} ${suite}/main amd64 Packages
 *** ${from} 100
        100 /var/lib/dpkg/status
`;
const POLICY =
  policyTable('libfoo', '1.0-1', '1.0-2', 'bookworm-security') +
  policyTable('openssl', '3.0.11-1~deb12u1', '3.0.11-1~deb12u2', 'bookworm-security') +
  policyTable('tzdata', '2024a-0+deb12u1', '2025b-0+deb12u1', 'bookworm-updates');
export const APT_ANSWERS = {
  security: { aptSimulation: SIMULATION, aptPolicy: POLICY, aptUpdateExit: 0 },
  other: { aptSimulation: SIMULATION.split('\n').slice(3).join('\n'), aptPolicy: POLICY, aptUpdateExit: 0 },
  none: { aptSimulation: '', aptPolicy: '', aptUpdateExit: 0 },
  /** The package indexes cannot be refreshed: `mpimg outdated` cannot tell (exit 1). */
  noIndexes: { aptSimulation: SIMULATION, aptPolicy: POLICY, aptUpdateExit: 100 },
} satisfies Record<string, Partial<FakeState>>;

const UFW_ACTIVE = [
  'Status: active',
  '',
  'To                         Action      From',
  '--                         ------      ----',
  '22/tcp                     LIMIT       Anywhere',
  '80/tcp                     ALLOW       Anywhere',
  '22/tcp (v6)                LIMIT       Anywhere (v6)',
  '80/tcp (v6)                ALLOW       Anywhere (v6)',
  '',
].join('\n');

/** /etc/ufw/user.rules as ufw writes it for limit 22/tcp, allow 80/tcp ("### tuple ###" before each rule). */
const UFW_USER_RULES = [
  '*filter',
  ':ufw-user-input - [0:0]',
  '### RULES ###',
  '',
  '### tuple ### limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in',
  '-A ufw-user-input -p tcp --dport 22 -j ufw-user-limit',
  '',
  '### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in',
  '-A ufw-user-input -p tcp --dport 80 -j ACCEPT',
  '',
  '### END RULES ###',
  'COMMIT',
  '',
].join('\n');

function fakeBin(bin: string): void {
  const f = (name: string, body: string) => put(bin, name, `#!/bin/sh\n${body}\n`, 0o755);
  // Answers from /fake-state/* inside the root, so a test can change them between runs.
  f(
    'systemctl',
    [
      'if [ "$1" = is-active ]; then shift; [ "$1" = -- ] && shift',
      '  if grep -qx -- "$1" /fake-state/active 2>/dev/null; then echo active; exit 0; fi; echo inactive; exit 3; fi',
      'exit 0',
    ].join('\n'),
  );
  f('ufw', '[ "$1" = status ] && cat /fake-state/ufw; exit 0');
  f(
    'cloud-init',
    [
      'case "$*" in *--version*) echo "/usr/bin/cloud-init 23.1.1" ;;',
      '  status*) printf "status: done\\nextended_status: done\\nboot_status_code: enabled-by-generator\\n" ;; esac',
    ].join('\n'),
  );
  f(
    'curl',
    'for a in "$@"; do case $a in *169.254.169.254*) cat /fake-state/metadata-ip; exit 0 ;; esac; done; echo "curl: no network in the test droplet" >&2; exit 7',
  );
  f('hostname', `if [ "$1" = -I ]; then echo "${DROPLET_IP} "; else echo acme-wiki-droplet; fi`);
  f('ip', `echo "2: eth0    inet ${DROPLET_IP}/24 brd 198.51.100.255 scope global eth0"`);
  // The image check counts pending updates with apt-get -s dist-upgrade and apt-cache policy: none
  // here, unless a test puts recorded answers in /fake-state (apt-update-exit: what apt-get update exits with).
  f(
    'apt-get',
    [
      'case " $* " in *" update "*) exit "$(cat /fake-state/apt-update-exit 2>/dev/null || echo 0)" ;;',
      '  *" -s "*) cat /fake-state/apt-simulation 2>/dev/null ;; esac',
      'exit 0',
    ].join('\n'),
  );
  f('apt-cache', 'case " $* " in *" policy "*) cat /fake-state/apt-policy 2>/dev/null ;; esac; exit 0');
}

export interface TestDroplet {
  root: string;
  sshd: Sshd;
  /** Runs a shell script inside the droplet (as its sessions do). */
  exec(script: string, env?: Record<string, string>): { code: number | null; stdout: string; stderr: string };
  setFake(s: Partial<FakeState>): void;
  stop(): Promise<void>;
}

/** The mount-namespace-and-chroot wrapper every session (and exec) runs through. */
function wrapperScript(root: string, bin: string): string {
  // Paths from mkdtemp: letters, digits, "/", "-" only, so single quotes hold them.
  if (!/^[A-Za-z0-9/_.-]+$/.test(root + bin)) throw new Error(`odd temp path ${root} ${bin}`);
  return [
    '#!/bin/sh',
    '# The session runs inside the test droplet root: never on this machine.',
    `exec unshare --mount --propagation private /bin/sh -c '`,
    '  set -e; r=$1; b=$2',
    '  mount --bind /usr "$r/usr"; mount -o remount,bind,ro "$r/usr"',
    '  mount --bind "$b" "$r/usr/local/sbin"',
    '  mount -t proc -o nosuid,nodev,noexec proc "$r/proc"',
    // As the droplet's own sshd would: a ForceCommand of its sshd_config.d replaces the command.
    '  for f in "$r"/etc/ssh/sshd_config.d/*.conf; do [ -f "$f" ] || continue',
    '    fc=$(sed -n "s/^[[:space:]]*ForceCommand[[:space:]]*//p" "$f" | head -n 1); [ -z "$fc" ] || SSH_ORIGINAL_COMMAND=$fc; done',
    '  exec chroot "$r" /bin/sh -c "$SSH_ORIGINAL_COMMAND"',
    `' mpimg-droplet '${root}' '${bin}'`,
    '',
  ].join('\n');
}

/**
 * Installs the project's bundle into a fresh root and boots it once as a new droplet made from the
 * image. `boot.finish: false` leaves out the last first-boot step (so the hold stays).
 */
export async function testDroplet(
  project: string,
  boot: { finish?: boolean; fake?: Partial<FakeState>; seedKey?: boolean } = {},
): Promise<TestDroplet> {
  const root = mkdtempSync(join(tmpdir(), 'mpimg-droplet-'));
  chmodSync(root, 0o755);
  const bin = mkdtempSync(join(tmpdir(), 'mpimg-droplet-bin-'));
  chmodSync(bin, 0o755);
  fakeBin(bin);
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) symlinkSync(`usr/${l}`, join(root, l));
  for (const d of [
    'usr',
    'proc',
    'opt',
    'srv',
    'home',
    'var/tmp',
    'run/sshd',
    'var/cache/apt/archives',
    'var/log',
    'etc/ssh/sshd_config.d',
    'etc/update-motd.d',
  ])
    mkdirSync(join(root, d), { recursive: true });
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
  chmodSync(join(root, 'tmp'), 0o1777);
  mkdirSync(join(root, 'dev'));
  mkdirSync(join(root, 'etc'), { recursive: true });
  for (const [n, maj, min] of [
    ['null', 1, 3],
    ['zero', 1, 5],
    ['urandom', 1, 9],
    ['random', 1, 8],
  ] as const) {
    const r = spawnSync('mknod', ['-m', '666', join(root, 'dev', n), 'c', String(maj), String(min)], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`mknod ${n}: ${r.stderr}`);
  }
  symlinkSync('/proc/self/fd', join(root, 'dev/fd'));
  // This machine's /usr names some programs through /etc/alternatives (awk -> mawk): the links, read only.
  spawnSync('cp', ['-a', '/etc/alternatives', join(root, 'etc/alternatives')]);
  // systemd "runs" (systemctl is the fake one).
  mkdirSync(join(root, 'run/systemd/system'), { recursive: true });
  put(
    root,
    'etc/os-release',
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
  );
  put(
    root,
    'etc/passwd',
    'root:x:0:0:root:/root:/bin/bash\nsshd:x:105:65534::/run/sshd:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  );
  put(root, 'etc/group', 'root:x:0:\nnogroup:x:65534:\n');
  put(root, 'etc/shadow', 'root:*:19700:0:99999:7:::\nsshd:!:19700::::::\nnobody:*:19700:0:99999:7:::\n', 0o640);
  put(root, 'etc/hostname', 'acme-wiki-droplet\n');
  put(
    root,
    'etc/ssh/sshd_config',
    'Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n',
  );
  put(root, 'etc/ufw/ufw.conf', 'ENABLED=yes\nLOGLEVEL=low\n');
  // What ufw loads at boot, as the build's firewall step left it (the same rules as UFW_ACTIVE).
  put(root, 'etc/default/ufw', 'IPV6=no\nDEFAULT_INPUT_POLICY="DROP"\n');
  put(root, 'etc/ufw/user.rules', UFW_USER_RULES);
  put(
    root,
    'var/lib/dpkg/status',
    ['base-files 12.4+deb12u5', 'cloud-init 22.4.2-1+deb12u1', 'openssh-server 1:9.2p1-2+deb12u3', 'ufw 0.36.2-1']
      .map((p) => {
        const [n, v] = p.split(' ');
        return `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\n\n`;
      })
      .join(''),
  );
  put(root, 'root/.bashrc', '# ~/.bashrc\n', 0o644);
  chmodSync(join(root, 'root'), 0o700);
  put(root, 'fake-state/active', '');

  // The image, as the build left it: the real sh installer, under --root.
  const slug = (JSON.parse(readFileSync(join(project, 'mpimg.json'), 'utf8')) as { slug: string }).slug;
  const inst = spawnSync('sh', [join(project, 'dist', `${slug}-install.sh`), 'install', '--root', root], {
    encoding: 'utf8',
  });
  if (inst.status !== 0) throw new Error(`install: ${inst.stderr}`);

  const wrapper = join(bin, '..', `${bin.split('/').pop()}-session`);
  writeFileSync(wrapper, wrapperScript(root, bin), { mode: 0o755 });
  const exec = (script: string, env: Record<string, string> = {}) => {
    const r = spawnSync('sh', [wrapper], {
      encoding: 'utf8',
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: '/root',
        LANG: 'C.UTF-8',
        ...env,
        SSH_ORIGINAL_COMMAND: script,
      },
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const setFake = (s: Partial<FakeState>) => {
    if (s.active) put(root, 'fake-state/active', s.active.map((u) => `${u}\n`).join(''));
    if (s.ufw !== undefined) put(root, 'fake-state/ufw', s.ufw);
    if (s.metadataIp !== undefined) put(root, 'fake-state/metadata-ip', `${s.metadataIp}\n`);
    if (s.aptSimulation !== undefined) put(root, 'fake-state/apt-simulation', s.aptSimulation);
    if (s.aptPolicy !== undefined) put(root, 'fake-state/apt-policy', s.aptPolicy);
    if (s.aptUpdateExit !== undefined) put(root, 'fake-state/apt-update-exit', `${s.aptUpdateExit}\n`);
  };
  setFake({ active: ['acme-wiki.service'], ufw: UFW_ACTIVE, metadataIp: DROPLET_IP, ...boot.fake });

  const sshd = await startSshd({ extraConfig: `ForceCommand ${wrapper}` });
  // First boot of a new instance: cloud-init's host keys, the droplet's SSH key, its instance data;
  // the hold armed early; then the per-instance scripts in name order, as cloud-init runs them.
  const key = readFileSync(`${sshd.identityFile}.pub`, 'utf8').trim();
  put(root, 'root/.ssh/authorized_keys', boot.seedKey === false ? '' : `${key}\n`, 0o600);
  put(
    root,
    'run/cloud-init/instance-data.json',
    `${JSON.stringify({ v1: { instance_id: 'i-verify', public_ssh_keys: [key] } })}\n`,
  );
  put(root, 'var/lib/cloud/instances/i-verify/sem/.keep', '');
  symlinkSync('/var/lib/cloud/instances/i-verify', join(root, 'var/lib/cloud/instance'));
  put(root, 'var/lib/cloud/data/instance-id', 'i-verify\n');
  put(root, 'etc/machine-id', '0123456789abcdef0123456789abcdef\n', 0o444);
  const first = exec(
    [
      'set -u',
      'ssh-keygen -q -A 2>/dev/null || true',
      `h=/opt/acme/${slug}/login-hold; if [ -x "$h" ]; then "$h" arm; fi`,
      'for f in /var/lib/cloud/scripts/per-instance/*; do',
      `  case $f in */zz-*) [ '${boot.finish === false ? 'no' : 'yes'}' = yes ] || continue ;; esac`,
      '  "$f" || echo "FAILED $f"',
      'done',
      'touch /var/lib/cloud/instance/sem/config_scripts_per_instance',
      'echo "Cloud-init v. 23.1.1 finished" > /var/log/cloud-init.log',
    ].join('\n'),
    { MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' },
  );
  if (first.code !== 0) throw new Error(`first boot: ${first.stdout}\n${first.stderr}`);
  return {
    root,
    sshd,
    exec,
    setFake,
    async stop() {
      await sshd.stop();
      rmSync(wrapper, { force: true });
      rmSync(bin, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
