import { MpimgError } from '../../core/errors.js';

export const DEFAULT_API_URL = 'https://api.digitalocean.com';

/**
 * Normalises DIGITALOCEAN_API_URL (doctl's form has no /v2) and refuses to send a token in clear text
 * anywhere but loopback.
 */
export function normaliseBaseUrl(raw: string, where = 'DIGITALOCEAN_API_URL'): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new MpimgError(`bad API URL "${raw}"`, { where, hint: `use a URL such as ${DEFAULT_API_URL}, or unset it` });
  }
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
    throw new MpimgError(`refusing to send the API token to ${u.protocol}//${u.host}`, {
      where,
      hint: 'use an https:// URL (plain http is only allowed on 127.0.0.1/localhost)',
    });
  }
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '').replace(/\/v2$/, '');
}
