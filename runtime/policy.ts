/**
 * The policy: what no mpimg.json may make an image do, whatever else it says. ONE list of each kind,
 * consulted by the schema (x-checks of runtime/sections/), the generator (through the schema), the
 * bundler, the build script (rendered from here as shell patterns: it refuses at run time what only
 * the machine knows, e.g. a link that leads a folder to /etc) and the image check (its list of
 * folders root runs code from is this one; test/runtime/policy.test.ts keeps them equal).
 * Dependency-free: it is bundled into the on-droplet runtime.
 */

/** Vendor folder names that fail Marketplace review by themselves (/opt/digitalocean is the agent's). */
export const RESERVED_VENDORS: ReadonlySet<string> = new Set(['digitalocean', 'do-agent', 'droplet-agent']);

/** Names that have uid 0 on some system: never an entry of $.users. */
export const ROOT_ACCOUNTS: readonly string[] = ['root', 'toor'];

/**
 * Accounts of the supported base images (Debian/Ubuntu base-passwd, systemd and the packages of
 * DigitalOcean's images; the RHEL family's setup package): $.users may add them to groups, never
 * change their home or shell (`nobody` with a shell, `daemon` with a home of the app's...).
 */
export const SYSTEM_ACCOUNTS: readonly string[] = [
  'daemon', 'bin', 'sys', 'sync', 'games', 'man', 'lp', 'mail', 'news', 'uucp', 'proxy', 'www-data', 'backup', 'list', 'irc',
  'gnats', 'nobody', '_apt', 'messagebus', 'syslog', 'sshd', 'uuidd', 'tcpdump', 'tss', 'landscape', 'pollinate', 'usbmux',
  'lxd', 'dnsmasq', 'fwupd-refresh', 'polkitd', 'systemd-network', 'systemd-resolve', 'systemd-timesync', 'systemd-coredump',
  'systemd-oom', '_chrony', 'adm', 'shutdown', 'halt', 'operator', 'ftp', 'dbus', 'chrony', 'sssd', 'rpc', 'rpcuser',
  'unbound', 'libstoragemgmt', 'cockpit-ws', 'cockpit-wsinstance', 'setroubleshoot', 'clevis', 'rngd', 'nfsnobody',
];

/** Groups that hand root (or its secrets, or the raw disks) to their members. */
export const PRIVILEGED_GROUPS: readonly string[] = ['root', 'sudo', 'wheel', 'admin', 'shadow', 'disk', 'kmem'];

/**
 * System folders: never an entry of $.directories or a home of $.users, whoever would own them
 * (a mode or owner of the manifest on /, /tmp or /etc/ssh breaks every droplet made from the image).
 * Their own children (/etc/nginx, /var/lib/app) are the vendor's.
 */
export const SYSTEM_DIRS: readonly string[] = [
  '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt', '/opt', '/proc', '/root',
  '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var',
  '/dev/shm', '/run/lock', '/run/user', '/root/.ssh',
  '/usr/bin', '/usr/sbin', '/usr/lib', '/usr/lib32', '/usr/lib64', '/usr/libx32', '/usr/libexec', '/usr/include', '/usr/share',
  '/usr/src', '/usr/games', '/usr/local', '/usr/local/bin', '/usr/local/sbin', '/usr/local/lib', '/usr/local/libexec',
  '/usr/local/share', '/usr/local/etc', '/usr/local/include', '/usr/local/src', '/usr/local/games',
  '/usr/lib/systemd', '/usr/lib/systemd/system', '/lib/systemd', '/lib/systemd/system',
  '/var/lib', '/var/log', '/var/cache', '/var/tmp', '/var/spool', '/var/mail', '/var/backups', '/var/opt', '/var/local', '/var/run',
  '/var/lock', '/var/crash', '/var/empty', '/var/spool/cron', '/var/lib/dpkg', '/var/lib/rpm', '/var/lib/systemd', '/var/lib/cloud',
  '/var/lib/cloud/scripts', '/var/lib/cloud/scripts/per-instance', '/var/lib/cloud/scripts/per-boot', '/var/lib/cloud/scripts/per-once',
  '/etc/update-motd.d', '/etc/profile.d', '/etc/cron.d', '/etc/cron.hourly', '/etc/cron.daily', '/etc/cron.weekly', '/etc/cron.monthly',
  '/etc/systemd', '/etc/systemd/system', '/etc/init.d', '/etc/sudoers.d', '/etc/ssh', '/etc/ssh/sshd_config.d', '/etc/cloud',
  '/etc/cloud/cloud.cfg.d', '/etc/apt', '/etc/apt/sources.list.d', '/etc/apt/keyrings', '/etc/apt/trusted.gpg.d', '/etc/apt/apt.conf.d',
  '/etc/apt/preferences.d', '/etc/yum.repos.d', '/etc/dnf', '/etc/yum', '/etc/pki', '/etc/pki/rpm-gpg', '/etc/ld.so.conf.d', '/etc/pam.d',
  '/etc/security', '/etc/sysctl.d', '/etc/modprobe.d', '/etc/modules-load.d', '/etc/default', '/etc/logrotate.d', '/etc/skel',
  '/etc/ssl', '/etc/ssl/certs', '/etc/ssl/private', '/etc/ufw', '/etc/firewalld', '/etc/network', '/etc/netplan', '/etc/tmpfiles.d',
  '/etc/udev', '/etc/selinux',
];

/**
 * Where root executes, sources or trusts code from, at boot, at login or from cron and the package
 * manager: these paths, everything below them and every folder above them stay root's alone (owner
 * root, not writable by a group or by others). An app user owning /opt/<vendor> could swap the
 * first-login script root runs; owning /etc/profile.d, a line every root login sources.
 * The runtime home /opt/<vendor>/<slug> is added per image (rootRunPaths).
 */
export const ROOT_RUN_PATHS: readonly string[] = [
  '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/usr', '/boot', '/root',
  '/var/lib/cloud', '/var/spool/cron', '/var/lib/dpkg', '/var/lib/rpm', '/var/lib/systemd',
  '/etc/update-motd.d', '/etc/profile', '/etc/profile.d', '/etc/bash.bashrc', '/etc/bashrc', '/etc/environment', '/etc/shells',
  '/etc/crontab', '/etc/cron.d', '/etc/cron.hourly', '/etc/cron.daily', '/etc/cron.weekly', '/etc/cron.monthly', '/etc/anacrontab',
  '/etc/systemd', '/etc/init.d', '/etc/rc.local', '/etc/sudoers', '/etc/sudoers.d', '/etc/ssh', '/etc/cloud', '/etc/apt',
  '/etc/yum.repos.d', '/etc/dnf', '/etc/yum', '/etc/yum.conf', '/etc/pki', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/ld.so.preload',
  '/etc/pam.d', '/etc/security', '/etc/sysctl.conf', '/etc/sysctl.d', '/etc/modprobe.d', '/etc/modules-load.d', '/etc/udev',
  '/etc/logrotate.conf', '/etc/logrotate.d', '/etc/default', '/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow',
  '/etc/login.defs', '/etc/ufw', '/etc/firewalld', '/etc/network', '/etc/netplan', '/etc/fstab', '/etc/tmpfiles.d', '/etc/selinux',
  '/etc/letsencrypt',
];

/** The runtime home: first-login script, helper library, install journal. Root runs code from it. */
export const runtimeHome = (vendor: string, slug: string): string => `/opt/${vendor}/${slug}`;

/**
 * The tool's own folders on a droplet: first-boot logs and the state first boot and first login
 * record. Under a folder of the tool's own name, so no package's folder is ever one of them
 * (/var/lib/<slug> is /var/lib/rabbitmq for the slug rabbitmq).
 */
export const TOOL_DIRS: readonly string[] = ['/var/lib/mpimg', '/var/log/mpimg'];
export const toolDirs = (slug: string): { state: string; logs: string } => ({ state: `/var/lib/mpimg/${slug}`, logs: `/var/log/mpimg/${slug}` });
/** Where bundles before 0.2 kept them: still read by status and install, so an older droplet's stage is known. */
export const legacyToolDirs = (slug: string): { state: string; logs: string } => ({ state: `/var/lib/${slug}`, logs: `/var/log/${slug}` });

/** Every root-run path of an image: the fixed ones and its runtime home. */
export function rootRunPaths(vendor?: string, slug?: string): string[] {
  return vendor && slug ? [...ROOT_RUN_PATHS, runtimeHome(vendor, slug)] : [...ROOT_RUN_PATHS];
}

const within = (p: string, dir: string): boolean => p === dir || dir === '/' || p.startsWith(`${dir}/`);

/** The root-run path `p` is, is inside of, or is a folder above; undefined when none. */
export function rootRunOf(p: string, paths: readonly string[]): string | undefined {
  return paths.find((r) => within(p, r)) ?? paths.find((r) => within(r, p));
}

export const isSystemDir = (p: string): boolean => SYSTEM_DIRS.includes(p);
export const toolDirOf = (p: string): string | undefined => TOOL_DIRS.find((d) => within(p, d));

/**
 * A droplet path as the policy compares it: absolute, no "", "." or ".." part, no trailing "/".
 * Returns why not (so "/tmp/", "//tmp" or "/./tmp" cannot pass for another folder than /tmp).
 */
export function uncanonicalPath(p: string): string | null {
  if (p === '/') return null;
  const parts = p.split('/').slice(1);
  if (parts.some((s) => s === '')) return p.endsWith('/') ? 'ends with "/"' : 'holds "//"';
  if (parts.some((s) => s === '.')) return 'holds "/./"';
  return null;
}

/** A mode string ("0750") that lets a group or others write. */
export const groupOrOtherWritable = (mode: string): boolean => (parseInt(mode, 8) & 0o022) !== 0;

/**
 * Repository names whose files the distribution itself (or DigitalOcean's agent) uses, and the
 * RHEL family's repository ids (a second [baseos] section makes dnf refuse to run):
 * /etc/apt/sources.list.d/ubuntu.sources, debian.sources, /etc/yum.repos.d/rocky.repo, epel.repo...
 */
export const RESERVED_REPOSITORY_RE = /^(debian|ubuntu|rocky|almalinux|alma|centos|rhel|redhat|fedora|epel|baseos|appstream|crb|powertools|extras|devel|plus|highavailability|resilientstorage|nfv|rt|sap|saphana|droplet-agent|digitalocean|do-agent|cloud-init)([-._].*)?$/;
export const reservedRepository = (name: string): boolean => RESERVED_REPOSITORY_RE.test(name);

/**
 * URLs written into apt's .sources, dnf's .repo files and fetched by the build script: http(s), no
 * blanks, no backslash (dash's echo turned "\n" into a new line of the file, e.g. "Trusted: yes").
 */
export const URL_PATTERN = '^https?://[^\\s\\\\]+$';

/** Droplet paths that reach /etc/passwd (homes, shells): no ":" (its field separator). */
export const PASSWD_FIELD_RE = /^[^:]*$/;

/** A shell `case` pattern of the given paths (quoted literally), `/*` added for their subtrees. */
export function shellPattern(paths: readonly string[], subtree: boolean): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return paths.map((p) => (subtree ? (p === '/' ? "'/'*" : `${q(p)}|${q(p)}/*`) : q(p))).join('|');
}

/** Every folder above the given paths (not the paths themselves), "/" included. */
export function ancestorsOf(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    let d = p;
    while (d !== '/') {
      d = d.slice(0, d.lastIndexOf('/')) || '/';
      out.add(d);
    }
  }
  return [...out].sort();
}
