/**
 * Roots for running dist/<slug>-build.sh for real without any chance of touching this machine:
 * a full root filesystem (this machine's dash, coreutils, useradd, systemctl, gpg, curl, ...
 * copied in) that the script runs in with chroot (test/scripts/fixture-root.ts: private mount and
 * pid namespaces). Staged roots the script is pointed at with --root live INSIDE that root, so even
 * a script that ignored --root could only change the chroot's own files.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { copyBinary, dir, inChroot, put, tempRoot, type Run } from '../scripts/fixture-root.js';

/** What the build script runs, copied from this machine: [host command, path in the root]. */
const TOOLS = [
  'dash',
  'awk',
  'sed',
  'grep',
  'tr',
  'tail',
  'head',
  'cat',
  'mkdir',
  'chmod',
  'chown',
  'chgrp',
  'cp',
  'mv',
  'rm',
  'ln',
  'ls',
  'mktemp',
  'dirname',
  'basename',
  'readlink',
  'cmp',
  'base64',
  'xargs',
  'env',
  'id',
  'stat',
  'timeout',
  'find',
  'sort',
  'touch',
  'gpg',
  'curl',
  'systemctl',
  'useradd',
  'groupadd',
  'usermod',
  'chroot',
];

function hostPath(name: string): string {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], {
    encoding: 'utf8',
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  const p = r.stdout.trim();
  if (r.status !== 0 || !p.startsWith('/')) throw new Error(`this test needs ${name} installed on this machine`);
  return realpathSync(p);
}

export const OS_RELEASE = {
  debian:
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
  ubuntu:
    'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=noble\n',
  rocky:
    'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n',
} as const;
export type Os = keyof typeof OS_RELEASE;

/**
 * A root filesystem to chroot into, with the build script's tools and a real /dev/null. `os` sets
 * its /etc/os-release (what the script runs as when it is not given --root).
 */
export function buildRoot(os: Os = 'debian'): string {
  const root = tempRoot('mpimg-build-root-');
  for (const t of TOOLS) {
    const at = ['useradd', 'groupadd', 'usermod', 'chroot'].includes(t) ? `usr/sbin/${t}` : `usr/bin/${t}`;
    copyBinary(root, hostPath(t), at);
  }
  copyBinary(root, hostPath('dash'), 'bin/sh');
  // systemctl loads its private library through its RUNPATH; ldd named it, copyBinary copied it.
  dir(root, 'dev');
  for (const [name, minor] of [
    ['null', 3],
    ['urandom', 9],
  ] as const) {
    const mk = spawnSync('mknod', ['-m', '666', join(root, 'dev', name), 'c', '1', String(minor)], {
      encoding: 'utf8',
    });
    if (mk.status !== 0) throw new Error(`mknod ${root}/dev/${name}: ${mk.stderr}`);
  }
  dir(root, 'proc');
  dir(root, 'tmp', 0o1777);
  dir(root, 'mpimg-test');
  put(root, 'etc/os-release', OS_RELEASE[os]);
  accounts(root, '');
  return root;
}

/** Account files as a fresh system has them (what useradd --root needs), under `root`/`rel`. */
export function accounts(root: string, rel: string): void {
  const at = (p: string) => (rel ? `${rel}/${p}` : p);
  put(
    root,
    at('etc/passwd'),
    'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  );
  put(root, at('etc/group'), 'root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n');
  put(
    root,
    at('etc/shadow'),
    'root:*:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\nwww-data:*:19700:0:99999:7:::\nnobody:*:19700:0:99999:7:::\n',
    0o640,
  );
  put(root, at('etc/gshadow'), 'root:*::\ndaemon:*::\nwww-data:*::\nusers:*::\nnogroup:*::\n', 0o640);
  put(root, at('etc/login.defs'), readFileSync('/etc/login.defs'));
  put(root, at('etc/skel/.profile'), '# ~/.profile\n');
}

/** A staged root at /<name> inside a build root: account files, os-release, systemd's folders. */
export function stagedIn(root: string, name: string, os: Os = 'debian'): string {
  accounts(root, name);
  put(root, `${name}/etc/os-release`, OS_RELEASE[os]);
  dir(root, `${name}/usr/lib/systemd/system`);
  dir(root, `${name}/etc/systemd/system`);
  return join(root, name);
}

/** Copies the rendered build script into the root (/mpimg-test/build.sh). */
export function installScript(root: string, script: string): void {
  copyFileSync(script, join(root, 'mpimg-test/build.sh'));
  chmodSync(join(root, 'mpimg-test/build.sh'), 0o755);
}

/** Runs `sh /mpimg-test/build.sh ARGS...` inside the root (chroot), never on this machine. */
export function runBuild(root: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  return inChroot(root, ['/bin/sh', '/mpimg-test/build.sh', ...args], env);
}

/** A command in the root as a stand-in that appends "NAME ARGS" to /calls.log, then runs `body`. */
export function standIn(root: string, rel: string, body: string): void {
  const name = rel.split('/').pop()!;
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), `#!/bin/sh\necho "${name} $*" >> /calls.log\n${body}\n`);
  chmodSync(join(root, rel), 0o755);
}

export const calls = (root: string): string[] =>
  existsSync(join(root, 'calls.log'))
    ? readFileSync(join(root, 'calls.log'), 'utf8').trim().split('\n').filter(Boolean)
    : [];
