// Fixture table for the image check: for every check, fixtures where it
// fails or warns (and extra passing variants); registered by the two
// check-*.test.ts files so vitest runs the halves in parallel.
import { chmodSync, chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_PACKAGES,
  type CheckReport,
  FAKE_HASH,
  FAKE_PRIVATE_KEY,
  FAKE_TOKEN,
  SLUG,
  VENDOR,
  check,
  checkJson,
  cleanRoot,
  cleanupFixtures,
  dpkgStatus,
  leaks,
  link,
  put,
  remove,
  tagOf,
} from './fixture-root.js';
import { type Case, type RoundResult, packRounds, runRound } from './check-rounds.js';

const cases: Case[] = [
  {
    id: 'os',
    name: 'unknown distribution',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/os-release', 'ID=fedora\nVERSION_ID=40\n'),
  },
  { id: 'os', name: 'no os-release', tag: 'FAIL', setup: (r) => remove(r, 'etc/os-release') },
  {
    id: 'os',
    name: 'Ubuntu 24.04 LTS',
    tag: 'PASS',
    setup: (r) => put(r, 'etc/os-release', 'ID=ubuntu\nVERSION_ID="24.04"\n'),
  },
  {
    id: 'os',
    name: 'Ubuntu 20.04 LTS',
    tag: 'PASS',
    setup: (r) => put(r, 'etc/os-release', 'ID=ubuntu\nVERSION_ID="20.04"\n'),
  },
  {
    id: 'os',
    name: 'Ubuntu 24.10 is newer: not yet listed',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/os-release', 'ID=ubuntu\nVERSION_ID="24.10"\n'),
  },
  {
    id: 'os',
    name: 'Ubuntu 26.04 is newer: not yet listed',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/os-release', 'ID=ubuntu\nVERSION_ID="26.04"\n'),
  },
  {
    id: 'os',
    name: 'Ubuntu 23.10 interim between LTS',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/os-release', 'ID=ubuntu\nVERSION_ID="23.10"\n'),
  },
  {
    id: 'os',
    name: 'Ubuntu 18.04 too old',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/os-release', 'ID=ubuntu\nVERSION_ID="18.04"\n'),
  },
  { id: 'os', name: 'Debian 13', tag: 'PASS', setup: (r) => put(r, 'etc/os-release', 'ID=debian\nVERSION_ID="13"\n') },
  {
    id: 'os',
    name: 'Debian 14 not yet listed',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/os-release', 'ID=debian\nVERSION_ID="14"\n'),
  },
  {
    id: 'os',
    name: 'Debian 10 too old',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/os-release', 'ID=debian\nVERSION_ID="10"\n'),
  },
  {
    id: 'os',
    name: 'Debian testing without VERSION_ID',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/os-release', 'ID=debian\n'),
  },
  {
    id: 'os',
    name: 'Rocky Linux 9.4',
    tag: 'PASS',
    setup: (r) => put(r, 'etc/os-release', 'ID="rocky"\nVERSION_ID="9.4"\n'),
  },
  {
    id: 'os',
    name: 'AlmaLinux 10.0 not yet listed',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/os-release', 'ID="almalinux"\nVERSION_ID="10.0"\n'),
  },
  {
    id: 'os',
    name: 'CentOS Stream 10 not yet listed',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/os-release', 'NAME="CentOS Stream"\nID="centos"\nVERSION_ID="10"\n'),
  },
  {
    id: 'os',
    name: 'CentOS 7 too old',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/os-release', 'ID="centos"\nVERSION_ID="7"\n'),
  },
  {
    id: 'os',
    name: 'ID containing a listed name is not that family',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/os-release', 'ID=notdebian\nVERSION_ID=12\n'),
  },

  {
    id: 'cloud-init',
    name: 'not installed',
    tag: 'FAIL',
    setup: (r) => dpkgStatus(r, { ...BASE_PACKAGES, 'cloud-init': '' }),
  },
  {
    id: 'cloud-init',
    name: 'too old (0.7.5)',
    tag: 'FAIL',
    setup: (r) => dpkgStatus(r, { ...BASE_PACKAGES, 'cloud-init': '0.7.5-1' }),
  },
  {
    id: 'cloud-init',
    name: 'exactly 0.7.9',
    tag: 'PASS',
    setup: (r) => dpkgStatus(r, { ...BASE_PACKAGES, 'cloud-init': '0.7.9-2' }),
  },
  {
    id: 'cloud-init',
    name: '0.7.10 compares numerically',
    tag: 'PASS',
    setup: (r) => dpkgStatus(r, { ...BASE_PACKAGES, 'cloud-init': '0.7.10-1' }),
  },
  {
    id: 'cloud-init',
    name: 'derived from version.py on an rpm system',
    tag: 'PASS',
    evidence: /23\.4 \(from \/usr\/lib\/python3\.9\/site-packages/,
    setup: (r) => {
      dpkgStatus(r, { ...BASE_PACKAGES, 'cloud-init': '' });
      put(
        r,
        'usr/lib/python3.9/site-packages/cloudinit/version.py',
        '__VERSION__ = "23.4"\n_PACKAGED_VERSION = "@@PACKAGED_VERSION@@"\n',
      );
    },
  },

  {
    id: 'openssh-server',
    name: 'missing',
    tag: 'FAIL',
    setup: (r) => {
      remove(r, 'usr/sbin/sshd');
      dpkgStatus(r, { ...BASE_PACKAGES, 'openssh-server': '' });
    },
  },

  // A staged root is read: sshd -T runs in sshd.test.ts, on full roots with the real sshd.
  {
    id: 'sftp',
    name: 'no Subsystem sftp in sshd_config',
    tag: 'WARN',
    evidence: /^no Subsystem sftp \(read from the sshd_config files/,
    setup: (r) => put(r, 'etc/ssh/sshd_config', 'PermitRootLogin prohibit-password\n'),
  },
  {
    id: 'sftp',
    name: 'Subsystem sftp naming a program missing from the image',
    tag: 'WARN',
    setup: (r) => remove(r, 'usr/lib/openssh/sftp-server'),
  },
  {
    id: 'sftp',
    name: 'internal-sftp in a drop-in',
    tag: 'PASS',
    evidence: /^Subsystem sftp internal-sftp/,
    setup: (r) => {
      put(r, 'etc/ssh/sshd_config', 'Include /etc/ssh/sshd_config.d/*.conf\n');
      put(r, 'etc/ssh/sshd_config.d/50-sftp.conf', 'subsystem sftp internal-sftp -l INFO\n');
    },
  },

  {
    id: 'firewall',
    name: 'ufw installed but disabled',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/ufw/ufw.conf', 'ENABLED=no\n'),
  },
  {
    id: 'firewall',
    name: 'commented ENABLED=yes does not count',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/ufw/ufw.conf', '#ENABLED=yes\nENABLED=no\n'),
  },
  {
    id: 'firewall',
    name: 'firewalld installed but not enabled',
    tag: 'WARN',
    setup: (r) => {
      remove(r, 'etc/ufw');
      put(r, 'usr/lib/systemd/system/firewalld.service', '[Unit]\n');
    },
  },
  {
    id: 'firewall',
    name: 'firewalld enabled at boot',
    tag: 'PASS',
    setup: (r) => {
      remove(r, 'etc/ufw');
      link(
        r,
        'etc/systemd/system/multi-user.target.wants/firewalld.service',
        '/usr/lib/systemd/system/firewalld.service',
      );
    },
  },
  {
    id: 'firewall',
    name: 'nftables enabled with an input chain',
    tag: 'PASS',
    setup: (r) => {
      remove(r, 'etc/ufw');
      link(r, 'etc/systemd/system/sysinit.target.wants/nftables.service', '/lib/systemd/system/nftables.service');
      put(
        r,
        'etc/nftables.conf',
        'table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n',
      );
    },
  },

  {
    id: 'passwords',
    name: 'root has a usable password',
    tag: 'FAIL',
    evidence: /^root: has a usable password$/,
    setup: (r) => put(r, 'etc/shadow', `root:${FAKE_HASH}:19700:0:99999:7:::\nbob:!:19700::::::\n`, 0o640),
  },
  {
    id: 'passwords',
    name: 'user with an empty password field',
    tag: 'FAIL',
    evidence: /^bob: empty password field/,
    setup: (r) => put(r, 'etc/shadow', `root:*:19700::::::\nbob::19700::::::\n`, 0o640),
  },
  {
    id: 'passwords',
    name: 'second user (uid 1001) with a password is not lost',
    tag: 'FAIL',
    evidence: /^carol: has a usable password$/,
    setup: (r) => {
      put(r, 'etc/passwd', `${readFileSync(join(r, 'etc/passwd'), 'utf8')}carol:x:1001:1001::/home/carol:/bin/bash\n`);
      put(r, 'etc/shadow', `${readFileSync(join(r, 'etc/shadow'), 'utf8')}carol:${FAKE_HASH}:19700::::::\n`, 0o640);
    },
  },
  {
    id: 'passwords',
    name: 'system account with a hash is not a login account',
    tag: 'PASS',
    setup: (r) => put(r, 'etc/shadow', `root:!!:1::::::\ndaemon:${FAKE_HASH}:1::::::\nbob:!*:1::::::\n`, 0o640),
  },

  {
    id: 'authorized-keys',
    name: 'root has a key',
    tag: 'FAIL',
    setup: (r) => put(r, 'root/.ssh/authorized_keys', 'ssh-ed25519 AAAAC3Nza vendor\n'),
  },
  {
    id: 'authorized-keys',
    name: 'a non-root user has a key',
    tag: 'FAIL',
    evidence: /^\/home\/bob\/\.ssh\/authorized_keys: 1 key/,
    setup: (r) => put(r, 'home/bob/.ssh/authorized_keys', '\n# c\nssh-rsa AAAAB3Nza bob\n'),
  },

  {
    id: 'private-keys',
    name: 'id_ecdsa of a user',
    tag: 'FAIL',
    evidence: /^\/home\/bob\/\.ssh\/id_ecdsa$/,
    setup: (r) => put(r, 'home/bob/.ssh/id_ecdsa', 'not even PEM\n', 0o600),
  },
  {
    id: 'private-keys',
    name: 'any file holding a PRIVATE KEY block',
    tag: 'FAIL',
    evidence: /^\/root\/\.ssh\/deploy-key$/,
    setup: (r) => put(r, 'root/.ssh/deploy-key', FAKE_PRIVATE_KEY, 0o600),
  },
  {
    id: 'private-keys',
    name: 'private key in a system account home',
    tag: 'FAIL',
    setup: (r) => put(r, 'var/lib/postgresql/.ssh/id_rsa', FAKE_PRIVATE_KEY, 0o600),
  },

  {
    id: 'histories',
    name: 'root bash history with a token',
    tag: 'FAIL',
    evidence: /^\/root\/\.bash_history \(\d+ bytes\)$/,
    setup: (r) => put(r, 'root/.bash_history', `curl -H "Authorization: Bearer ${FAKE_TOKEN}"\n`),
  },
  {
    id: 'histories',
    name: 'psql history of a user',
    tag: 'FAIL',
    setup: (r) => put(r, 'home/bob/.psql_history', 'select 1;\n'),
  },
  {
    id: 'histories',
    name: 'mysql history',
    tag: 'FAIL',
    setup: (r) => put(r, 'root/.mysql_history', 'show databases;\n'),
  },

  {
    id: 'logs',
    name: 'a log in a subfolder',
    tag: 'WARN',
    evidence: /^\/var\/log\/nginx\/access\.log/,
    setup: (r) => put(r, 'var/log/nginx/access.log', `GET /?token=${FAKE_TOKEN}\n`),
  },
  {
    id: 'rotated-logs',
    name: 'compressed rotated log',
    tag: 'WARN',
    setup: (r) => put(r, 'var/log/apt/history.log.1.gz', Buffer.from([0x1f, 0x8b])),
  },
  { id: 'rotated-logs', name: 'dated rotated log', tag: 'WARN', setup: (r) => put(r, 'var/log/syslog-20261120', '') },
  {
    id: 'journal',
    name: 'journal files',
    tag: 'WARN',
    setup: (r) => put(r, 'var/log/journal/abc/system.journal', Buffer.alloc(64, 1)),
  },
  {
    id: 'login-records',
    name: 'btmp not empty',
    tag: 'WARN',
    setup: (r) => put(r, 'var/log/btmp', Buffer.alloc(384, 1)),
  },

  {
    id: 'cloud-init-data',
    name: 'instances left',
    tag: 'FAIL',
    setup: (r) => put(r, 'var/lib/cloud/instances/1/user-data.txt', FAKE_TOKEN),
  },
  {
    id: 'cloud-init-data',
    name: 'dangling instance link',
    tag: 'FAIL',
    evidence: /dangling link/,
    setup: (r) => link(r, 'var/lib/cloud/instance', '/var/lib/cloud/instances/gone'),
  },
  {
    id: 'cloud-init-data',
    name: 'cloud-init log',
    tag: 'FAIL',
    setup: (r) => put(r, 'var/log/cloud-init-output.log', 'output\n'),
  },
  {
    id: 'cloud-init-data',
    name: 'seed left',
    tag: 'WARN',
    setup: (r) => put(r, 'var/lib/cloud/seed/nocloud/user-data', 'x'),
  },

  {
    id: 'ssh-host-keys',
    name: 'host keys left',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/ssh/ssh_host_ed25519_key', FAKE_PRIVATE_KEY, 0o600),
  },
  {
    id: 'revoked-keys',
    name: 'RevokedKeys file missing',
    tag: 'FAIL',
    setup: (r) => remove(r, 'etc/ssh/revoked_keys'),
  },
  {
    id: 'machine-id',
    name: 'machine-id set',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/machine-id', '0123456789abcdef0123456789abcdef\n'),
  },
  {
    id: 'first-boot-secrets',
    name: 'first boot ran on the build droplet (its records in /var/lib/mpimg)',
    tag: 'FAIL',
    setup: (r) => put(r, `var/lib/mpimg/${SLUG}/first-boot.last`, '10-setup 0\n', 0o600),
    evidence: /^\/var\/lib\/mpimg\/acme-app: what first boot recorded \(it ran on this system\)$/,
  },
  {
    id: 'package-secrets',
    name: "the ssl-cert package's snakeoil key left as built",
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/ssl/private/ssl-cert-snakeoil.key', FAKE_PRIVATE_KEY, 0o640),
    evidence:
      /^\/etc\/ssl\/private\/ssl-cert-snakeoil\.key \(package ssl-cert, with \/etc\/ssl\/certs\/ssl-cert-snakeoil\.pem\): declare "ssl-cert-snakeoil" in \$\.regenerate/,
  },
  {
    id: 'droplet-agent',
    name: '/opt/digitalocean present',
    tag: 'FAIL',
    setup: (r) => put(r, 'opt/digitalocean/bin/droplet-agent', '', 0o755),
  },
  {
    id: 'droplet-agent',
    name: 'droplet-agent package installed',
    tag: 'FAIL',
    setup: (r) => dpkgStatus(r, { ...BASE_PACKAGES, 'droplet-agent': '1.2.8' }),
  },

  {
    id: 'login-hold',
    name: 'ForceCommand outside the managed block',
    tag: 'FAIL',
    evidence: /sshd_config:\d+ ForceCommand outside/,
    setup: (r) =>
      put(
        r,
        'etc/ssh/sshd_config',
        'Match User root\n  ForceCommand echo "Please wait until the installation is completed...."\n',
      ),
  },
  {
    id: 'login-hold',
    name: 'ForceCommand in sshd_config.d',
    tag: 'FAIL',
    setup: (r) => put(r, 'etc/ssh/sshd_config.d/50-hold.conf', 'ForceCommand /bin/false\n'),
  },
  {
    id: 'login-hold',
    name: 'managed hold without its release script',
    tag: 'FAIL',
    evidence: /zz-acme-app-finish is missing/,
    setup: (r) => remove(r, `var/lib/cloud/scripts/per-instance/zz-${SLUG}-finish`),
  },
  {
    id: 'login-hold',
    name: 'managed hold of another slug does not borrow a release script',
    tag: 'FAIL',
    setup: (r) =>
      put(
        r,
        'etc/ssh/sshd_config',
        '# >>> mpimg:other login-hold >>>\nForceCommand /bin/true\n# <<< mpimg:other login-hold <<<\n',
      ),
  },
  {
    id: 'login-hold',
    name: 'managed hold with its executable release script',
    tag: 'PASS',
    evidence: /released by \/var\/lib\/cloud\/scripts\/per-instance\/zz-acme-app-finish/,
    setup: () => undefined,
  },

  {
    id: 'per-instance',
    name: 'script stored 0644',
    tag: 'FAIL',
    evidence: /10-acme-app-setup: not executable/,
    setup: (r) => chmodSync(join(r, 'var/lib/cloud/scripts/per-instance/10-acme-app-setup'), 0o644),
  },
  {
    id: 'per-instance',
    name: 'script without #!',
    tag: 'FAIL',
    setup: (r) => put(r, 'var/lib/cloud/scripts/per-instance/30-x', 'echo hi\n', 0o755),
  },
  {
    id: 'per-instance',
    name: 'sh script with a syntax error',
    tag: 'FAIL',
    evidence: /fails sh -n/,
    setup: (r) =>
      put(r, 'var/lib/cloud/scripts/per-instance/30-x', `#!/bin/sh\nif [ x ]; then\necho ${FAKE_TOKEN}\n`, 0o755),
  },
  {
    id: 'per-instance',
    name: 'bash script with a syntax error',
    tag: 'FAIL',
    evidence: /fails bash -n/,
    setup: (r) => put(r, 'var/lib/cloud/scripts/per-instance/30-x', '#!/usr/bin/env bash\nfor x in; do\n', 0o755),
  },
  // An mpimg wrapper is fine by itself: the vendor's step it runs is what must be checked.
  {
    id: 'per-instance',
    name: 'a wrapper whose vendor step has a syntax error',
    tag: 'FAIL',
    evidence:
      /\/opt\/acme\/acme-app\/first-boot\/30-db \(run by \/var\/lib\/cloud\/scripts\/per-instance\/30-acme-app-db\): fails sh -n/,
    setup: (r) => {
      put(r, 'opt/acme/acme-app/first-boot/30-db', '#!/bin/sh\nif then\n  echo no\nfi\n', 0o755);
      put(
        r,
        'var/lib/cloud/scripts/per-instance/30-acme-app-db',
        "#!/bin/sh\nset -u\n. '/opt/acme/acme-app/lib.sh'\nmpimg_run_first_boot '30-db' '/opt/acme/acme-app/first-boot/30-db' 1800\n",
        0o755,
      );
    },
  },
  {
    id: 'per-instance',
    name: 'a wrapper whose vendor step is missing',
    tag: 'FAIL',
    evidence: /runs \/opt\/acme\/acme-app\/first-boot\/31-gone, which is missing/,
    setup: (r) =>
      put(
        r,
        'var/lib/cloud/scripts/per-instance/31-acme-app-gone',
        "#!/bin/sh\nmpimg_run_first_boot '31-gone' '/opt/acme/acme-app/first-boot/31-gone' 1800\n",
        0o755,
      ),
  },

  {
    id: 'first-login',
    name: 'hook installed, script missing',
    tag: 'FAIL',
    evidence: /runs \/opt\/acme\/acme-app\/first-login-run, which is missing/,
    setup: (r) => remove(r, `opt/${VENDOR}/${SLUG}/first-login-run`),
  },
  {
    id: 'first-login',
    name: 'hook without end marker',
    tag: 'FAIL',
    evidence: /no end marker/,
    setup: (r) =>
      put(r, 'root/.bashrc', `# >>> mpimg:${SLUG} first-login >>>\n/opt/${VENDOR}/${SLUG}/first-login-run\n`),
  },
  { id: 'first-login', name: 'no hook at all', tag: 'PASS', setup: (r) => put(r, 'root/.bashrc', '# plain\n') },

  {
    id: 'motd',
    name: "the image's MOTD not executable",
    tag: 'FAIL',
    setup: (r) => chmodSync(join(r, `etc/update-motd.d/99-${SLUG}`), 0o644),
  },
  {
    id: 'motd',
    name: 'a disabled stock MOTD part',
    tag: 'WARN',
    setup: (r) => put(r, 'etc/update-motd.d/10-help-text', '#!/bin/sh\n', 0o644),
  },

  {
    id: 'root-run',
    name: 'the app user owns the vendor folder above the first-login script',
    tag: 'FAIL',
    evidence: new RegExp(`^/opt/${VENDOR}: owned by uid 1000, not root \\(root runs it at the first login\\)$`),
    setup: (r) => chownSync(join(r, `opt/${VENDOR}`), 1000, 1000),
  },
  {
    id: 'root-run',
    name: '/etc/profile.d writable by others',
    tag: 'FAIL',
    evidence: /^\/etc\/profile\.d: writable by others/,
    setup: (r) => {
      put(r, 'etc/profile.d/app.sh', 'export A=1\n');
      chmodSync(join(r, 'etc/profile.d'), 0o777);
    },
  },
  {
    id: 'root-run',
    name: 'a first-boot step in a folder its group may write',
    tag: 'FAIL',
    evidence: new RegExp(
      `^/opt/${VENDOR}/${SLUG}/first-boot: writable by group 1000 \\(root runs it from /var/lib/cloud/scripts/per-instance/30-${SLUG}-db\\)$`,
    ),
    setup: (r) => {
      put(r, `opt/${VENDOR}/${SLUG}/first-boot/30-db`, '#!/bin/sh\necho db\n', 0o755);
      put(r, `opt/${VENDOR}/${SLUG}/lib.sh`, '# lib\n');
      put(
        r,
        `var/lib/cloud/scripts/per-instance/30-${SLUG}-db`,
        `#!/bin/sh\n. '/opt/${VENDOR}/${SLUG}/lib.sh'\nmpimg_run_first_boot '30-db' '/opt/${VENDOR}/${SLUG}/first-boot/30-db' 1800\n`,
        0o755,
      );
      chownSync(join(r, `opt/${VENDOR}/${SLUG}/first-boot`), 0, 1000);
      chmodSync(join(r, `opt/${VENDOR}/${SLUG}/first-boot`), 0o775);
    },
  },
  {
    id: 'root-run',
    name: 'the MOTD script owned by the app user',
    tag: 'FAIL',
    evidence: new RegExp(`^/etc/update-motd\\.d/99-${SLUG}: owned by uid 1000`),
    setup: (r) => chownSync(join(r, `etc/update-motd.d/99-${SLUG}`), 1000, 1000),
  },
  {
    id: 'root-run',
    name: "the app's own folders owned by the app, a sticky /tmp",
    tag: 'PASS',
    setup: (r) => {
      mkdirSync(join(r, 'srv/app'), { recursive: true });
      chownSync(join(r, 'srv/app'), 1000, 1000);
      chmodSync(join(r, 'srv/app'), 0o777);
      chownSync(join(r, 'var/lib/postgresql'), 110, 117);
    },
  },

  { id: 'tmp', name: 'file in /var/tmp', tag: 'WARN', setup: (r) => put(r, 'var/tmp/leftover', 'x') },
  { id: 'tmp', name: 'hidden nested file in /tmp', tag: 'WARN', setup: (r) => put(r, 'tmp/a/.b', 'x') },
  {
    id: 'package-caches',
    name: 'downloaded .deb',
    tag: 'WARN',
    setup: (r) => put(r, 'var/cache/apt/archives/nginx_1.0_amd64.deb', 'x'),
  },
  {
    id: 'package-caches',
    name: 'dnf cache rpm',
    tag: 'WARN',
    setup: (r) => put(r, 'var/cache/dnf/baseos/packages/x.rpm', 'x'),
  },
  {
    id: 'swap',
    name: 'swap file and fstab entry',
    tag: 'FAIL',
    setup: (r) => {
      put(r, 'swapfile', Buffer.alloc(16), 0o600);
      put(r, 'etc/fstab', 'UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n');
    },
  },

  {
    id: 'bundle',
    name: 'bundle .cjs left in /root',
    tag: 'FAIL',
    evidence: /^\/root\/acme-app\.cjs$/,
    setup: (r) => put(r, 'root/acme-app.cjs', '"use strict";// mpimg-runtime 0.1.0\n'),
  },
  {
    id: 'bundle',
    name: 'installer twin left under /opt',
    tag: 'FAIL',
    setup: (r) => put(r, `opt/${VENDOR}/acme-app-install.sh`, '#!/bin/sh\n# mpimg-runtime\n', 0o755),
  },
  {
    id: 'bundle',
    name: 'unrelated .cjs is fine',
    tag: 'PASS',
    setup: (r) => put(r, 'root/tool.cjs', 'module.exports = 1;\n'),
  },
];

/** Checks about the image's software and its own pieces. */
export const SYSTEM_IDS = [
  'os',
  'cloud-init',
  'openssh-server',
  'sftp',
  'firewall',
  'droplet-agent',
  'login-hold',
  'per-instance',
  'first-login',
  'motd',
  'root-run',
  'swap',
  'bundle',
];
/** Checks about what a build leaves behind. */
export const LEFTOVER_IDS = [
  'passwords',
  'authorized-keys',
  'private-keys',
  'histories',
  'logs',
  'rotated-logs',
  'journal',
  'login-records',
  'cloud-init-data',
  'ssh-host-keys',
  'revoked-keys',
  'machine-id',
  'tmp',
  'package-caches',
  'first-boot-secrets',
  'package-secrets',
];

export function registerCases(group: string, ids: string[]): void {
  afterAll(cleanupFixtures);
  describe(`99-img-check.sh ${group}: each check trips on its own fixture and passes on the clean root`, () => {
    let rounds: Case[][] = [];
    const results = new Map<Case[], RoundResult>();
    beforeAll(() => {
      rounds = packRounds(cases.filter((c) => ids.includes(c.id)));
    });
    const resultOf = (c: Case): RoundResult => {
      const round = rounds.find((r) => r.includes(c))!;
      if (!results.has(round)) results.set(round, runRound(round));
      return results.get(round)!;
    };

    it.each(cases.filter((c) => ids.includes(c.id)))('$id: $name -> [$tag]', (c) => {
      const { cases: round, text, json } = resultOf(c);
      const ctx = `${c.id}, in a round with ${round.map((o) => `${o.id} [${o.tag}]`).join(', ')}\n${text.stdout}${text.stderr}`;
      expect(tagOf(text.stdout, c.id), ctx).toBe(c.tag);
      // The clean fixture passes everything and a round holds one FAIL at most: that one decides the exit code.
      const failed = [...text.stdout.matchAll(/^\[FAIL\] ([a-z0-9-]+):/gm)].map((m) => m[1]);
      const fails = round.filter((o) => o.tag === 'FAIL').map((o) => o.id);
      expect(failed, ctx).toEqual(fails);
      expect(text.code, ctx).toBe(fails.length > 0 ? 1 : 0);
      expect(leaks(text.stdout + text.stderr)).toEqual([]);
      if (!json) return;
      const entry = json.report.checks.find((e) => e.id === c.id);
      expect(entry?.status, ctx).toBe(c.tag.toLowerCase());
      expect(json.run.code).toBe(text.code);
      expect(leaks(json.run.stdout + json.run.stderr)).toEqual([]);
      if (c.evidence) {
        const ev = entry?.evidence ?? [];
        expect(
          ev.some((e) => c.evidence!.test(e)),
          ev.join('\n'),
        ).toBe(true);
      }
    });

    it.each(ids)('%s has a failing or warning fixture', (id) => {
      expect(cases.some((c) => c.id === id && (c.tag === 'FAIL' || c.tag === 'WARN'))).toBe(true);
    });

    // The passing fixture of every check: the clean root, checked once.
    let clean: { stdout: string; report: CheckReport; code: number | null } | undefined;
    beforeAll(() => {
      const root = cleanRoot();
      const { report } = checkJson(root);
      const text = check(root);
      clean = { stdout: text.stdout, report, code: text.code };
    });
    it.each(ids)('%s passes on the clean root', (id) => {
      expect(tagOf(clean!.stdout, id)).toBe('PASS');
      expect(clean!.report.checks.find((c) => c.id === id)?.status).toBe('pass');
      expect(clean!.code).toBe(0);
    });
  });
}
