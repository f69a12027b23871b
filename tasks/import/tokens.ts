/**
 * DigitalOcean API tokens written anywhere in the template's text (a variable's default, an
 * environment entry, a script line, a file): taken out of everything the import writes or prints,
 * each place named for a person (the token is to be revoked: it was in a repository).
 * The builder's api_token field has its own note (builder.ts); this catches the rest.
 */
import type { PersonNote } from './state.js';

/** Personal, OAuth and refresh tokens in DigitalOcean's current format. */
export const DO_TOKEN_RE = /\bdo[por]_v1_[0-9a-f]{64}\b/g;
/** What stands where a token was: plain text, no shell or JSON meaning, so a script still parses. */
export const TOKEN_PLACEHOLDER = 'DIGITALOCEAN_TOKEN_REMOVED_BY_MPIMG_IMPORT';

export const hasToken = (s: string): boolean => new RegExp(DO_TOKEN_RE.source).test(s);
export const withoutTokens = (s: string): string => s.replace(DO_TOKEN_RE, TOKEN_PLACEHOLDER);

/** A JSON-like value with every token in its strings (and keys) replaced. */
export function redactValue<T>(v: T): T {
  if (typeof v === 'string') return withoutTokens(v) as T;
  if (Array.isArray(v)) return v.map(redactValue) as T;
  if (v && typeof v === 'object' && !Buffer.isBuffer(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [withoutTokens(k), redactValue(x)])) as T;
  return v;
}

/** A file of the new project without tokens, and the notes (project path and line) for each place one was. */
export function redactFile(rel: string, data: Buffer, person: PersonNote[]): Buffer | undefined {
  const text = data.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(data) || !hasToken(text)) {
    // not text: a token in it cannot be replaced without breaking the file, so the file stays out
    if (!hasToken(data.toString('latin1'))) return data;
    person.push({
      where: withoutTokens(rel),
      what: 'a DigitalOcean API token is written in this file of the template (not text the import can edit): it was left out of the project; revoke the token in the control panel, take it out of the file and copy the file in by hand',
    });
    return undefined;
  }
  text.split('\n').forEach((line, i) => {
    if (hasToken(line))
      person.push({
        where: `${withoutTokens(rel)}:${i + 1}`,
        what: `a DigitalOcean API token was written here in the template: revoke it in the control panel; the import put ${TOKEN_PLACEHOLDER} in its place: give the build the token another way (never in the project)`,
      });
  });
  return Buffer.from(withoutTokens(text), 'utf8');
}
