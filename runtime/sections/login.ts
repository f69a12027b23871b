/**
 * $.firstLogin, $.motd and $.loginHold: what root meets on SSH to a new droplet (held until first
 * boot has finished, then the login message, then the one-time first-login setup). One concern: the
 * MOTD's afterFirstLogin text and the hold's message are both about that first login.
 */
import { anyOf, bool, nil, obj, projectPath, str } from './common.js';

export interface LoginKeys {
  firstLogin?: { file: string } | null;
  motd?: { file: string; afterFirstLogin?: string } | null;
  loginHold?: boolean | { message?: string };
}

export const FIRST_LOGIN_SCHEMA = anyOf(
  [obj({ file: projectPath('The first-login script.') }, { required: ['file'] }), nil()],
  {
    description: 'Defaults to first-login/first-login.sh when that file exists; null turns it off.',
  },
);

export const MOTD_SCHEMA = anyOf(
  [
    obj(
      {
        file: projectPath(
          'MOTD text file; {{ip}}, {{name}}, {{version}}, {{credentials}} (the credentials file) and {{VARIABLE}} are filled in.',
        ),
        afterFirstLogin: projectPath('MOTD text shown once the first-login setup has finished.'),
      },
      { required: ['file'] },
    ),
    nil(),
  ],
  { description: 'The login message.' },
);

export const LOGIN_HOLD_SCHEMA = anyOf(
  [bool(), obj({ message: str({ description: 'What a held root login sees.', maxLength: 300 }) })],
  {
    description:
      'Hold root SSH logins with a "please wait" until a new droplet\'s first boot has finished (always released).',
  },
);
