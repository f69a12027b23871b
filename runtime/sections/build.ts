/** $.build: what the build droplet installs: repositories first, then packages, then the build scripts. */
import { isSystemDir, reservedRepository, rootRunOf, rootRunPaths, toolDirOf, URL_PATTERN } from '../policy.js';
import type { Check } from '../schema.js';
import {
  BUILD_SECRETS_SCHEMA,
  REPOSITORY_AUTH_SCHEMA,
  type BuildSecret,
  type RepositoryAuth,
} from './build-secrets.js';
import { DEBCONF_CHECKS, DEBCONF_SCHEMA, type DebconfEntry } from './debconf.js';
import { bool, obj, perDistro, projectPath, push, str, strings, unsafeDropletPath, type PerDistro } from './common.js';

export interface RepositoryKey {
  /** The signing key shipped in the project (armored or binary). */
  file?: string;
  /** Or fetched from here at build time... */
  url?: string;
  /** ...and checked against this fingerprint (40 or 64 hex digits) before anything trusts it. */
  fingerprint?: string;
}

export interface Repository {
  /** File name on the droplet: /etc/apt/sources.list.d/<name>.sources, /etc/yum.repos.d/<name>.repo. */
  name: string;
  /** Ubuntu only: "owner/name" of a Launchpad PPA. */
  ppa?: string;
  /** apt: the repository's URI(s), suites ({codename} is the droplet's) and components. */
  uris?: string;
  suites?: string[];
  components?: string[];
  /** dnf: the repository's base URL ($releasever and $basearch are dnf's). */
  baseurl?: string;
  /** dnf: the repository signs its metadata (repodata/repomd.xml.asc) with its key: repo_gpgcheck=1. */
  signedMetadata?: boolean;
  key?: RepositoryKey;
  auth?: RepositoryAuth;
}

export interface BuildSection {
  packages?: PerDistro<string>;
  scriptsDir?: string;
  repositories?: PerDistro<Repository>;
  /** Droplet paths the packages install and the image must not ship (the last part may be a glob). */
  remove?: PerDistro<string>;
  secrets?: BuildSecret[];
  debconf?: DebconfEntry[];
}

/*
 * A package entry: a name, or name=version where the version may hold apt/dnf globs (* and ?) and
 * {{VARIABLE}}s of $.variables (filled in at bundle time). Nothing a shell or the package manager
 * would read as more than one word: no space, quote, $, `, ;, &, |, <, >, (, ), [, \ or line break.
 */
const NAME_PART = '[A-Za-z0-9][A-Za-z0-9.+_:~-]*';
const VERSION_CHAR = '[A-Za-z0-9.+_:~*?-]';
const PLACEHOLDER = '\\{\\{[A-Z][A-Z0-9_]{0,63}\\}\\}';
export const PACKAGE_RE = new RegExp(`^${NAME_PART}(=(?:${VERSION_CHAR}|${PLACEHOLDER})+)?$`);
/** A package entry with its variables filled in. */
const RESOLVED_PACKAGE_RE = new RegExp(`^${NAME_PART}(=${VERSION_CHAR}+)?$`);
const VERSION_RE = new RegExp(`^${VERSION_CHAR}+$`);
const PLACEHOLDER_G = /\{\{([A-Z][A-Z0-9_]{0,63})\}\}/g;

const PACKAGE = str({
  pattern: PACKAGE_RE.source,
  'x-message': 'bad package entry {value}',
  'x-hint':
    'one package per entry: a name, or name=version where the version may have globs and variables, e.g. "nginx", "nginx=1.24.*", "python3-django={{DJANGO_VERSION}}" (no spaces or shell characters)',
  'x-check': 'packageEntry',
});

const defaultOf = (v: unknown): string | undefined => {
  if (typeof v === 'string') return v;
  const d = (v as { default?: unknown } | null)?.default;
  return typeof d === 'string' ? d : undefined;
};

/**
 * The argument the package manager gets for entry `entry` of build.packages: its {{VARIABLE}}s
 * filled in from `vars`, and for dnf name=version written as dnf takes it (name-version). Throws,
 * naming the entry, when a variable is unknown or its value is no package version.
 */
export function packageArgument(entry: string, vars: Record<string, string>, family: 'apt' | 'dnf'): string {
  const filled = entry.replace(PLACEHOLDER_G, (_, name: string) => {
    const v = vars[name];
    if (v === undefined)
      throw new Error(`build.packages entry "${entry}": {{${name}}} is not a variable of $.variables`);
    if (!VERSION_RE.test(v))
      throw new Error(
        `build.packages entry "${entry}": the value of ${name} ("${v}") is no package version (letters, digits, . + _ : ~ - and the globs * ?)`,
      );
    return v;
  });
  if (!RESOLVED_PACKAGE_RE.test(filled))
    throw new Error(`build.packages entry "${entry}" becomes "${filled}": not a package name or name=version`);
  return family === 'dnf' ? filled.replace('=', '-') : filled;
}

const REPOSITORY = obj(
  {
    name: str({
      description:
        "File name (and dnf id) of the repository on the droplet. Not a name of the distribution's own (debian, ubuntu, rocky, almalinux, centos, epel, baseos, appstream, ...): those files are never written over.",
      pattern: '^[a-z0-9][a-z0-9._-]{0,62}$',
      'x-message': 'bad repository name {value}',
      'x-hint': 'lower-case letters, digits, ".", "_" and "-" (it becomes a file name)',
    }),
    ppa: str({
      description: 'Ubuntu only: a Launchpad PPA as "owner/name".',
      pattern: '^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$',
      'x-hint': 'e.g. "ondrej/php"',
    }),
    uris: str({
      description: 'apt: the URI of the repository.',
      pattern: URL_PATTERN,
      'x-message': 'bad URL {value}',
      'x-hint': 'an http(s) URL without blanks or "\\", e.g. "https://deb.nodesource.com/node_20.x"',
    }),
    suites: strings(str({ pattern: '^[A-Za-z0-9.{}_/-]+$' }), {
      description: "apt: suites; {codename} is the build droplet's release codename.",
      minItems: 1,
    }),
    components: strings(str({ pattern: '^[A-Za-z0-9._-]+$' }), { description: 'apt: components, e.g. ["main"].' }),
    baseurl: str({
      description: 'dnf: the base URL of the repository.',
      pattern: URL_PATTERN,
      'x-message': 'bad URL {value}',
      'x-hint': 'an http(s) URL without blanks or "\\"',
    }),
    signedMetadata: bool(
      "dnf: the repository signs its metadata (a detached signature repodata/repomd.xml.asc) with its key: the .repo gets repo_gpgcheck=1, so dnf refuses metadata the key did not sign, not only packages (gpgcheck=1, always). Many vendors sign only their packages: switch it on when the vendor's repository has repomd.xml.asc; the build reads the metadata (dnf makecache) and fails if it is not signed by the key.",
    ),
    key: obj(
      {
        file: projectPath('The signing key, shipped in the project.'),
        url: str({
          description: 'The signing key, fetched at build time.',
          pattern: URL_PATTERN,
          'x-message': 'bad URL {value}',
          'x-hint': 'an http(s) URL without blanks or "\\"',
        }),
        fingerprint: str({
          description: "The key's fingerprint: a fetched key is refused unless it matches.",
          pattern: '^[0-9A-Fa-f]{40}([0-9A-Fa-f]{24})?$',
          'x-message': 'bad fingerprint {value}',
          'x-hint': '40 (or 64) hex digits, as `gpg --show-keys --with-colons KEYFILE` prints in its fpr line',
        }),
      },
      { description: "The repository's signing key." },
    ),
    auth: REPOSITORY_AUTH_SCHEMA,
  },
  { required: ['name'], 'x-check': 'repository' },
);

const REMOVE = str({
  pattern: '^/',
  'x-message': 'bad path to remove {value}',
  'x-hint': 'an absolute droplet path, e.g. "/etc/nginx/sites-enabled/default"',
  'x-check': 'removal',
});

export const BUILD_SCHEMA = obj(
  {
    packages: perDistro(
      PACKAGE,
      'Packages installed with apt-get or dnf on the build droplet: a name, or name=version, where the version may hold globs ("nginx=1.24.*") and {{VARIABLE}}s of $.variables filled in at bundle time ("python3-django={{DJANGO_VERSION}}"); on the dnf family name=version is installed as name-version.',
    ),
    scriptsDir: projectPath('Folder of numbered build scripts run in order on the build droplet.'),
    repositories: perDistro(
      REPOSITORY,
      'Package repositories, installed before the packages. Each is a "ppa" (Ubuntu), an apt "uris" with "suites" or a dnf "baseurl", and needs its signing key (a file of the project, or a URL with the fingerprint it must have); a PPA brings its own.',
    ),
    secrets: BUILD_SECRETS_SCHEMA,
    remove: perDistro(
      REMOVE,
      'Droplet paths the packages install and the image must not ship (nginx\'s /etc/nginx/sites-enabled/default, Debian\'s /var/www/html/index.nginx-debian.html), removed right after the packages: a file, a link (what it points to stays) or a folder with what is in it; a path not there is fine. The last part may be a glob ("/etc/nginx/sites-enabled/*"). `status` on the droplet reports a listed path that is there again (drift: "not removed"). Never a system folder, generator-mpimg\'s own folders or where root runs code from (/etc/systemd, /usr, /opt/<vendor>/<slug>, ...), also not through a link.',
    ),
    debconf: DEBCONF_SCHEMA,
  },
  { description: 'What the build droplet installs.' },
);

const GLOB_RE = /[*?[]/;

/** Why the build may not remove droplet path (or glob) `p` of $.build.remove (runtime/policy.ts), or null. */
export function removalProblem(p: string, root: Record<string, unknown>): string | null {
  const cut = p.lastIndexOf('/');
  const folder = p.slice(0, cut) || '/';
  if (GLOB_RE.test(folder)) return `"${p}" has a wildcard in a folder: only its last part may be a glob`;
  const glob = GLOB_RE.test(p.slice(cut + 1));
  // A glob is judged by its folder: everything in it may match.
  const at = glob ? folder : p;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const r = rootRunOf(at, rootRunPaths(str(root.vendor), str(root.slug)));
  const tool = toolDirOf(at);
  if (isSystemDir(at))
    return glob ? `"${p}" would remove what is in ${at}, a system folder` : `${p} is a system folder`;
  if (tool) return `${p} is in ${tool}, generator-mpimg's own folder on the droplet`;
  if (r)
    return r === at || at.startsWith(`${r}/`)
      ? `${p} is in ${r}, where root runs code from`
      : `${p} would remove ${r}, where root runs code from`;
  return null;
}

export const BUILD_CHECKS: Record<string, Check> = {
  ...DEBCONF_CHECKS,
  packageEntry(v, at, out, root) {
    if (typeof v !== 'string' || !PACKAGE_RE.test(v)) return;
    const vars = (root.variables ?? {}) as Record<string, unknown>;
    for (const [, name] of v.matchAll(PLACEHOLDER_G)) {
      if (!(name in vars)) {
        push(
          out,
          at,
          `{{${name}}} in package entry "${v}" is not a variable of $.variables`,
          `add "${name}" to "variables" in mpimg.json (e.g. "${name}": "1.0.*"), or write the version itself`,
        );
        continue;
      }
      const value = defaultOf(vars[name]);
      if (value !== undefined && !VERSION_RE.test(value))
        push(
          out,
          at,
          `the default of ${name} ("${value}") is no package version, so package entry "${v}" cannot be installed`,
          'a version has letters, digits, . + _ : ~ - and the globs * ?, e.g. "4.2.*"',
        );
    }
  },
  removal(v, at, out, root) {
    if (typeof v !== 'string' || !v.startsWith('/')) return;
    const why = unsafeDropletPath(v);
    if (why)
      return push(
        out,
        at,
        `bad path to remove "${v}": ${why}`,
        'an absolute droplet path written plainly, e.g. /etc/nginx/sites-enabled/default',
      );
    const problem = removalProblem(v, root);
    if (problem)
      push(
        out,
        at,
        `${problem}: the build never removes it`,
        "list only what a package installed for the app's service (a default site, a sample page); what root runs is the package's to remove (apt-get purge, dnf remove)",
      );
  },
  repository(v, at, out) {
    const r = v as Repository;
    if (typeof r.name === 'string' && reservedRepository(r.name))
      push(
        out,
        `${at}.name`,
        `"${r.name}" is a name of the distribution's own repositories: its file (e.g. /etc/apt/sources.list.d/ubuntu.sources, /etc/yum.repos.d/rocky.repo) or dnf id would be taken over`,
        `name it after the vendor, e.g. "acme-${r.name}"`,
      );
    const kinds = [r.ppa !== undefined, r.uris !== undefined, r.baseurl !== undefined].filter(Boolean).length;
    if (kinds !== 1)
      push(
        out,
        at,
        'a repository is a "ppa", an apt "uris" or a dnf "baseurl": give exactly one',
        'e.g. {"name": "nodesource", "uris": "https://deb.nodesource.com/node_20.x", "suites": ["nodistro"], "components": ["main"], "key": {...}}',
      );
    if (r.uris !== undefined && !r.suites)
      push(out, `${at}.suites`, 'an apt repository needs its suites', 'e.g. "suites": ["{codename}"]');
    if (r.signedMetadata !== undefined && r.baseurl === undefined)
      push(
        out,
        `${at}.signedMetadata`,
        'only a dnf repository ("baseurl") takes "signedMetadata"',
        'apt always checks a repository\'s Release file against its key (Signed-By): remove "signedMetadata"',
      );
    if (r.ppa !== undefined && r.key)
      push(out, `${at}.key`, 'a PPA brings its own key', 'remove "key" (add-apt-repository fetches it)');
    // add-apt-repository has no way to take credentials: "auth" on a PPA would be dropped silently.
    if (r.ppa !== undefined && r.auth !== undefined)
      push(
        out,
        `${at}.auth`,
        'a PPA takes no "auth": add-apt-repository reaches public PPAs only',
        'a private PPA is reached by its subscribers at https://private-ppa.launchpadcontent.net/<owner>/<name>/ubuntu with the user name and token of their Launchpad subscription: list it as an apt repository ("uris" with that address, "suites", "components": ["main"], the PPA\'s signing key as "key") with this "auth", or remove "auth"',
      );
    if (r.ppa === undefined && !r.key)
      push(
        out,
        `${at}.key`,
        'the repository has no signing key',
        'give "key": {"file": ...} or {"url": ..., "fingerprint": ...}: unsigned repositories are refused',
      );
    if (r.key) {
      if ((r.key.file === undefined) === (r.key.url === undefined))
        push(
          out,
          `${at}.key`,
          'give the key as "file" or as "url", one of them',
          'a key file shipped in the project, or a URL with its "fingerprint"',
        );
      if (r.key.url !== undefined && !r.key.fingerprint)
        push(
          out,
          `${at}.key.fingerprint`,
          'a key fetched from a URL needs its fingerprint',
          'add the fingerprint: a changed key then stops the build',
        );
    }
  },
};
