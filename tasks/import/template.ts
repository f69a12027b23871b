/**
 * A Packer template (JSON, or HCL2 *.pkr.hcl) as one model: its variables, builders and
 * provisioners in order, every string split into literal text and the template references Packer
 * would fill in ({{user `x`}}, ${var.x}, env, timestamp). Nothing is evaluated or run here.
 */
import { attr, HclReadError, readHcl, type HclBlock, type HclBody, type HclValue, type TemplatePart } from './hcl.js';

/** One piece of a template string. `other` is a reference the importer cannot evaluate, as written. */
export type Piece = { lit: string } | { var: string } | { env: string } | { timestamp: true } | { other: string };
export type Text = Piece[];

export type Field =
  | { text: Text }
  | { list: Field[] }
  | { map: Record<string, Field> }
  | { bool: boolean }
  | { num: number }
  | { nil: true }
  | { expr: string };

export interface TemplateVariable {
  name: string;
  default?: Text;
  sensitive: boolean;
}

export interface Block {
  type: string;
  /** HCL source name, JSON `name`. */
  name?: string;
  fields: Record<string, Field>;
  /** Where it is, for the report: `builders[0]`, `provisioners[3]`, `do.pkr.hcl:21`. */
  at: string;
}

export interface Template {
  format: 'json' | 'hcl';
  variables: Map<string, TemplateVariable>;
  builders: Block[];
  provisioners: Block[];
  /** Post-processors and other things of the template the import does not carry over. */
  ignored: string[];
}

export class TemplateReadError extends Error {
  constructor(
    message: string,
    readonly where: string,
  ) {
    super(message);
  }
}

// ---- JSON templates: Go templates inside strings ----------------------------------------------

const GO_REF = /\{\{\s*(.*?)\s*\}\}/g;

/** A JSON template string: {{user `x`}}, {{env `X`}}, {{timestamp}} and the rest as `other`. */
export function goText(s: string): Text {
  const out: Text = [];
  let last = 0;
  for (const m of s.matchAll(GO_REF)) {
    if (m.index! > last) out.push({ lit: s.slice(last, m.index) });
    out.push(goRef(m[1], m[0]));
    last = m.index! + m[0].length;
  }
  if (last < s.length || out.length === 0) out.push({ lit: s.slice(last) });
  return out;
}

function goRef(inner: string, whole: string): Piece {
  const arg = /^(user|env)\s+(?:`([^`]*)`|"([^"]*)")$/.exec(inner);
  if (arg) return arg[1] === 'user' ? { var: arg[2] ?? arg[3] } : { env: arg[2] ?? arg[3] };
  if (inner === 'timestamp') return { timestamp: true };
  return { other: whole };
}

function jsonField(v: unknown): Field {
  if (typeof v === 'string') return { text: goText(v) };
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'number') return { num: v };
  if (v === null) return { nil: true };
  if (Array.isArray(v)) return { list: v.map(jsonField) };
  if (typeof v === 'object')
    return { map: Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonField(x)])) };
  return { nil: true };
}

function readJsonTemplate(text: string, file: string): Template {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : undefined;
    throw new TemplateReadError(`not valid JSON: ${msg}`, line ? `${file}:${line}` : file);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new TemplateReadError('a Packer JSON template is an object with "builders" and "provisioners"', file);
  const d = doc as Record<string, unknown>;
  const sensitive = new Set(
    Array.isArray(d['sensitive-variables'])
      ? (d['sensitive-variables'] as unknown[]).filter((x): x is string => typeof x === 'string')
      : [],
  );
  const variables = new Map<string, TemplateVariable>();
  if (d.variables && typeof d.variables === 'object' && !Array.isArray(d.variables)) {
    for (const [name, v] of Object.entries(d.variables as Record<string, unknown>)) {
      variables.set(name, {
        name,
        default: typeof v === 'string' ? goText(v) : v === null ? undefined : [{ lit: String(v) }],
        sensitive: sensitive.has(name),
      });
    }
  }
  const blocks = (key: string): Block[] => {
    const list = d[key];
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new TemplateReadError(`"${key}" must be a list`, `${file}: $.${key}`);
    return list.map((b, i) => {
      if (!b || typeof b !== 'object' || Array.isArray(b))
        throw new TemplateReadError(`${key}[${i}] must be an object`, `${file}: $.${key}[${i}]`);
      const fields = (jsonField(b) as { map: Record<string, Field> }).map;
      const type = textOf(fields.type);
      return { type: type ?? '', name: textOf(fields.name), fields, at: `${key}[${i}]` };
    });
  };
  const ignored: string[] = [];
  for (const k of Object.keys(d)) {
    if (
      ![
        'variables',
        'sensitive-variables',
        'builders',
        'provisioners',
        'description',
        'min_packer_version',
        '_comment',
      ].includes(k)
    )
      ignored.push(`"${k}"`);
  }
  return { format: 'json', variables, builders: blocks('builders'), provisioners: blocks('provisioners'), ignored };
}

/** The literal value of a field that is plain text (no references), else undefined. */
export function textOf(f: Field | undefined): string | undefined {
  if (!f || !('text' in f)) return undefined;
  return f.text.every((p) => 'lit' in p) ? f.text.map((p) => (p as { lit: string }).lit).join('') : undefined;
}

// ---- HCL2 templates -------------------------------------------------------------------------

/**
 * Where `path.root` (the template's folder) is kept among the locals: no HCL name holds a NUL.
 * It is the one path expression with a value known at import: `${path.root}/files/` is how HCL
 * templates name their own files, and without it every such provisioner was lost.
 */
const PATH_ROOT = '\u0000path.root';

/** One ${...} of an HCL template as a piece. */
function hclRef(inner: string, locals: Map<string, HclValue>, seen: Set<string>): Text {
  const t = inner.trim();
  const root = locals.get(PATH_ROOT);
  if (t === 'path.root' && root?.kind === 'string') return root.parts.map((p) => ({ lit: 'lit' in p ? p.lit : '' }));
  let m = /^var\.([A-Za-z_][A-Za-z0-9_-]*)$/.exec(t);
  if (m) return [{ var: m[1] }];
  m = /^local\.([A-Za-z_][A-Za-z0-9_-]*)$/.exec(t);
  if (m && locals.has(m[1]) && !seen.has(m[1])) {
    const v = locals.get(m[1])!;
    const f = hclField(v, locals, new Set([...seen, m[1]]));
    if ('text' in f) return f.text;
  }
  m = /^env\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)$/.exec(t);
  if (m) return [{ env: m[1] }];
  if (/^timestamp\(\s*\)$/.test(t)) return [{ timestamp: true }];
  return [{ other: '${' + inner + '}' }];
}

function hclText(parts: TemplatePart[], locals: Map<string, HclValue>, seen: Set<string>): Text {
  const out: Text = [];
  for (const p of parts) {
    if ('lit' in p) out.push({ lit: p.lit });
    else if ('interp' in p) out.push(...hclRef(p.interp, locals, seen));
    else out.push({ other: '%{' + p.directive + '}' });
  }
  return out;
}

function hclField(v: HclValue, locals: Map<string, HclValue>, seen = new Set<string>()): Field {
  switch (v.kind) {
    case 'string':
      return { text: hclText(v.parts, locals, seen) };
    case 'number':
      return { num: v.value };
    case 'bool':
      return { bool: v.value };
    case 'null':
      return { nil: true };
    case 'list':
      return { list: v.items.map((x) => hclField(x, locals, seen)) };
    case 'object':
      return { map: Object.fromEntries(v.entries.map(([k, x]) => [k, hclField(x, locals, seen)])) };
    case 'expr': {
      // A bare reference (var.x, local.x, env("X"), timestamp()) reads as a string of one piece.
      const text = hclRef(v.text, locals, seen);
      return 'other' in text[0] && text.length === 1 ? { expr: v.text } : { text };
    }
  }
}

function bodyFields(body: HclBody, locals: Map<string, HclValue>): Record<string, Field> {
  const out: Record<string, Field> = {};
  for (const a of body.attributes) out[a.name] = hclField(a.value, locals);
  return out;
}

/** Every file's top-level blocks as one body, and which file each block came from. */
function readHclFiles(files: Array<{ text: string; file: string }>): {
  body: HclBody;
  fileOf: Map<HclBlock, string>;
} {
  const body: HclBody = { attributes: [], blocks: [] };
  const fileOf = new Map<HclBlock, string>();
  for (const { text, file } of files) {
    let b: HclBody;
    try {
      b = readHcl(text);
    } catch (e) {
      if (e instanceof HclReadError)
        throw new TemplateReadError(`not HCL a Packer template reader can follow: ${e.message}`, `${file}:${e.line}`);
      throw e;
    }
    if (b.attributes.length)
      throw new TemplateReadError(
        `"${b.attributes[0].name} = ..." outside a block: a Packer template has only blocks at the top`,
        `${file}:${b.attributes[0].line}`,
      );
    for (const x of b.blocks) fileOf.set(x, file);
    body.blocks.push(...b.blocks);
  }
  return { body, fileOf };
}

/** The template's variables with their defaults (text where the import can know it) and sensitivity. */
function hclVariables(body: HclBody, locals: Map<string, HclValue>): Map<string, TemplateVariable> {
  const variables = new Map<string, TemplateVariable>();
  for (const b of body.blocks) {
    if (b.type === 'variable' && b.labels[0]) {
      const d = attr(b.body, 'default');
      const s = attr(b.body, 'sensitive');
      const f = d ? hclField(d, locals) : undefined;
      variables.set(b.labels[0], {
        name: b.labels[0],
        default:
          f && 'text' in f
            ? f.text
            : f && 'num' in f
              ? [{ lit: String(f.num) }]
              : f && 'bool' in f
                ? [{ lit: String(f.bool) }]
                : f && 'expr' in f
                  ? [{ other: f.expr }]
                  : undefined,
        sensitive: s?.kind === 'bool' && s.value,
      });
    }
    if (b.type === 'variables') {
      for (const a of b.body.attributes) {
        const f = hclField(a.value, locals);
        variables.set(a.name, { name: a.name, default: 'text' in f ? f.text : undefined, sensitive: false });
      }
    }
  }
  return variables;
}

/** Packer reads every *.pkr.hcl of a folder as one template: so does this. */
function readHclTemplate(files: Array<{ text: string; file: string }>, dir?: string): Template {
  const { body, fileOf } = readHclFiles(files);
  const where = (b: HclBlock, line = b.line) => `${fileOf.get(b) ?? files[0].file}:${line}`;
  const ignored: string[] = [];
  const locals = new Map<string, HclValue>();
  if (dir !== undefined) locals.set(PATH_ROOT, { kind: 'string', parts: [{ lit: dir }], line: 0 });
  for (const b of body.blocks) {
    if (b.type === 'locals') for (const a of b.body.attributes) locals.set(a.name, a.value);
    if (b.type === 'local' && b.labels[0]) {
      const e = attr(b.body, 'expression');
      if (e) locals.set(b.labels[0], e);
    }
  }
  const variables = hclVariables(body, locals);
  const builders: Block[] = [];
  for (const b of body.blocks) {
    if (b.type === 'source')
      builders.push({ type: b.labels[0] ?? '', name: b.labels[1], fields: bodyFields(b.body, locals), at: where(b) });
  }
  const provisioners: Block[] = [];
  const builds = body.blocks.filter((b) => b.type === 'build');
  if (builds.length > 1)
    ignored.push(
      `${builds.length - 1} more build block(s) after the first (${builds
        .slice(1)
        .map((b) => where(b))
        .join(', ')})`,
    );
  for (const b of builds.slice(0, 1)) {
    for (const inner of b.body.blocks) {
      if (inner.type === 'provisioner') {
        const fields = bodyFields(inner.body, locals);
        for (const x of inner.body.blocks) fields[`block:${x.type}`] = { expr: `${x.type} { ... }` };
        provisioners.push({ type: inner.labels[0] ?? '', fields, at: where(b, inner.line) });
      } else if (inner.type === 'source') {
        // `source "source.digitalocean.x" { ... }` inside build: settings for that source.
        const target = builders.find((s) => `source.${s.type}.${s.name}` === inner.labels[0]);
        if (target) Object.assign(target.fields, bodyFields(inner.body, locals));
      } else ignored.push(`${inner.type} block (${where(b, inner.line)})`);
    }
  }
  for (const b of body.blocks) {
    if (!['variable', 'variables', 'locals', 'local', 'source', 'build', 'packer'].includes(b.type))
      ignored.push(`${b.type} block (${where(b)})`);
  }
  return { format: 'hcl', variables, builders, provisioners, ignored };
}

/** Reads a template: HCL2 files (*.pkr.hcl, read together as Packer does), or one JSON file. */
/** `dir`: the template's folder, the value of HCL's path.root. */
export function readTemplate(files: Array<{ text: string; file: string }>, dir?: string): Template {
  if (files.length === 0) throw new TemplateReadError('no template file', '');
  if (files.every((f) => /\.hcl$/.test(f.file))) return readHclTemplate(files, dir);
  if (files.length > 1) throw new TemplateReadError('one JSON template at a time', files.map((f) => f.file).join(', '));
  return readJsonTemplate(files[0].text, files[0].file);
}

export type { HclBlock };
