/**
 * THE rule source of mpimg.json: one JSON Schema (in the subset runtime/schema.ts validates), put
 * together from one module per section. validateManifest (generator, bundler, runtime) validates
 * with it; `npm run build` publishes it as mpimg.schema.json for editors. What only code can say
 * (reserved names, duplicates, unsafe paths) is an `x-check`, also described in the schema's text.
 */
import type { Check, Problem, Schema } from './schema.js';
import { ACCOUNT_CHECKS, DIRECTORIES_SCHEMA, OWNERS_SCHEMA, USERS_SCHEMA } from './sections/accounts.js';
import { BUILD_CHECKS, BUILD_SCHEMA } from './sections/build.js';
import {
  bool,
  COMMON_CHECKS,
  DISTRO_SLUG_RE,
  dropletPath,
  NAME_RE,
  obj,
  projectPath,
  push,
  SLUG_RE,
  str,
  strings,
  VENDOR_RE,
} from './sections/common.js';
import { FIREWALL_CHECKS, FIREWALL_SCHEMA } from './sections/firewall.js';
import { LISTING_CHECKS, LISTING_SCHEMA } from './sections/listing.js';
import { SECRET_CHECKS, SECRETS_SCHEMA, TEMPLATES_SCHEMA } from './sections/secrets.js';
import { SERVICES_SCHEMA } from './sections/services.js';
import { VARIABLE_CHECKS, VARIABLES_SCHEMA } from './sections/variables.js';
import { VERIFY_SCHEMA } from './sections/verify.js';
import { RESERVED_VENDORS } from './policy.js';

export const SCHEMA_ID = 'https://raw.githubusercontent.com/generator-mpimg/generator-mpimg/main/mpimg.schema.json';

export { RESERVED_VENDORS } from './policy.js';

const minutes = (description: string): Schema => ({
  type: 'integer',
  minimum: 1,
  maximum: 1440,
  description,
  'x-message': '{value}: not a whole number of minutes from 1 to 1440',
  'x-hint': 'e.g. 30',
});
const glob = (description: string): Schema =>
  strings(
    str({
      pattern: '^/[^\\\\]*$',
      'x-message': 'bad path glob {value}',
      'x-hint': 'a droplet path starting with "/", with * (one level), ** (any depth) or ?, e.g. "/etc/nginx/**"',
    }),
    { description },
  );

const FIRST_BOOT_ENTRY: Schema = obj(
  {
    order: {
      type: 'integer',
      minimum: 0,
      maximum: 99,
      description: 'Run order (cloud-init runs per-instance scripts in name order).',
      'x-message': 'order {value} is not a whole number from 0 to 99',
      'x-hint': 'use two digits, e.g. 10, 20, 30',
    },
    name: str({
      description: 'Short name, used in file names: NN-<slug>-<name>.',
      pattern: NAME_RE.source,
      'x-message': 'bad name {value}',
      'x-hint': 'lower-case letters, digits, "_" and "-"',
    }),
    file: projectPath('Path inside the project, e.g. first-boot/10-setup.sh.'),
    timeoutMinutes: minutes('Stop the step after this many minutes (default: $.firstBootTimeoutMinutes).'),
  },
  { required: ['order', 'name', 'file'] },
);

export const MANIFEST_SCHEMA: Schema = {
  ...obj(
    {
      $schema: str({ description: 'This schema, for editors.' }),
      name: str({
        description: 'Display name, e.g. "Acme Wiki".',
        minLength: 1,
        pattern: '\\S',
        'x-message': 'name must be one non-empty line',
        'x-hint': 'use the product name as customers see it',
      }),
      slug: str({
        description: 'Lower-case id used in every installed name: /var/log/mpimg/<slug>, 99-<slug>, ...',
        pattern: SLUG_RE.source,
        'x-message': 'bad slug {value}',
        'x-hint': '2-40 characters: lower-case letters, digits and "-", starting with a letter, not ending with "-"',
      }),
      vendor: str({
        description:
          'Company folder under /opt: /opt/<vendor>/<slug>. "digitalocean" is reserved (it fails the Marketplace check).',
        pattern: VENDOR_RE.source,
        'x-message': 'bad vendor folder name {value}',
        'x-hint': 'lower-case letters, digits, ".", "_" and "-" only (it becomes /opt/<vendor>)',
        'x-check': 'vendor',
      }),
      version: str({
        description: "The image's version.",
        pattern: '^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$',
        'x-message': 'bad version {value}',
        'x-hint': 'use something like 1.0.0 (letters, digits, ".", "+", "_", "-")',
      }),
      distributions: strings(
        str({
          pattern: DISTRO_SLUG_RE.source,
          'x-message': 'bad distribution {value}',
          'x-hint': 'use a DigitalOcean image slug such as ubuntu-24-04-x64',
        }),
        {
          description: 'DigitalOcean base image slugs this image is built for; the first is the build base.',
          minItems: 1,
          'x-hint': 'add one, e.g. "ubuntu-24-04-x64"',
        },
      ),
      firstBoot: strings(FIRST_BOOT_ENTRY, {
        description: 'First-boot steps, each with its own order and name. Default: every NN-name file in first-boot/.',
        'x-check': 'firstBoot',
      }),
      firstBootTimeoutMinutes: minutes(
        'A first-boot step still running after this many minutes is stopped and counted as failed (default 30).',
      ),
      firstLogin: {
        anyOf: [obj({ file: projectPath('The first-login script.') }, { required: ['file'] }), { type: 'null' }],
        description: 'Defaults to first-login/first-login.sh when that file exists; null turns it off.',
      },
      motd: {
        anyOf: [
          obj(
            {
              file: projectPath(
                'MOTD text file; {{ip}}, {{name}}, {{version}}, {{credentials}} (the credentials file) and {{VARIABLE}} are filled in.',
              ),
              afterFirstLogin: projectPath('MOTD text shown once the first-login setup has finished.'),
            },
            { required: ['file'] },
          ),
          { type: 'null' },
        ],
        description: 'The login message.',
      },
      files: obj(
        {
          dir: projectPath('Folder mirrored onto /, modes kept.'),
          managed: glob(
            'Droplet paths under files/ that the tool manages (status reports their drift); every other files/ path is seeded.',
          ),
          owners: OWNERS_SCHEMA,
          templates: TEMPLATES_SCHEMA,
        },
        {
          required: ['dir'],
          description:
            'Files laid onto / before the build scripts; seeded by default (the build scripts, first boot and the customer may change them).',
        },
      ),
      seeded: glob('Other installed paths that first boot or the customer change: laid down once, never "repaired".'),
      loginHold: {
        anyOf: [
          { type: 'boolean' },
          obj({ message: str({ description: 'What a held root login sees.', maxLength: 300 }) }),
        ],
        description:
          'Hold root SSH logins with a "please wait" until a new droplet\'s first boot has finished (always released).',
      },
      variables: VARIABLES_SCHEMA,
      secrets: SECRETS_SCHEMA,
      users: USERS_SCHEMA,
      directories: DIRECTORIES_SCHEMA,
      services: SERVICES_SCHEMA,
      firewall: FIREWALL_SCHEMA,
      credentials: obj(
        {
          file: dropletPath(
            "The root-only file first-boot scripts save credentials to (default /root/.<slug>-credentials; DigitalOcean's own images use /root/.digitalocean_passwords). Not inside a folder $.directories or $.users give to another user.",
          ),
        },
        { description: 'Where generated passwords are kept.', 'x-check': 'credentials' },
      ),
      build: BUILD_SCHEMA,
      cleanup: obj({
        script: projectPath("The project's own copy of the cleanup (default: the package's)."),
        lockRootPassword: bool("Lock root's password before the snapshot."),
        zeroFill: bool('Zero-fill free space before the snapshot (off unless asked for).'),
        zeroFillMaxMiB: {
          type: 'integer',
          minimum: 1,
          maximum: 1048576,
          description: 'Upper bound of the zero-fill file in MiB.',
          'x-message': 'zeroFillMaxMiB {value}',
          'x-hint': 'a whole number of MiB from 1 to 1048576',
        },
      }),
      check: obj({ script: projectPath("The project's own copy of the image check (default: the package's).") }),
      droplet: obj(
        {
          region: str({ description: 'Region of build droplets.', pattern: '^[a-z0-9][a-z0-9-]*$' }),
          size: str({
            description: 'Size of build droplets (the smallest is what the Marketplace asks for).',
            pattern: '^[a-z0-9][a-z0-9-]*$',
          }),
          image: str({
            description: 'Base image slug or id; default distributions[0].',
            pattern: `^(${DISTRO_SLUG_RE.source.slice(1, -1)}|\\d+)$`,
            'x-message': 'bad image {value}',
            'x-hint': 'a base image slug such as ubuntu-24-04-x64, or an image id',
          }),
          tags: strings(
            str({
              pattern: '^[a-zA-Z0-9_:-]{1,255}$',
              'x-message': 'bad tag {value}',
              'x-hint': 'DigitalOcean tags are 1-255 letters, digits, ":", "-" or "_"',
            }),
            { description: 'Extra tags of build droplets.' },
          ),
          sshKeys: strings(
            {
              anyOf: [
                {
                  type: 'integer',
                  minimum: 1,
                  'x-message': 'bad key id {value}',
                  'x-hint': 'a key id is a whole number from 1 up',
                },
                str({
                  pattern: '^\\s*([0-9]*[1-9][0-9]*|([0-9a-fA-F]{2}:){15}[0-9a-fA-F]{2})\\s*$',
                  'x-message': 'SSH key {value} is neither a key id nor an MD5 fingerprint',
                  'x-hint':
                    'give the ID or the FingerPrint that `doctl compute ssh-key list` shows (16 hex pairs with ":"; not ssh-keygen\'s SHA256:...)',
                }),
              ],
              'x-hint': 'a key id (a number) or a fingerprint (a string)',
            },
            {
              description:
                'SSH key ids (numbers; "123" is taken as 123) or fingerprints; default every key of the account.',
            },
          ),
        },
        { description: 'The build droplet.' },
      ),
      // `$`, `{` and `}` only in the placeholders: the name also goes into the Packer template, where
      // `${...}` would be evaluated (and could carry the token into the snapshot's name).
      snapshot: obj({
        name: str({
          description: 'Snapshot name; {slug}, {version} and {timestamp} are filled in.',
          minLength: 1,
          maxLength: 255,
          pattern: '^([^${}]|\\{(slug|version|timestamp)\\})+$',
          'x-message': 'snapshot name {value}: "$", "{" and "}" are only allowed in {slug}, {version} and {timestamp}',
          'x-hint': 'e.g. "{slug}-{version}-{timestamp}"',
        }),
      }),
      verify: VERIFY_SCHEMA,
      listing: LISTING_SCHEMA,
    },
    { required: ['name', 'slug', 'vendor', 'version', 'distributions'] },
  ),
};

/** The published form (`$schema`, `$id`, title) around the rules. */
export function schemaDocument(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: SCHEMA_ID,
    title: 'mpimg.json: a DigitalOcean Marketplace 1-click image project (generator-mpimg)',
    ...MANIFEST_SCHEMA,
  };
}

export const MANIFEST_CHECKS: Record<string, Check> = {
  ...COMMON_CHECKS,
  ...BUILD_CHECKS,
  ...ACCOUNT_CHECKS,
  ...FIREWALL_CHECKS,
  ...LISTING_CHECKS,
  ...VARIABLE_CHECKS,
  ...SECRET_CHECKS,
  vendor(v, at, out) {
    if (typeof v === 'string' && RESERVED_VENDORS.has(v))
      push(
        out,
        at,
        `vendor "${v}" is reserved`,
        '/opt/digitalocean alone fails the Marketplace check: use your company name',
      );
  },
  // Root writes the credentials file at first boot: in a folder another user owns, that user could
  // put a link where it writes (or read the passwords).
  credentials(v, at, out, root) {
    const file = (v as { file?: string }).file;
    if (typeof file !== 'string') return;
    const owned: Array<[string, string]> = [];
    if (Array.isArray(root.directories))
      for (const d of root.directories as Array<{ path?: unknown; owner?: unknown }>)
        if (typeof d?.path === 'string' && typeof d.owner === 'string' && d.owner !== 'root')
          owned.push([d.path, d.owner]);
    if (Array.isArray(root.users))
      for (const u of root.users as Array<{ name?: unknown; home?: unknown }>)
        if (typeof u?.home === 'string' && typeof u.name === 'string') owned.push([u.home, u.name]);
    const hit = owned.find(([d]) => file.startsWith(`${d}/`));
    if (hit)
      push(
        out,
        `${at}.file`,
        `${file} is inside ${hit[0]}, which belongs to "${hit[1]}": it could read the passwords root saves there, or put a link where root writes them`,
        'keep the credentials in a root-only folder, e.g. /root/.<slug>-credentials (the default)',
      );
  },
  firstBoot(v, at, out) {
    if (!Array.isArray(v)) return;
    const orders = new Map<number, number>();
    const names = new Map<string, number>();
    v.forEach((e, i) => {
      const entry = e as { order?: unknown; name?: unknown };
      if (typeof entry?.order === 'number' && Number.isInteger(entry.order) && entry.order >= 0 && entry.order <= 99) {
        if (orders.has(entry.order))
          push(
            out,
            `${at}[${i}].order`,
            `duplicate order ${entry.order} (also ${at}[${orders.get(entry.order)}])`,
            'give each first-boot script its own number',
          );
        else orders.set(entry.order, i);
      }
      if (typeof entry?.name === 'string' && NAME_RE.test(entry.name)) {
        if (names.has(entry.name))
          push(out, `${at}[${i}].name`, `duplicate name "${entry.name}"`, 'give each first-boot script its own name');
        else names.set(entry.name, i);
      }
    });
  },
};

export type { Problem };
