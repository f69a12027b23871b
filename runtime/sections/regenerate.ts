/**
 * $.regenerate: secrets a package makes when it is installed (the ssl-cert package's snakeoil key,
 * RabbitMQ's Erlang cookie), which every droplet of the image would share. The build's cleanup
 * removes the built copy, and the first-boot prepare step (templates/droplet/prepare.sh.ejs) makes
 * it anew, before the other first-boot steps and the services' first-boot start, with its owner and
 * mode, once per droplet. The image check FAILs on a known one left as built (templates/droplet/
 * 99-img-check.sh holds the same paths; test/runtime/regenerate.test.ts keeps them equal).
 */
import type { Check } from '../schema.js';
import { removalProblem } from './build.js';
import {
  ACCOUNT_RE,
  anyOf,
  dropletPath,
  obj,
  octalMode,
  oneOf,
  push,
  str,
  strings,
  unsafeDropletPath,
} from './common.js';

/** A file a package secret is made of, with the owner, group and mode the package gives it. */
export interface SecretFile {
  path: string;
  owner: string;
  group: string;
  mode: string;
}

/** A package-made secret mpimg knows by name. */
export interface PackageSecret {
  /** The package that makes it at install time. */
  package: string;
  /** What the image check and the docs call it. */
  what: string;
  /** The secret file first; the files made with it (a certificate) after. */
  files: SecretFile[];
  /** A program that is there when the package is: without it, first boot has nothing to make. */
  tool: string;
  /**
   * How first boot makes it anew: a fixed command line of prepare.sh.ejs (mpimg__random_file is
   * its own); never text of mpimg.json.
   */
  command: string;
}

export const PACKAGE_SECRETS = {
  'ssl-cert-snakeoil': {
    package: 'ssl-cert',
    what: "the self-signed TLS key of Debian's and Ubuntu's ssl-cert package (Apache's default-ssl site, Postfix)",
    files: [
      { path: '/etc/ssl/private/ssl-cert-snakeoil.key', owner: 'root', group: 'ssl-cert', mode: '0640' },
      { path: '/etc/ssl/certs/ssl-cert-snakeoil.pem', owner: 'root', group: 'root', mode: '0644' },
    ],
    tool: 'make-ssl-cert',
    command: 'make-ssl-cert generate-default-snakeoil --force-overwrite',
  },
  'erlang-cookie': {
    package: 'rabbitmq-server',
    what: "RabbitMQ's Erlang cookie (whoever has it controls the node)",
    files: [{ path: '/var/lib/rabbitmq/.erlang.cookie', owner: 'rabbitmq', group: 'rabbitmq', mode: '0400' }],
    tool: 'rabbitmq-server',
    command: 'mpimg__random_file /var/lib/rabbitmq/.erlang.cookie 20 A-Z rabbitmq:rabbitmq 0400',
  },
} as const satisfies Record<string, PackageSecret>;

export type PackageSecretName = keyof typeof PACKAGE_SECRETS;
export const PACKAGE_SECRET_NAMES = Object.keys(PACKAGE_SECRETS) as PackageSecretName[];

/** A secret of the vendor's own software, made by a command of theirs. */
export interface CustomSecret {
  path: string;
  command: string;
  owner?: string;
  group?: string;
  mode?: string;
}

export type RegenerateEntry = PackageSecretName | CustomSecret;

const account = (what: string) =>
  str({
    description: what,
    pattern: ACCOUNT_RE.source,
    'x-message': 'bad name {value}',
    'x-hint': 'a user or group name: lower-case letters, digits, "_" and "-"',
  });

const CUSTOM = obj(
  {
    path: dropletPath('The file the command makes (removed at build, made anew at first boot).', {
      'x-check': 'regeneratePath',
    }),
    command: str({
      description:
        'Run as root by sh at first boot, with the file removed, to make it anew (e.g. "app-keygen --out /etc/app/app.key"); its output goes to the first-boot log.',
      minLength: 1,
    }),
    owner: account('Its owner after the command (default: as the command leaves it).'),
    group: account('Its group after the command (default: as the command leaves it).'),
    mode: octalMode('Its mode after the command, e.g. "0600" (default: as the command leaves it).'),
  },
  { required: ['path', 'command'] },
);

export const REGENERATE_SCHEMA = strings(
  anyOf([
    oneOf(PACKAGE_SECRET_NAMES, {
      description: PACKAGE_SECRET_NAMES.map(
        (n) =>
          `"${n}": ${PACKAGE_SECRETS[n].what}, ${PACKAGE_SECRETS[n].files.map((f) => `${f.path} (${f.owner}:${f.group} ${f.mode})`).join(' and ')}, package ${PACKAGE_SECRETS[n].package}`,
      ).join('; '),
    }),
    CUSTOM,
  ]),
  {
    description: `Secrets a package makes when it is installed, which every droplet of the image would share: removed by the build's cleanup and made anew at first boot, before the first-boot steps and the services' start, with their owner and mode, once per droplet (first boot run again keeps the droplet's own). A known one by name (${PACKAGE_SECRET_NAMES.map((n) => `"${n}"`).join(', ')}; nothing is made on a droplet without its package), or {"path", "command", "owner", "group", "mode"} for another. The image check FAILs on a known one left as built. A service that started at boot with the old one (RabbitMQ starts before cloud-init's first boot) reads the new one only once restarted: list its unit in $.services (restarted after the first-boot steps).`,
    'x-check': 'regenerate',
  },
);

/** The files of the entries: what the cleanup removes and first boot makes. */
export function regeneratedPaths(entries: readonly RegenerateEntry[] | undefined): string[] {
  return (entries ?? []).flatMap((e) =>
    typeof e === 'string' ? (PACKAGE_SECRETS[e]?.files.map((f) => f.path) ?? []) : [e.path],
  );
}

export const REGENERATE_CHECKS: Record<string, Check> = {
  regeneratePath(v, at, out, root) {
    if (typeof v !== 'string' || unsafeDropletPath(v)) return;
    if (/[*?[]/.test(v))
      return push(out, at, `"${v}" has a wildcard`, 'name the one file the command makes, e.g. /etc/app/app.key');
    const known = PACKAGE_SECRET_NAMES.find((n) => PACKAGE_SECRETS[n].files.some((f) => f.path === v));
    if (known)
      return push(out, at, `${v} is a file of the known "${known}"`, `write "${known}" in place of this entry`);
    const problem = removalProblem(v, root);
    if (problem)
      push(
        out,
        at,
        `${problem}: the build never removes it, and first boot never makes it`,
        "name a file of the app's own (e.g. /etc/app/app.key); what the system needs is the distribution's to make",
      );
  },
  regenerate(v, at, out) {
    if (!Array.isArray(v)) return;
    const seen = new Map<string, number>();
    v.forEach((e, i) => {
      const key = typeof e === 'string' ? e : (e as { path?: unknown })?.path;
      if (typeof key !== 'string') return;
      if (seen.has(key))
        push(out, `${at}[${i}]`, `${key} is listed twice (also ${at}[${seen.get(key)}])`, 'list each once');
      else seen.set(key, i);
    });
  },
};
