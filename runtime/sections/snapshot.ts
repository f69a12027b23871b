/** $.snapshot: the name of the snapshot the build ends with. */
import { obj, str } from './common.js';

export interface Snapshot {
  /** Snapshot name; `{slug}`, `{version}` and `{timestamp}` are filled in. */
  name?: string;
}

// `$`, `{` and `}` only in the placeholders: the name also goes into the Packer template, where
// `${...}` would be evaluated (and could carry the token into the snapshot's name).
export const SNAPSHOT_SCHEMA = obj({
  name: str({
    description: 'Snapshot name; {slug}, {version} and {timestamp} are filled in.',
    minLength: 1,
    maxLength: 255,
    pattern: '^([^${}]|\\{(slug|version|timestamp)\\})+$',
    'x-message': 'snapshot name {value}: "$", "{" and "}" are only allowed in {slug}, {version} and {timestamp}',
    'x-hint': 'e.g. "{slug}-{version}-{timestamp}"',
  }),
});
