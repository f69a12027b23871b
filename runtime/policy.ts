/**
 * The policy: what no mpimg.json may make an image do, whatever else it says. ONE list of each kind,
 * consulted by the schema (x-checks of runtime/sections/), the generator (through the schema), the
 * bundler, the build script (rendered from here as shell patterns: it refuses at run time what only
 * the machine knows, e.g. a link that leads a folder to /etc) and the image check (its list of
 * folders root runs code from is this one; test/runtime/policy.test.ts keeps them equal).
 * Dependency-free: it is bundled into the on-droplet runtime.
 */

/** Short to write and small in the on-droplet bundle: prefix + each space-separated name. */
const list = (prefix: string, names: string): string[] => names.split(' ').map((n) => prefix + n);
const words = (names: string): string[] => names.split(' ');

/** Vendor folder names that fail Marketplace review by themselves (/opt/digitalocean is the agent's). */
export const RESERVED_VENDORS: ReadonlySet<string> = new Set(['digitalocean', 'do-agent', 'droplet-agent']);

/**
 * Characters no secret is drawn from: a quote, backslash, "$" or backtick breaks the quoting of the
 * shell and config files a secret is written into (KEY='...', "..." strings, .env files).
 */
export const UNQUOTABLE_SECRET_CHARS = '\'"`\\$';

/** Names that have uid 0 on some system: never an entry of $.users. */
export const ROOT_ACCOUNTS: readonly string[] = ['root', 'toor'];

/**
 * Accounts of the supported base images (Debian/Ubuntu base-passwd, systemd and the packages of
 * DigitalOcean's images; the RHEL family's setup package): $.users may add them to groups, never
 * change their home or shell (`nobody` with a shell, `daemon` with a home of the app's...).
 */
export const SYSTEM_ACCOUNTS: readonly string[] = words(
  'daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats nobody _apt messagebus syslog sshd uuidd tcpdump tss landscape pollinate usbmux lxd dnsmasq dhcpcd statd ntp fwupd-refresh polkitd systemd-network systemd-resolve systemd-timesync systemd-coredump systemd-oom _chrony adm shutdown halt operator ftp dbus chrony sssd rpc rpcuser unbound libstoragemgmt cockpit-ws cockpit-wsinstance setroubleshoot clevis rngd nfsnobody',
);

/**
 * A base image's account: one of SYSTEM_ACCOUNTS, or a name of the prefixes distributions keep for
 * their own (systemd's "systemd-", Debian's "_": systemd-journal-remote, _rpc, _laurel ...).
 */
export const isSystemAccount = (name: string): boolean =>
  SYSTEM_ACCOUNTS.includes(name) || name.startsWith('systemd-') || name.startsWith('_');

/**
 * Groups that hand root (or its secrets, or the raw disks) to their members: docker and lxd start
 * root containers on request, staff may write /usr/local on Debian. Never an extra group of
 * $.users, nor a user's own (a user "shadow" would get the group shadow as its primary group).
 */
export const PRIVILEGED_GROUPS: readonly string[] = [
  'root',
  'sudo',
  'wheel',
  'admin',
  'shadow',
  'disk',
  'kmem',
  'docker',
  'lxd',
  'staff',
];

/**
 * System folders: never an entry of $.directories or a home of $.users, whoever would own them
 * (a mode or owner of the manifest on /, /tmp or /etc/ssh breaks every droplet made from the image).
 * Their own children (/etc/nginx, /var/lib/app) are the vendor's.
 */
export const SYSTEM_DIRS: readonly string[] = [
  '/',
  ...list('/', 'bin boot dev etc home lib lib32 lib64 libx32 media mnt opt proc root run sbin srv sys tmp usr var'),
  '/dev/shm',
  ...list('/run/', 'lock user'),
  '/root/.ssh',
  ...list(
    '/usr/',
    'bin sbin lib lib32 lib64 libx32 libexec include share src games local local/bin local/sbin local/lib local/libexec local/share local/etc local/include local/src local/games lib/systemd lib/systemd/system',
  ),
  ...list('/lib/', 'systemd systemd/system'),
  ...list(
    '/var/',
    'lib log cache tmp spool mail backups opt local run lock crash empty spool/cron lib/dpkg lib/rpm lib/systemd lib/cloud lib/cloud/scripts lib/cloud/scripts/per-instance lib/cloud/scripts/per-boot lib/cloud/scripts/per-once',
  ),
  ...list(
    '/etc/',
    'update-motd.d profile.d cron.d cron.hourly cron.daily cron.weekly cron.monthly systemd systemd/system init.d sudoers.d ssh ssh/sshd_config.d cloud cloud/cloud.cfg.d apt apt/sources.list.d apt/keyrings apt/trusted.gpg.d apt/apt.conf.d apt/preferences.d yum.repos.d dnf yum pki pki/rpm-gpg ld.so.conf.d pam.d security sysctl.d modprobe.d modules-load.d default logrotate.d skel ssl ssl/certs ssl/private ufw firewalld network netplan tmpfiles.d udev selinux',
  ),
];

/**
 * Where root executes, sources or trusts code from, at boot, at login or from cron and the package
 * manager: these paths, everything below them and every folder above them stay root's alone (owner
 * root, not writable by a group or by others). An app user owning /opt/<vendor> could swap the
 * first-login script root runs; owning /etc/profile.d, a line every root login sources; owning
 * /etc/dpkg, /etc/kernel or /etc/rsyslog.d, a hook or program the package manager or a daemon runs as root;
 * /etc/alternatives, the links /usr/bin/awk and the like go through.
 * The runtime home /opt/<vendor>/<slug> is added per image (rootRunPaths).
 */
export const ROOT_RUN_PATHS: readonly string[] = [
  ...list('/', 'bin sbin lib lib32 lib64 libx32 usr boot root'),
  '/snap',
  ...list('/var/', 'lib/cloud spool/cron lib/dpkg lib/rpm lib/systemd lib/snapd'),
  ...list(
    '/etc/',
    'update-motd.d profile profile.d bash.bashrc bashrc bash_completion.d environment shells crontab cron.d cron.hourly cron.daily cron.weekly cron.monthly anacrontab systemd init.d rc.local rc.d sudoers sudoers.d sudo.conf ssh cloud apt dpkg yum.repos.d dnf yum yum.conf pki ld.so.conf ld.so.conf.d ld.so.preload nsswitch.conf pam.d security sysctl.conf sysctl.d modprobe.d modules-load.d udev logrotate.conf logrotate.d rsyslog.conf rsyslog.d default sysconfig kernel initramfs-tools grub.d needrestart dhcp networkd-dispatcher NetworkManager passwd group shadow gshadow login.defs ufw firewalld network netplan fstab tmpfiles.d selinux letsencrypt alternatives',
  ),
];

/** The runtime home: first-login script, helper library, install journal. Root runs code from it. */
export const runtimeHome = (vendor: string, slug: string): string => `/opt/${vendor}/${slug}`;

/**
 * The tool's own folders on a droplet: first-boot logs and the state first boot and first login
 * record. Under a folder of the tool's own name, so no package's folder is ever one of them
 * (/var/lib/<slug> is /var/lib/rabbitmq for the slug rabbitmq).
 */
export const TOOL_DIRS: readonly string[] = ['/var/lib/mpimg', '/var/log/mpimg'];
export const toolDirs = (slug: string): { state: string; logs: string } => ({
  state: `/var/lib/mpimg/${slug}`,
  logs: `/var/log/mpimg/${slug}`,
});
/** Where bundles before 0.2 kept them: still read by status and install, so an older droplet's stage is known. */
export const legacyToolDirs = (slug: string): { state: string; logs: string } => ({
  state: `/var/lib/${slug}`,
  logs: `/var/log/${slug}`,
});

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
export const RESERVED_REPOSITORY_RE =
  /^(debian|ubuntu|rocky|almalinux|alma|centos|rhel|redhat|fedora|epel|baseos|appstream|crb|powertools|extras|devel|plus|highavailability|resilientstorage|nfv|rt|sap|saphana|droplet-agent|digitalocean|do-agent|cloud-init)([-._].*)?$/;
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
