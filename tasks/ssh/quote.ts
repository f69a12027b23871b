/** POSIX shell single-quoting: the result is one word whatever `s` holds. */
export function shellQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `NAME=value` words for `env`, validating names so a key can never inject shell syntax. */
export function envWords(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_NAME_RE.test(k))
      throw new TypeError(`bad environment variable name ${JSON.stringify(k)}: use letters, digits and _`);
    if (v === undefined) continue;
    out.push(shellQuote(`${k}=${v}`));
  }
  return out;
}
