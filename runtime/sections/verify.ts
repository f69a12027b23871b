/** $.verify: the vendor's own smoke tests, run by `mpimg verify` on a droplet made from the image. */
import { int, obj, str, strings } from './common.js';

export interface VerifySection {
  /** Shell command lines run as root on the new droplet; each must exit 0, e.g. "curl -fsS http://localhost/". */
  commands?: string[];
  /** Bound of each command (default 120). */
  commandTimeoutSeconds?: number;
}

export const DEFAULT_COMMAND_TIMEOUT_S = 120;

export const VERIFY_SCHEMA = obj(
  {
    commands: strings(
      str({
        minLength: 1,
        maxLength: 2000,
        pattern: '\\S',
        'x-message': 'bad command {value}',
        'x-hint': 'one shell command line, e.g. "curl -fsS http://localhost/"',
      }),
      {
        description:
          'Smoke tests run as root (with /bin/sh) on a droplet made from the image, after its first boot; each must exit 0, e.g. ["curl -fsS http://localhost/"].',
      },
    ),
    commandTimeoutSeconds: int({
      minimum: 1,
      maximum: 3600,
      description: 'Each command is stopped after this many seconds (default 120) and counts as failed.',
      'x-message': 'commandTimeoutSeconds {value}',
      'x-hint': 'a whole number of seconds from 1 to 3600',
    }),
  },
  { description: '`mpimg verify`: what a droplet made from the image must show besides the built-in checks.' },
);
