/** $.credentials: the root-only file first-boot scripts save generated passwords to. */
import type { Check } from '../schema.js';
import { dropletPath, obj, push } from './common.js';

export interface Credentials {
  file?: string;
}

/** The root-only credentials file of an image: $.credentials.file, else /root/.<slug>-credentials. */
export const credentialsFile = (m: { slug: string; credentials?: Credentials }): string =>
  m.credentials?.file ?? `/root/.${m.slug}-credentials`;

export const CREDENTIALS_SCHEMA = obj(
  {
    file: dropletPath(
      "The root-only file first-boot scripts save credentials to (default /root/.<slug>-credentials; DigitalOcean's own images use /root/.digitalocean_passwords). Not inside a folder $.directories or $.users give to another user.",
    ),
  },
  { description: 'Where generated passwords are kept.', 'x-check': 'credentials' },
);

export const CREDENTIALS_CHECKS: Record<string, Check> = {
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
};
