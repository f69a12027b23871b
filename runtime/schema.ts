/**
 * A small validator for the subset of JSON Schema the manifest is written in, so that the ONE rule
 * source (runtime/manifest-schema.ts) both validates mpimg.json here (generator, bundler, runtime) and
 * is published as mpimg.schema.json for editors. Our own keywords start with `x-` (JSON Schema tools
 * ignore them): `x-message` / `x-hint` word an error, `x-check` names a rule only code can state.
 * Dependency-free: it is bundled into the on-droplet runtime.
 */

export interface Problem {
  /** JSON path such as `$.firstBoot[1].order`, or a project path such as `first-boot/10-x.sh`. */
  path: string;
  message: string;
  hint: string;
}

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'null';

export interface Schema {
  type?: JsonType | JsonType[];
  description?: string;
  properties?: Record<string, Schema>;
  required?: readonly string[];
  /** false: unknown keys are errors (with a did-you-mean); a schema: every value of a map. */
  additionalProperties?: false | Schema;
  propertyNames?: { pattern: string };
  items?: Schema;
  minItems?: number;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  enum?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  /** Exactly the first alternative whose type fits is used (the manifest's alternatives differ by type). */
  anyOf?: Schema[];
  default?: unknown;
  examples?: unknown[];
  'x-message'?: string;
  'x-hint'?: string;
  'x-check'?: string;
}

declare const VALUE: unique symbol;

/**
 * A schema node that carries, at the type level only, the TypeScript type of the values it accepts
 * (the builders of sections/common.ts make them), so the manifest's interfaces can be checked against
 * the schema at compile time (schema-agreement.ts). Nothing of it exists at run time.
 */
export interface Typed<V> extends Schema {
  readonly [VALUE]: (v: V) => V;
}

/** The type of the values a typed schema node accepts. */
export type TypeOf<S> = S extends { readonly [VALUE]: (v: infer V) => unknown } ? V : never;

export type Check = (value: unknown, at: string, out: Problem[], root: Record<string, unknown>) => void;

function typeOf(v: unknown): JsonType | 'undefined' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

const fits = (v: unknown, t: JsonType): boolean => {
  const a = typeOf(v);
  return a === t || (t === 'number' && a === 'integer');
};

const typeList = (s: Schema): JsonType[] | undefined =>
  s.type === undefined ? undefined : Array.isArray(s.type) ? s.type : [s.type];

const words = (types: JsonType[]): string => types.map((t) => (t === 'integer' ? 'whole number' : t)).join(' or ');
/** "an array", "an object", "a string". */
const article = (noun: string): string => `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;

/** Edit distance, to suggest the key the user probably meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The known name nearest to `key` (2 edits at most), for a did-you-mean. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of known) {
    const d = distance(key.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

/** A problem in the node's own words (x-message, with {value} the value as given) or the generic ones. */
function fail(s: Schema, value: unknown, at: string, out: Problem[], message: string, hint: string): void {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  out.push({
    path: at,
    message: s['x-message'] ? s['x-message'].replace('{value}', shown) : message,
    hint: s['x-hint'] ?? hint,
  });
}

/**
 * Whether `value` has the types `s` asks for, all the way down (patterns, ranges and unknown keys
 * aside). A node's x-check runs only then: its code may rely on the shapes (a string where the
 * schema says a list made `forEach` throw), while every other problem is still listed at once.
 */
export function typesFit(s: Schema, value: unknown): boolean {
  if (s.anyOf) {
    const pick = s.anyOf.find((alt) => (typeList(alt) ?? []).some((t) => fits(value, t)));
    return pick !== undefined && typesFit(pick, value);
  }
  const types = typeList(s);
  if (types && !types.some((t) => fits(value, t))) return false;
  if (Array.isArray(value)) return !s.items || value.every((v) => typesFit(s.items!, v));
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const [key, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      const sub =
        s.properties?.[key] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
      if (sub && !typesFit(sub, v)) return false;
    }
  }
  return true;
}

/** Validates `value` against `s`, appending every problem (never stopping at the first). */
export function validate(
  s: Schema,
  value: unknown,
  at: string,
  out: Problem[],
  checks: Record<string, Check>,
  root: Record<string, unknown>,
): void {
  if (s.anyOf) return validateAnyOf(s, s.anyOf, value, at, out, checks, root);
  const types = typeList(s);
  if (types && !types.some((t) => fits(value, t))) {
    out.push({
      path: at,
      message: `must be ${words(types)}, got ${typeOf(value)}`,
      hint: `change it to ${article(words(types))}`,
    });
    return;
  }
  validateScalar(s, value, at, out);
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems)
      fail(s, value, at, out, 'has too few entries', `give at least ${s.minItems}`);
    if (s.items) value.forEach((v, i) => validate(s.items!, v, `${at}[${i}]`, out, checks, root));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    validateUnknownKeys(s, obj, at, out, checks, root);
    validateProperties(s, obj, at, out, checks, root);
  }
  if (s['x-check'] && typesFit(s, value)) checks[s['x-check']](value, at, out, root);
}

/** The alternative whose type fits, validated (and the node's x-check run on it); none: one problem. */
function validateAnyOf(
  s: Schema,
  alternatives: Schema[],
  value: unknown,
  at: string,
  out: Problem[],
  checks: Record<string, Check>,
  root: Record<string, unknown>,
): void {
  const pick = alternatives.find((alt) => (typeList(alt) ?? []).some((t) => fits(value, t)));
  if (!pick) {
    const types = alternatives.flatMap((alt) => typeList(alt) ?? []);
    out.push({
      path: at,
      message: `must be ${words(types)}, got ${typeOf(value)}`,
      hint: s['x-hint'] ?? `see the description of ${at} in mpimg.schema.json`,
    });
    return;
  }
  validate(pick, value, at, out, checks, root);
  if (s['x-check'] && typesFit(pick, value)) checks[s['x-check']](value, at, out, root);
}

/** enum, string lengths and pattern, number range. */
function validateScalar(s: Schema, value: unknown, at: string, out: Problem[]): void {
  const shown = JSON.stringify(value);
  if (s.enum && !s.enum.includes(value))
    fail(
      s,
      value,
      at,
      out,
      `${shown} is not one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`,
      `use one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`,
    );
  if (typeof value === 'string') {
    if (s.minLength !== undefined && value.length < s.minLength)
      fail(s, value, at, out, `${shown} is too short`, `at least ${s.minLength} characters`);
    else if (s.maxLength !== undefined && value.length > s.maxLength)
      fail(s, value, at, out, `${shown} is too long`, `at most ${s.maxLength} characters`);
    else if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(value))
      fail(s, value, at, out, `bad value ${shown}`, `it must match ${s.pattern}`);
  }
  if (typeof value === 'number') {
    if ((s.minimum !== undefined && value < s.minimum) || (s.maximum !== undefined && value > s.maximum)) {
      fail(s, value, at, out, `${value} is out of range`, `from ${s.minimum ?? '-∞'} to ${s.maximum ?? '∞'}`);
    }
  }
}

/** Keys the node does not name: an error (with a did-you-mean), or entries of a map checked by name and value. */
function validateUnknownKeys(
  s: Schema,
  obj: Record<string, unknown>,
  at: string,
  out: Problem[],
  checks: Record<string, Check>,
  root: Record<string, unknown>,
): void {
  const props = s.properties ?? {};
  for (const key of Object.keys(obj)) {
    if (key in props) continue;
    if (s.additionalProperties === false) {
      const near = closest(key, Object.keys(props));
      out.push({
        path: `${at}.${key}`,
        message: `unknown key "${key}"`,
        hint: near
          ? `did you mean "${near}"? Remove or rename it`
          : `remove it; known keys: ${Object.keys(props).join(', ')}`,
      });
    } else if (s.additionalProperties) {
      if (s.propertyNames && !new RegExp(s.propertyNames.pattern, 'u').test(key)) {
        out.push({
          path: `${at}.${key}`,
          message: `bad name "${key}"`,
          hint: s['x-hint'] ?? `names must match ${s.propertyNames.pattern}`,
        });
      } else validate(s.additionalProperties, obj[key], `${at}.${key}`, out, checks, root);
    }
  }
}

/** The keys the node names: missing required ones, and each given one validated. */
function validateProperties(
  s: Schema,
  obj: Record<string, unknown>,
  at: string,
  out: Problem[],
  checks: Record<string, Check>,
  root: Record<string, unknown>,
): void {
  for (const [key, sub] of Object.entries(s.properties ?? {})) {
    if (obj[key] === undefined) {
      if (s.required?.includes(key))
        out.push({
          path: `${at}.${key}`,
          message: `missing required key "${key}"`,
          hint: `add "${key}" (${words(typeList(sub) ?? ['string'])})`,
        });
      continue;
    }
    validate(sub, obj[key], `${at}.${key}`, out, checks, root);
  }
}

/** The schema as published (mpimg.schema.json): our x- keywords taken out. */
export function publishedSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(publishedSchema);
  if (s && typeof s === 'object') {
    return Object.fromEntries(
      Object.entries(s)
        .filter(([k]) => !k.startsWith('x-'))
        .map(([k, v]) => [k, publishedSchema(v)]),
    );
  }
  return s;
}
