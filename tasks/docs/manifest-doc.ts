/**
 * docs/manifest.md: every field of mpimg.json, its type, what it does and an example, written by
 * `npm run build` from the published schema (runtime/manifest-schema.ts, the one rule source) and
 * docs/manifest-example.json (a complete manifest the schema accepts). A test keeps it current.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: Json[];
  additionalProperties?: boolean | Schema;
  required?: string[];
  minimum?: number;
  maximum?: number;
}

export interface Field {
  path: string;
  type: string;
  required: boolean;
  description: string;
  example?: Json;
}

/** "a string", "a list of strings", "one of "restart", "start", "none"" ... */
function typeOf(s: Schema): string {
  if (s.enum) return `one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(', or ');
  switch (s.type) {
    case 'array':
      return s.items ? `a list of ${plural(typeOf(s.items))}` : 'a list';
    case 'object':
      if (s.properties) return 'an object';
      if (s.additionalProperties && typeof s.additionalProperties === 'object')
        return `an object of ${plural(typeOf(s.additionalProperties))} by name`;
      return 'an object';
    case 'integer':
      return `an integer${s.minimum !== undefined && s.maximum !== undefined ? ` (${s.minimum}-${s.maximum})` : ''}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'null':
      return 'null';
    default:
      return s.type ?? 'any value';
  }
}

function plural(t: string): string {
  return t
    .replace(/^an? (string|object|integer|list)/, (_m, w: string) => `${w}s`)
    .replace(/^true or false/, 'booleans')
    .replace(/, or an? (string|object|integer|list)/g, (_m, w: string) => ` or ${w}s`);
}

/** Every field of the schema, depth first, in the schema's order. */
export function fields(schema: Schema): Field[] {
  const out: Field[] = [];
  const visit = (s: Schema, path: string, required: boolean, description: string | undefined) => {
    if (path !== '$')
      out.push({ path, type: typeOf(s), required, description: (description ?? s.description ?? '').trim() });
    // what lies inside: an object's members, a list's items, the object forms of alternatives (a
    // per-distribution object of lists is the same items again: described once, under [])
    const inner: Array<[Schema, string]> = [];
    const under = (x: Schema, at: string, viaAlternative: boolean) => {
      if (x.properties) inner.push([x, at]);
      for (const a of x.anyOf ?? x.oneOf ?? []) under(a, at, true);
      if (x.items) under(x.items, `${at}[]`, false);
      if (!viaAlternative && !x.properties && x.additionalProperties && typeof x.additionalProperties === 'object')
        under(x.additionalProperties, `${at}.<name>`, false);
    };
    under(s, path, false);
    const seen = new Set<string>();
    for (const [obj, at] of inner) {
      for (const [k, v] of Object.entries(obj.properties ?? {})) {
        const p = `${at}.${k}`;
        if (seen.has(p) || out.some((f) => f.path === p)) continue;
        seen.add(p);
        visit(v, p, (obj.required ?? []).includes(k), v.description);
      }
    }
  };
  visit(schema, '$', true, undefined);
  return out;
}

/**
 * The value at `path` in `example`: "[]" looks through a list (or a per-distribution object of lists) for an item that
 * has the rest.
 */
export function exampleAt(example: Json, path: string): Json | undefined {
  const parts = path
    .replace(/^\$\.?/, '')
    .split(/\.|(?=\[\])/)
    .filter(Boolean);
  const go = (v: Json | undefined, i: number): Json | undefined => {
    if (v === undefined) return undefined;
    if (i === parts.length) return v;
    const p = parts[i];
    if (p === '[]') {
      const lists = Array.isArray(v) ? [v] : v && typeof v === 'object' ? Object.values(v).filter(Array.isArray) : [];
      for (const list of lists)
        for (const item of list as Json[]) {
          const r = go(item, i + 1);
          if (r !== undefined) return r;
        }
      return undefined;
    }
    if (p === '<name>') {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
      for (const item of Object.values(v)) {
        const r = go(item, i + 1);
        if (r !== undefined) return r;
      }
      return undefined;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    return go((v as Record<string, Json>)[p], i + 1);
  };
  return go(example, 0);
}

const cell = (t: string) => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The example file of a section that cannot stand beside another one in one manifest ($.caddy and
 * $.certbot both want ports 80 and 443): docs/manifest-example-<name>.json, a small manifest of its own.
 */
export const ALTERNATIVE_EXAMPLES = ['caddy'] as const;

/** The value at `path` in the complete example, else in the first alternative that has one. */
export const exampleIn = (examples: readonly Json[], path: string): Json | undefined =>
  examples.map((e) => exampleAt(e, path)).find((v) => v !== undefined);

/** The whole page: `example` the complete manifest, `alternatives` those of ALTERNATIVE_EXAMPLES, in order. */
export function manifestDoc(schema: Schema, example: Json, alternatives: readonly Json[] = []): string {
  const all = fields(schema).map((f) => ({ ...f, example: exampleIn([example, ...alternatives], f.path) }));
  const top = all.filter((f) => !f.path.slice(2).includes('.') && !f.path.slice(2).includes('['));
  const lines = [
    '# mpimg.json reference',
    '',
    '<!-- Written by `npm run build` (tasks/docs/manifest-doc.ts) from runtime/manifest-schema.ts and',
    '     docs/manifest-example*.json: edit those, not this file. -->',
    '',
    "Every field of an image project's `mpimg.json`, with its type and an example. `mpimg validate`",
    'checks a manifest against the same rules (editors do too, through its `$schema`). Required',
    `fields: ${top
      .filter((f) => f.required)
      .map((f) => `\`${f.path.slice(2)}\``)
      .join(', ')}.`,
    '',
    `A complete example is [manifest-example.json](manifest-example.json); ${ALTERNATIVE_EXAMPLES.map((n) => `[manifest-example-${n}.json](manifest-example-${n}.json) shows \`${n}\``).join(', ')}, which cannot stand beside \`certbot\` in one manifest.`,
    '',
  ];
  for (const t of top) {
    lines.push(`## \`${t.path.slice(2)}\``, '', t.description || '(no description)', '');
    lines.push('| field | type | what it is | example |', '| --- | --- | --- | --- |');
    for (const f of all.filter(
      (x) => x.path === t.path || x.path.startsWith(`${t.path}.`) || x.path.startsWith(`${t.path}[]`),
    )) {
      const ex = f.example === undefined || f.type === 'an object' ? '' : `\`${cell(JSON.stringify(f.example))}\``;
      lines.push(
        `| \`${f.path}\`${f.required ? ' (required)' : ''} | ${cell(f.type)} | ${cell(f.path === t.path ? '' : f.description)} | ${ex} |`,
      );
    }
    lines.push('');
  }
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}
