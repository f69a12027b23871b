/** $.droplet: the build droplet (region, size, base image, tags, SSH keys). */
import { anyOf, DISTRO_SLUG_RE, int, obj, str, strings } from './common.js';

export interface Droplet {
  region?: string;
  size?: string;
  /** Base image slug; defaults to distributions[0]. */
  image?: string;
  tags?: string[];
  /** SSH key ids or fingerprints; defaults to every key of the account. */
  sshKeys?: Array<string | number>;
}

export const DROPLET_SCHEMA = obj(
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
      anyOf(
        [
          int({
            minimum: 1,
            'x-message': 'bad key id {value}',
            'x-hint': 'a key id is a whole number from 1 up',
          }),
          str({
            pattern: '^\\s*([0-9]*[1-9][0-9]*|([0-9a-fA-F]{2}:){15}[0-9a-fA-F]{2})\\s*$',
            'x-message': 'SSH key {value} is neither a key id nor an MD5 fingerprint',
            'x-hint':
              'give the ID or the FingerPrint that `doctl compute ssh-key list` shows (16 hex pairs with ":"; not ssh-keygen\'s SHA256:...)',
          }),
        ],
        { 'x-hint': 'a key id (a number) or a fingerprint (a string)' },
      ),
      {
        description: 'SSH key ids (numbers; "123" is taken as 123) or fingerprints; default every key of the account.',
      },
    ),
  },
  { description: 'The build droplet.' },
);
