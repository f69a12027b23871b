/**
 * $.files and $.seeded: what is laid onto / and how later runs treat it (managed paths are reported
 * when they drift; seeded ones are laid down once, never "repaired"). One concern: both name droplet
 * paths by the same globs.
 */
import { OWNERS_SCHEMA, type Ownership } from './accounts.js';
import { obj, projectPath, str, strings } from './common.js';
import { TEMPLATES_SCHEMA } from './secrets.js';

export interface FilesKeys {
  files?: { dir: string; managed?: string[]; owners?: Ownership[]; templates?: string[] };
  seeded?: string[];
}

const glob = (description: string) =>
  strings(
    str({
      pattern: '^/[^\\\\]*$',
      'x-message': 'bad path glob {value}',
      'x-hint': 'a droplet path starting with "/", with * (one level), ** (any depth) or ?, e.g. "/etc/nginx/**"',
    }),
    { description },
  );

export const FILES_SCHEMA = obj(
  {
    dir: projectPath(
      'Folder mirrored onto /, modes kept (git keeps only 0644 and 0755: give any other mode in "owners").',
    ),
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
);

export const SEEDED_SCHEMA = glob(
  'Other installed paths that first boot or the customer change: laid down once, never "repaired".',
);
