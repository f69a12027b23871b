// Builds staged root filesystems in temp dirs for the cleanup and image check
// scripts, and runs those scripts on them with the real bash.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
export const CHECK_SCRIPT = join(repo, 'templates/droplet/99-img-check.sh');
export const CLEANUP_SCRIPT = join(repo, 'templates/droplet/90-cleanup.sh');

// Fake secrets planted in fixtures; none may ever show up in script output.
export const FAKE_KEY_BODY = 'b3BlbnNzaC1rZXktdjEAAAAFAKEFAKEFAKEmpimgTESTKEYbodyDoNotPrint0000';
export const FAKE_PRIVATE_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${FAKE_KEY_BODY}\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n-----END OPENSSH PRIVATE KEY-----\n`;
export const FAKE_HASH = '$6$mpimgsalt$FAKEHASHfakehashFAKEHASHfakehash0123456789abcdefABCDEF';
export const FAKE_TOKEN = 'dop_v1_fake0token0mpimg0test0000000000000000000000000000000000000';
export const SECRETS = [FAKE_KEY_BODY, 'BEGIN OPENSSH PRIVATE KEY', FAKE_HASH, 'FAKEHASHfakehash', FAKE_TOKEN];

export const SLUG = 'acme-app';
export const VENDOR = 'acme';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  signal: NodeJS.Signals | null;
}

const tmpRoots: string[] = [];

/** Writes `content` to `rel` inside `root` (parents created) with `mode`. */
export function put(root: string, rel: string, content: string | Buffer, mode = 0o644): string {
  const file = join(root, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

export function dir(root: string, rel: string, mode = 0o755): void {
  mkdirSync(join(root, rel), { recursive: true });
  chmodSync(join(root, rel), mode);
}

export function link(root: string, rel: string, target: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  symlinkSync(target, join(root, rel));
}

export function remove(root: string, rel: string): void {
  rmSync(join(root, rel), { recursive: true, force: true });
}

function dpkgEntry(pkg: string, version: string): string {
  return `Package: ${pkg}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: ${version}\nDescription: ${pkg}\n\n`;
}

export function dpkgStatus(root: string, pkgs: Record<string, string>): void {
  put(
    root,
    'var/lib/dpkg/status',
    Object.entries(pkgs)
      .map(([p, v]) => dpkgEntry(p, v))
      .join(''),
  );
}

export const BASE_PACKAGES: Record<string, string> = {
  'base-files': '12.4+deb12u5',
  'cloud-init': '22.4.2-1+deb12u1',
  'openssh-server': '1:9.2p1-2+deb12u3',
  ufw: '0.36.2-1',
};

/**
 * A staged Debian 12 root in which every check passes: it carries the image's
 * own pieces in their good form (managed login hold, first-login hook,
 * per-instance scripts, MOTD) plus a private key and a password hash in places
 * the check must not flag or print.
 */
export function cleanRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'mpimg-scripts-fx-'));
  tmpRoots.push(root);
  put(
    root,
    'etc/os-release',
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  );
  put(
    root,
    'etc/passwd',
    [
      'root:x:0:0:root:/root:/bin/bash',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'postgres:x:110:117::/var/lib/postgresql:/bin/bash',
      'sshd:x:105:65534::/run/sshd:/usr/sbin/nologin',
      'bob:x:1000:1000:Bob:/home/bob:/bin/bash',
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      '',
    ].join('\n'),
  );
  put(
    root,
    'etc/shadow',
    [
      `root:!${FAKE_HASH}:19700:0:99999:7:::`,
      'daemon:*:19700:0:99999:7:::',
      'postgres:!:19700::::::',
      'bob:!:19700:0:99999:7:::',
      'nobody:*:19700:0:99999:7:::',
      '',
    ].join('\n'),
    0o640,
  );
  dpkgStatus(root, BASE_PACKAGES);
  put(root, 'usr/sbin/sshd', '#!/bin/sh\nexit 0\n', 0o755);
  put(root, 'etc/ufw/ufw.conf', '# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n');
  put(root, 'etc/fstab', 'UUID=0a1b2c3d / ext4 errors=remount-ro 0 1\n');
  put(root, 'etc/machine-id', '');
  put(
    root,
    'etc/ssh/sshd_config',
    [
      'Include /etc/ssh/sshd_config.d/*.conf',
      'PermitRootLogin prohibit-password',
      'RevokedKeys /etc/ssh/revoked_keys',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      '# ForceCommand in a comment is not a directive',
      `# >>> mpimg:${SLUG} login-hold >>>`,
      'Match User root',
      `    ForceCommand /opt/${VENDOR}/${SLUG}/login-hold-wait`,
      `# <<< mpimg:${SLUG} login-hold <<<`,
      '',
    ].join('\n'),
  );
  put(root, 'etc/ssh/revoked_keys', '', 0o600);
  put(root, 'usr/lib/openssh/sftp-server', '#!/bin/sh\nexit 0\n', 0o755);
  put(root, 'etc/ssh/ssh_config', 'Host *\n');
  put(root, 'etc/ssl/private/acme-site.key', FAKE_PRIVATE_KEY, 0o600);
  put(root, 'var/lib/cloud/scripts/per-instance/10-acme-app-setup', '#!/bin/sh\nset -eu\necho setup\n', 0o755);
  put(
    root,
    `var/lib/cloud/scripts/per-instance/zz-${SLUG}-finish`,
    '#!/bin/bash\nset -eu\nif [ -e /x ]; then echo done; fi\n',
    0o755,
  );
  put(root, 'var/lib/cloud/scripts/per-instance/20-acme-app-py', '#!/usr/bin/env python3\nprint("hi")\n', 0o755);
  put(root, `opt/${VENDOR}/${SLUG}/first-login-run`, '#!/bin/sh\nexit 0\n', 0o755);
  put(root, `opt/${VENDOR}/${SLUG}/first-login.sh`, '#!/bin/sh\nexit 0\n', 0o755);
  put(root, `opt/${VENDOR}/${SLUG}/installed.json`, '{"slug":"acme-app"}\n');
  put(
    root,
    'root/.bashrc',
    [
      '# ~/.bashrc',
      'export PS1="# "',
      `# >>> mpimg:${SLUG} first-login >>>`,
      `if [ -t 0 ] && [ -t 1 ]; then /opt/${VENDOR}/${SLUG}/first-login-run; fi`,
      `# <<< mpimg:${SLUG} first-login <<<`,
      '',
    ].join('\n'),
  );
  put(root, 'root/.ssh/authorized_keys', '# no keys\n', 0o600);
  put(root, 'root/.ssh/id_ed25519.pub', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAKEPUBLICKEY root@build\n');
  put(root, 'home/bob/.ssh/known_hosts', 'example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAKE\n');
  put(root, 'home/bob/.bashrc', '# bob\n');
  put(root, 'home/bob/.bash_history', '');
  put(root, `etc/update-motd.d/99-${SLUG}`, '#!/bin/sh\necho hello\n', 0o755);
  put(root, 'etc/update-motd.d/00-header', '#!/bin/sh\nuname -a\n', 0o755);
  for (const f of ['syslog', 'auth.log', 'wtmp', 'btmp', 'lastlog', 'apt/history.log', 'nginx/access.log'])
    put(root, `var/log/${f}`, '');
  dir(root, 'var/log/journal');
  dir(root, 'tmp', 0o1777);
  dir(root, 'tmp/.X11-unix', 0o1777);
  dir(root, 'var/tmp', 0o1777);
  dir(root, 'var/cache/apt/archives/partial');
  put(root, 'var/cache/apt/archives/lock', '', 0o640);
  dir(root, 'var/lib/postgresql');
  return root;
}

/** Adds everything a build leaves behind that the cleanup must remove. */
export function dirty(root: string): string {
  put(root, 'root/.bash_history', `ls\nexport DIGITALOCEAN_TOKEN=${FAKE_TOKEN}\n`, 0o600);
  put(root, 'home/bob/.python_history', 'import os\n', 0o600);
  put(root, 'var/lib/postgresql/.psql_history', 'select 1;\n', 0o600);
  put(root, 'root/.lesshst', '.less-history-file:\n');
  put(root, 'root/.ssh/authorized_keys', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBUILDKEY vendor@laptop\n', 0o600);
  put(root, 'home/bob/.ssh/authorized_keys', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQBUILD bob@laptop\n', 0o600);
  put(root, 'root/.ssh/id_ecdsa', FAKE_PRIVATE_KEY, 0o600);
  put(root, 'home/bob/.ssh/deploy', FAKE_PRIVATE_KEY, 0o600);
  for (const k of ['rsa', 'ecdsa', 'ed25519']) {
    put(root, `etc/ssh/ssh_host_${k}_key`, FAKE_PRIVATE_KEY, 0o600);
    put(root, `etc/ssh/ssh_host_${k}_key.pub`, `ssh-${k} AAAAFAKE root@build\n`);
  }
  remove(root, 'etc/ssh/revoked_keys');
  put(root, 'etc/machine-id', '0123456789abcdef0123456789abcdef\n', 0o444);
  put(root, 'var/log/syslog', `Nov 25 build: token=${FAKE_TOKEN}\n`);
  put(root, 'var/log/auth.log', 'Accepted publickey for root\n');
  put(root, 'var/log/nginx/access.log', '127.0.0.1 GET /\n');
  put(root, 'var/log/syslog.1', 'old\n');
  put(root, 'var/log/syslog.2.gz', Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
  put(root, 'var/log/apt/history.log.1.gz', Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
  put(root, 'var/log/dpkg.log-20261120', 'x\n');
  put(root, 'var/log/wtmp', Buffer.alloc(384, 1), 0o664);
  put(root, 'var/log/btmp', Buffer.alloc(384, 2), 0o660);
  put(root, 'var/log/lastlog', Buffer.alloc(292, 3), 0o664);
  put(root, 'var/log/journal/0123abcd/system.journal', Buffer.alloc(4096, 4), 0o640);
  put(root, 'var/log/journal/0123abcd/system@0001-0002.journal~', Buffer.alloc(4096, 5), 0o640);
  put(root, 'var/log/cloud-init.log', 'user-data: secret stuff\n');
  put(root, 'var/log/cloud-init-output.log', 'output\n');
  put(root, 'var/lib/cloud/instances/123456/user-data.txt', `#cloud-config\n# ${FAKE_TOKEN}\n`, 0o600);
  put(root, 'var/lib/cloud/instances/123456/sem/config_ssh', '');
  link(root, 'var/lib/cloud/instance', '/var/lib/cloud/instances/123456');
  put(root, 'var/lib/cloud/data/instance-id', '123456\n');
  put(root, 'var/lib/cloud/sem/config_scripts_per_once.once', '');
  put(root, 'var/lib/cloud/seed/nocloud/meta-data', 'x\n');
  put(root, 'var/lib/cloud/handlers/.keep', '');
  put(root, 'tmp/build.log', 'building\n');
  put(root, 'tmp/.hidden', 'x\n');
  put(root, 'tmp/work/nested/file', 'x\n');
  put(root, 'tmp/acme-app-install.sh', '#!/bin/sh\n# mpimg-runtime installer\n', 0o755);
  put(root, 'var/tmp/cache.bin', Buffer.alloc(2048));
  put(root, 'var/cache/apt/archives/nginx_1.22.1-9_amd64.deb', Buffer.alloc(8192));
  put(root, 'var/cache/apt/archives/partial/curl_8.0_amd64.deb', Buffer.alloc(100));
  put(root, 'var/cache/apt/pkgcache.bin', Buffer.alloc(1024));
  put(root, 'var/cache/apt/srcpkgcache.bin', Buffer.alloc(1024));
  return root;
}

/** A temp dir removed by cleanupFixtures (afterAll), like the fixture roots. */
export function tempRoot(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpRoots.push(d);
  return d;
}

/** Removes these too in cleanupFixtures (e.g. dirs made by shared helpers). */
export function removeLater(...paths: string[]): void {
  tmpRoots.push(...paths);
}

export function cleanupFixtures(): void {
  for (const r of tmpRoots.splice(0)) rmSync(r, { recursive: true, force: true });
}

/** Runs one of the scripts with the real bash, never against the host's /. */
export function runScript(script: string, root: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Run {
  if (!root || root === '/') throw new Error('tests must pass a temp root');
  const r = spawnSync('bash', [script, '--root', root, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

export const check = (root: string, args: string[] = [], env?: NodeJS.ProcessEnv) =>
  runScript(CHECK_SCRIPT, root, args, env);
export const cleanup = (root: string, args: string[] = [], env?: NodeJS.ProcessEnv) =>
  runScript(CLEANUP_SCRIPT, root, args, env);

export interface CheckResult {
  id: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  message: string;
  evidence: string[];
}
export interface CheckReport {
  tool: string;
  version: number;
  root: string;
  mode: string;
  result: 'pass' | 'warn' | 'fail';
  summary: { pass: number; warn: number; fail: number; skip: number };
  checks: CheckResult[];
}

export function checkJson(root: string, args: string[] = []): { run: Run; report: CheckReport } {
  const run = check(root, ['--json', ...args]);
  return { run, report: JSON.parse(run.stdout) as CheckReport };
}

/** Lines of the text report that carry a tag, as "[TAG] id". */
export function tagOf(stdout: string, id: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('[') && l.includes(`] ${id}: `));
  return line?.slice(1, 5);
}

export function leaks(text: string): string[] {
  return SECRETS.filter((s) => text.includes(s));
}

/** Hash of a tree: paths, types, modes, contents and link targets (not times). */
export function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    h.update(`${rel}\0${st.mode}\0${st.uid}:${st.gid}\0`);
    if (st.isSymbolicLink()) h.update(`L${readlinkSync(abs)}\0`);
    else if (st.isFile()) h.update(readFileSync(abs));
    else if (st.isDirectory()) for (const e of readdirSync(abs).sort()) walk(rel ? `${rel}/${e}` : e);
    h.update('\0');
  };
  walk('');
  return h.digest('hex');
}

export const exists = (root: string, rel: string): boolean => existsSync(join(root, rel)) || isLink(root, rel);
function isLink(root: string, rel: string): boolean {
  try {
    return lstatSync(join(root, rel)).isSymbolicLink();
  } catch {
    return false;
  }
}

export function spawnScript(script: string, root: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  if (!root || root === '/') throw new Error('tests must pass a temp root');
  return spawn('bash', [script, '--root', root, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Copies the shared libraries ldd names for a host binary into `root`. */
export function copyLibraries(root: string, hostPath: string): void {
  const ldd = spawnSync('ldd', [hostPath], { encoding: 'utf8' }).stdout;
  for (const m of ldd.matchAll(/(\/\S+) \(0x/g)) {
    const lib = m[1];
    if (!existsSync(join(root, lib))) put(root, lib.slice(1), readFileSync(lib), 0o755);
  }
}

/** Copies a host binary and the shared libraries ldd names into `root`. */
export function copyBinary(root: string, hostPath: string, rel: string): void {
  put(root, rel, readFileSync(hostPath), 0o755);
  copyLibraries(root, hostPath);
}

/**
 * A clean root that is also a full root filesystem for chroot: a real /bin/sh
 * (dash), env and this machine's real sshd (which the check runs with -t/-T),
 * plus package-manager commands that replay output recorded from real ones
 * (apt-get -s upgrade, dnf updateinfo, cloud-init --version) and log how they
 * were called to /pm-calls.log. /run and /dev are empty, as in an unbooted image.
 */
/**
 * A full root whose package manager prints recorded answers: `simulation` for apt-get -s and dnf
 * updateinfo; `more` for apt-cache policy (policy), dnf check-update (checkUpdate, exit 100 when
 * not empty) and rpm -qa (rpm); os-release names `codename` (default bookworm). Every call is logged
 * to /pm-calls.log.
 */
export function fullRoot(
  pm: 'apt' | 'dnf',
  simulation: string,
  more: { policy?: string; checkUpdate?: string; rpm?: string; codename?: string } = {},
): string {
  const root = cleanRoot();
  // The codename names the distribution's security suite (<codename>-security).
  put(
    root,
    'etc/os-release',
    `${readFileSync(join(root, 'etc/os-release'), 'utf8')}VERSION_CODENAME=${more.codename ?? 'bookworm'}\n`,
  );
  copyBinary(root, '/usr/bin/dash', 'bin/sh');
  copyBinary(root, '/usr/bin/env', 'usr/bin/env');
  copyBinary(root, '/usr/bin/cat', 'usr/bin/cat');
  copyBinary(root, '/usr/sbin/sshd', 'usr/sbin/sshd');
  dir(root, 'run');
  dir(root, 'dev');
  put(root, 'pm-simulation.txt', simulation);
  put(root, 'pm-policy.txt', more.policy ?? '');
  put(root, 'pm-check-update.txt', more.checkUpdate ?? '');
  put(root, 'pm-rpm.txt', more.rpm ?? '');
  const fake = (tool: string, answer: string) =>
    put(
      root,
      `usr/bin/${tool}`,
      [
        '#!/bin/sh',
        `echo "${tool} DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-} $*" >> /pm-calls.log`,
        // Like a real package manager that may prompt, it reads stdin to the end.
        'cat >> /pm-stdin.log',
        answer,
        'exit 0',
        '',
      ].join('\n'),
      0o755,
    );
  if (pm === 'apt') {
    fake('apt-get', 'case " $* " in *" -s "*) cat /pm-simulation.txt ;; esac');
    fake('apt-cache', 'case " $* " in *" policy "*) cat /pm-policy.txt ;; esac');
  } else {
    fake(
      'dnf',
      'case " $* " in *" updateinfo "*) cat /pm-simulation.txt ;; *" check-update "*) cat /pm-check-update.txt; [ -s /pm-check-update.txt ] && exit 100 ;; esac',
    );
    fake('rpm', 'cat /pm-rpm.txt');
  }
  put(root, 'usr/bin/cloud-init', '#!/bin/sh\necho "/usr/bin/cloud-init 23.1.1"\n', 0o755);
  return root;
}

export const readCalls = (root: string): string[] =>
  existsSync(join(root, 'pm-calls.log')) ? readFileSync(join(root, 'pm-calls.log'), 'utf8').trim().split('\n') : [];

/** Where a command is on this machine (resolved through links, e.g. awk -> mawk). */
function hostCommand(name: string): string {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], {
    encoding: 'utf8',
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  const p = r.stdout.trim();
  if (r.status !== 0 || !p.startsWith('/')) throw new Error(`this test needs ${name} installed on this machine`);
  return p;
}

// What the two scripts run when they run as on a live system.
const LIVE_TOOLS = [
  'bash',
  'awk',
  'cat',
  'chmod',
  'chown',
  'cut',
  'curl',
  'dd',
  'df',
  'du',
  'find',
  'grep',
  'head',
  'id',
  'ls',
  'mktemp',
  'mv',
  'readlink',
  'rm',
  'sed',
  'sleep',
  'sort',
  'ssh-keygen',
  'stat',
  'sync',
  'tail',
  'tr',
  'truncate',
  'wc',
];

/**
 * A dirty full root in which the scripts run as on a live system, through
 * `inChroot`: bash and the tools they use copied from this machine, a real
 * /dev/null, /dev/fd (bash's process substitution; /proc is mounted by
 * `inChroot`), /run/sshd (as while sshd runs) and the scripts under /mpimg-test.
 * Whatever the scripts do there, even with a broken guard, stays in the root.
 */
export function liveRoot(simulation = ''): string {
  const root = dirty(fullRoot('apt', simulation));
  for (const t of LIVE_TOOLS) copyBinary(root, hostCommand(t), `usr/bin/${t}`);
  const mk = spawnSync('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3'], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`mknod ${root}/dev/null: ${mk.stderr}`);
  link(root, 'dev/fd', '/proc/self/fd');
  dir(root, 'proc');
  dir(root, 'run/sshd');
  put(root, 'mpimg-test/90-cleanup.sh', readFileSync(CLEANUP_SCRIPT), 0o755);
  put(root, 'mpimg-test/99-img-check.sh', readFileSync(CHECK_SCRIPT), 0o755);
  return root;
}

/**
 * The command line that runs argv inside `root` with chroot, with a /proc of its own: a private
 * mount namespace and a new pid namespace (nothing mounted there is seen outside; the proc
 * shows the chroot's processes only). `setup` runs first in the namespace (e.g. a bind mount).
 */
export function chrootCommand(root: string, argv: string[], setup = ':'): [string, string[]] {
  if (!root || root === '/' || !existsSync(join(root, 'mpimg-test')))
    throw new Error('chrootCommand needs a liveRoot()');
  return [
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--pid',
      '--fork',
      '--kill-child',
      'sh',
      '-c',
      `r=$1; shift; ${setup} && mount -t proc -o nosuid,nodev,noexec proc "$r/proc" && exec chroot "$r" "$@"`,
      'sh',
      root,
      ...argv,
    ],
  ];
}

export const CHROOT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/** Runs argv inside `root` with chroot (never on this machine's /), with a minimal environment. */
export function inChroot(root: string, argv: string[], env: NodeJS.ProcessEnv = {}, setup?: string): Run {
  const [cmd, args] = chrootCommand(root, argv, setup);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, env: { ...CHROOT_ENV, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** The cleanup run inside a liveRoot as on the running system (no --root). */
export const liveCleanup = (root: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  inChroot(root, ['/usr/bin/bash', '/mpimg-test/90-cleanup.sh', ...args], {
    MPIMG_METADATA_URL: 'http://127.0.0.1:9/metadata/v1/id',
    ...env,
  });
/** The image check run inside a liveRoot as on the running system (no --root). */
export const liveCheck = (root: string, args: string[] = []) =>
  inChroot(root, ['/usr/bin/bash', '/mpimg-test/99-img-check.sh', ...args]);
