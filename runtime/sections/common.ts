/** Building blocks the manifest's sections share: schema fragments and the rules only code can state. */
import { uncanonicalPath } from '../policy.js';
import type { Check, Problem, Schema, Typed, TypeOf } from '../schema.js';

export const SLUG_RE = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;
export const VENDOR_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,39}$/;
/** DigitalOcean base image slug shape, e.g. ubuntu-24-04-x64, debian-12-x64, rockylinux-9-x64. */
export const DISTRO_SLUG_RE = /^[a-z][a-z0-9-]*-x64$/;
/** A distribution slug of the dnf family (Rocky, Alma, CentOS Stream, ...); any other is apt's. */
export const DNF_SLUG_RE = /^(rocky|alma|centos|fedora|rhel)/;
/** Unix user and group names as useradd takes them (no leading digit or dash). */
export const ACCOUNT_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

/*
 * The builders carry the TypeScript type of what each node accepts (Typed<V>, type level only), so
 * the manifest's interfaces are checked against the schema at compile time (../schema-agreement.ts).
 * A node made by hand (a plain object literal) has no type and is refused where a typed one is needed.
 */
/**
 * What a builder's `extra` may add: annotations and constraints, never the keys that give the node
 * its shape (type, properties, items, ...): those come from the builder, so its type stays true.
 */
export type Extra = Omit<
  Partial<Schema>,
  'type' | 'properties' | 'items' | 'additionalProperties' | 'anyOf' | 'oneOf' | 'allOf' | 'enum' | 'const'
>;

export const str = (extra: Extra = {}): Typed<string> => ({ type: 'string', ...extra }) as Typed<string>;
export const int = (extra: Extra = {}): Typed<number> => ({ type: 'integer', ...extra }) as Typed<number>;
/** A boolean, with its description when it has one. */
export const bool = (description?: string): Typed<boolean> =>
  (description === undefined ? { type: 'boolean' } : { type: 'boolean', description }) as Typed<boolean>;
export const nil = (): Typed<null> => ({ type: 'null' }) as Typed<null>;
/** A string that is one of `values`. */
export const oneOf = <const E extends readonly string[]>(values: E, extra: Extra = {}): Typed<E[number]> =>
  ({ type: 'string', enum: values, ...extra }) as Schema as Typed<E[number]>;
export const strings = <V>(item: Typed<V>, extra: Extra = {}): Typed<V[]> =>
  ({
    type: 'array',
    items: item,
    ...extra,
  }) as Schema as Typed<V[]>;
/** The first alternative whose type fits is used (see schema.ts): one of the alternatives' types. */
export const anyOf = <const A extends readonly Typed<any>[]>(
  alternatives: A,
  extra: Extra = {},
): Typed<TypeOf<A[number]>> => ({ anyOf: [...alternatives], ...extra }) as Schema as Typed<TypeOf<A[number]>>;
/** An object of named values (keys checked by `extra.propertyNames`), each of them a `value`. */
export const record = <V>(value: Typed<V>, extra: Extra = {}): Typed<Record<string, V>> =>
  ({ type: 'object', ...extra, additionalProperties: value }) as Schema as Typed<Record<string, V>>;

type Flat<T> = { [K in keyof T]: T[K] } & {};
/** The object type of `properties`, the `required` keys required and the others optional. */
export type ObjectOf<P, R extends keyof P> = Flat<
  { -readonly [K in R]: TypeOf<P[K]> } & { -readonly [K in Exclude<keyof P, R>]?: TypeOf<P[K]> }
>;

export const obj = <P extends Record<string, Typed<any>>, const R extends keyof P & string = never>(
  properties: P,
  extra: Omit<Extra, 'required'> & { required?: readonly R[] } = {},
): Typed<ObjectOf<P, R>> =>
  ({
    type: 'object',
    additionalProperties: false,
    properties,
    ...extra,
  }) as Schema as Typed<ObjectOf<P, R>>;

/** A path inside the project: relative, no `..`, no backslashes. Returns why not, or null. */
export function unsafeRelativePath(p: string): string | null {
  if (p.length === 0) return 'is empty';
  if (p.startsWith('/')) return 'is absolute';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.includes('\0')) return 'contains a NUL byte';
  if (p.split('/').some((seg) => seg === '..')) return 'contains ".."';
  return null;
}

/**
 * A path on the droplet: absolute, no `..` (it must not climb out of what it names), written the one
 * way the policy compares it (no "//", "/./" or trailing "/": "/tmp/" is /tmp).
 */
export function unsafeDropletPath(p: string): string | null {
  if (!p.startsWith('/')) return 'is not absolute';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.split('/').some((seg) => seg === '..')) return 'contains ".."';
  return uncanonicalPath(p);
}

export const projectPath = (description: string): Typed<string> =>
  str({
    description: `${description} (A path relative to the project folder, without "..".)`,
    'x-check': 'projectPath',
  });
export const dropletPath = (description: string, extra: Extra = {}): Typed<string> =>
  str({
    description: `${description} (An absolute path on the droplet, without "..", "//" or a trailing "/".)`,
    'x-check': 'dropletPath',
    ...extra,
  });
export const octalMode = (description: string): Typed<string> =>
  str({
    description,
    pattern: '^0?[0-7]{3,4}$',
    'x-message': 'bad mode {value}',
    'x-hint': 'an octal mode as a string, e.g. "0750"',
  });

/**
 * A list that may differ per distribution: a plain list, or `{ all, apt, dnf, <distribution slug> }`
 * where the most specific of the slug and the family is added to `all`.
 */
export const perDistro = <V>(item: Typed<V>, description: string): Typed<PerDistro<V>> =>
  ({
    description: `${description} A list, or {"all": [...], "apt": [...], "dnf": [...], "<distribution slug>": [...]}: on a distribution, "all" plus its own slug's list, else its family's.`,
    anyOf: [
      { type: 'array', items: item },
      {
        type: 'object',
        propertyNames: { pattern: `^(all|apt|dnf|${DISTRO_SLUG_RE.source.slice(1, -1)})$` },
        additionalProperties: { type: 'array', items: item },
      },
    ],
    'x-hint': 'a list, or an object with "all", "apt", "dnf" or distribution slugs as keys, each a list',
  }) as Schema as Typed<PerDistro<V>>;

export type PerDistro<T> = T[] | { all?: T[]; apt?: T[]; dnf?: T[]; [slug: string]: T[] | undefined };

/** The list of a per-distribution value for one distribution (see perDistro). */
export function forDistro<T>(v: PerDistro<T> | undefined, slug: string, family: 'apt' | 'dnf'): T[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  return [...(v.all ?? []), ...(v[slug] ?? v[family] ?? [])];
}

export const COMMON_CHECKS: Record<string, Check> = {
  projectPath(v, at, out) {
    const why = typeof v === 'string' ? unsafeRelativePath(v) : null;
    if (why)
      out.push({
        path: at,
        message: `unsafe path "${v}": ${why}`,
        hint: 'use a path relative to the project folder, without ".."',
      });
  },
  dropletPath(v, at, out) {
    const why = typeof v === 'string' ? unsafeDropletPath(v) : null;
    if (why)
      out.push({
        path: at,
        message: `bad droplet path "${v}": ${why}`,
        hint: 'an absolute path on the droplet written plainly, e.g. /var/lib/app',
      });
  },
};

export function push(out: Problem[], path: string, message: string, hint: string): void {
  out.push({ path, message, hint });
}
