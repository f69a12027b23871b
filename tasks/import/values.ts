/**
 * Template values as the import needs them: a text with every reference it can follow resolved
 * (variable defaults), the names the new project gives the template's variables, and the quoting
 * that turns a template reference into shell text (a parameter expansion: data, never code).
 */
import { CONTROL_RE } from '../../runtime/manifest.js';
import { reservedVariable, VARIABLE_NAME_RE } from '../../runtime/sections/variables.js';
import type { PersonNote } from './state.js';
import type { Field, Piece, Template, Text } from './template.js';

/** Names of secrets: never a variable of mpimg.json (its values are not secret). */
export const SECRET_NAME = /TOKEN|SECRET|PASSW|PASSWD|API_?KEY|PRIVATE/i;

/** A text as the template wrote it, for messages. */
export const describe = (t: Text): string =>
  t
    .map((p) =>
      'lit' in p
        ? p.lit
        : 'var' in p
          ? `{{user \`${p.var}\`}}`
          : 'env' in p
            ? `{{env \`${p.env}\`}}`
            : 'timestamp' in p
              ? '{{timestamp}}'
              : p.other,
    )
    .join('');

/** Quotes a value for POSIX sh. */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Quote state at the end of `text` (a line of shell): inside '...', "..." or neither. */
export function quoteState(text: string): 'none' | 'single' | 'double' {
  let st: 'none' | 'single' | 'double' = 'none';
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (st === 'single') {
      if (c === "'") st = 'none';
    } else if (c === '\\') k++;
    else if (c === "'" && st === 'none') st = 'single';
    else if (c === '"') st = st === 'double' ? 'none' : 'double';
  }
  return st;
}

/**
 * Whether the end of `text` (a script's first lines; the last, unfinished line is not counted)
 * is inside a here-document: 'quoted' when its delimiter was quoted (the shell expands nothing in
 * it), 'plain' when not, undefined outside one. A line-level reading: enough to place template
 * references, which Packer pastes in before the shell reads anything.
 */
export function hereDocAt(text: string): 'quoted' | 'plain' | undefined {
  const lines = text.split('\n');
  lines.pop();
  const pending: Array<{ delim: string; quoted: boolean; strip: boolean }> = [];
  let cur: { delim: string; quoted: boolean; strip: boolean } | undefined;
  for (const l of lines) {
    if (cur) {
      if ((cur.strip ? l.replace(/^\t+/, '') : l) === cur.delim) cur = pending.shift();
      continue;
    }
    for (const m of l.matchAll(/(?<!<)<<(-?)(?!<)[ \t]*(?:'([^']*)'|"([^"]*)"|\\?([A-Za-z0-9_.-]+))/g)) {
      pending.push({
        delim: m[2] ?? m[3] ?? m[4],
        quoted: m[4] === undefined || m[0].includes('\\'),
        strip: m[1] === '-',
      });
    }
    cur = pending.shift();
  }
  return cur ? (cur.quoted ? 'quoted' : 'plain') : undefined;
}

export const fieldText = (f: Field | undefined): Text | undefined => (f && 'text' in f ? f.text : undefined);
export const listOf = (f: Field | undefined): Field[] => (f && 'list' in f ? f.list : f && 'text' in f ? [f] : []);

/** The value of a text when every piece is known (user variables through their defaults), else undefined. */
export function resolver(tmpl: Template): (t: Text) => string | undefined {
  const resolve = (t: Text, seen: Set<string>): string | undefined => {
    let out = '';
    for (const p of t) {
      if ('lit' in p) out += p.lit;
      else if ('var' in p) {
        const v = tmpl.variables.get(p.var);
        if (!v || v.default === undefined || seen.has(p.var)) return undefined;
        const r = resolve(v.default, new Set([...seen, p.var]));
        if (r === undefined) return undefined;
        out += r;
      } else return undefined;
    }
    return out;
  };
  return (t) => resolve(t, new Set());
}

/** A text with user variables expanded into their defaults' pieces (but those of `keep`). */
export function expandVars(
  t: Text,
  tmpl: Template,
  keep: ReadonlySet<string> = new Set(),
  seen = new Set<string>(),
): Piece[] {
  const out: Piece[] = [];
  for (const p of t) {
    if ('var' in p && !keep.has(p.var) && !seen.has(p.var) && tmpl.variables.get(p.var)?.default)
      out.push(...expandVars(tmpl.variables.get(p.var)!.default!, tmpl, keep, new Set([...seen, p.var])));
    else out.push(p);
  }
  return out;
}

/** Names of the new project's variables for the template's variables and environment references. */
export class Variables {
  readonly used = new Map<string, { value: string; from: string }>();
  private readonly names = new Map<string, string>();

  constructor(
    private readonly tmpl: Template,
    private readonly special: Map<string, string>,
    private readonly resolve: (t: Text) => string | undefined,
    private readonly notes: { person: PersonNote[]; info: PersonNote[] },
  ) {}

  /** The shell name a template variable is known by in the new project (registered when used); none for a secret. */
  forVar(v: string, where: string): string | undefined {
    if (this.special.has(v)) return this.special.get(v)!;
    const tv = this.tmpl.variables.get(v);
    if (tv && (tv.sensitive || SECRET_NAME.test(v))) {
      this.notes.person.push({
        where,
        what: `uses the secret template variable "${v}": mpimg.json's variables are not secret, so it is not one; the script gets it empty: give the value at build time another way (a file kept out of the repository, a first-boot secret)`,
      });
      return undefined;
    }
    let n = this.names.get(`var:${v}`);
    if (!n) {
      n = this.freshName(v);
      this.names.set(`var:${v}`, n);
    }
    if (!this.used.has(n)) {
      let value = '';
      if (!tv)
        this.notes.person.push({
          where,
          what: `uses the template variable "${v}", which the template does not declare: the variable ${n} of mpimg.json is empty`,
        });
      else if (tv.default !== undefined) {
        const r = this.resolve(tv.default);
        if (r === undefined)
          this.notes.person.push({
            where,
            what: `the default of template variable "${v}" cannot be evaluated at import (${describe(tv.default)}): ${n} is empty; give it with \`mpimg bundle --var ${n}=...\` or MPIMG_VAR_${n}`,
          });
        // mpimg.json's values are one line of text: a multi-line default would make a project that does not validate
        else if (CONTROL_RE.test(r))
          this.notes.person.push({
            where,
            what: `the default of template variable "${v}" holds a control or line-separator character (U+${CONTROL_RE.exec(r)![0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}), which a value of mpimg.json cannot: ${n} is empty; put the text into a file of the project (files/) and read it from there, or give a one-line value with \`mpimg bundle --var ${n}=...\``,
          });
        else value = r;
      }
      this.used.set(n, { value, from: `template variable "${v}"` });
    }
    return n;
  }

  /** An environment variable the template read at build ({{env `X`}}): a variable of the same name. */
  forEnv(x: string, where: string): string | undefined {
    if (SECRET_NAME.test(x)) {
      this.notes.person.push({
        where,
        what: `reads the secret ${x} from the environment of the machine running Packer: mpimg.json's variables are not secret; give it to the build another way`,
      });
      return undefined;
    }
    let n = this.names.get(`env:${x}`);
    if (!n) {
      n = this.freshName(x);
      this.names.set(`env:${x}`, n);
    }
    if (!this.used.has(n)) {
      this.used.set(n, { value: '', from: `the environment variable ${x} of the machine running Packer` });
      this.notes.person.push({
        where,
        what: `read ${x} from the environment of the machine running Packer: it is the variable ${n} now (empty by default): give it with \`mpimg bundle --var ${n}=...\` or MPIMG_VAR_${n}=...`,
      });
    }
    return n;
  }

  private freshName(base: string): string {
    let n = base
      .toUpperCase()
      .replace(/[^A-Z0-9_]/g, '_')
      .replace(/^[^A-Z]+/, '');
    if (!n) n = 'VALUE';
    if (reservedVariable(n) || !VARIABLE_NAME_RE.test(n)) n = `APP_${n}`.slice(0, 64);
    const taken = new Set([...this.names.values(), ...this.special.values()]);
    let cand = n;
    for (let k = 2; taken.has(cand); k++) cand = `${n}_${k}`;
    return cand;
  }
}
