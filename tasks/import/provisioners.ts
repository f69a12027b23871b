/**
 * The template's provisioners, in order, as steps of the import: `file` provisioners as the droplet
 * paths they lay down (read from where Packer ran, never through a link, never outside it) and
 * `shell` provisioners as scripts with the environment the template gave them. Anything else
 * (Ansible, shell-local, ...) is named for a person.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unsafeDropletPath } from '../../runtime/sections/common.js';
import { Refused, type SourceTree } from './source.js';
import type { PersonNote } from './state.js';
import { textOf, type Block, type Field, type Template, type Text } from './template.js';
import { describe, fieldText, listOf } from './values.js';

export interface EnvLine {
  name: string;
  value: Text;
}

export interface FilesStep {
  kind: 'files';
  origin: string;
  entries: Array<{ target: string; source: { rel: string } | { data: Buffer }; mode: number }>;
}

export interface ScriptStep {
  kind: 'script';
  /** The file (relative to where Packer ran) or the inline provisioner. */
  origin: string;
  /** The provisioner. */
  at: string;
  role: 'build script' | 'inline build script';
  fileRel?: string;
  text: string;
  shebangAdded?: boolean;
  env: EnvLine[];
  inline?: { body: Text[]; shebang: string };
}

export type Step = FilesStep | ScriptStep;

interface Notes {
  person: PersonNote[];
  info: PersonNote[];
}

/** What reading the provisioners needs: where Packer ran, the template's values, the notes. */
interface Reader extends Notes {
  tree: SourceTree;
  resolve: (t: Text) => string | undefined;
}

/** A field as the template wrote it, for messages (an expression as its text). */
const shown = (f: Field | undefined): string =>
  !f ? '' : 'expr' in f ? f.expr : fieldText(f) ? describe(fieldText(f)!) : '';

export function readProvisioners(
  tmpl: Template,
  tree: SourceTree,
  resolve: (t: Text) => string | undefined,
  notes: Notes,
  tfile: string,
): Step[] {
  const { person, info } = notes;
  const r: Reader = { tree, resolve, person, info };
  const steps: Step[] = [];
  tmpl.provisioners.forEach((p, i) => {
    const at = tmpl.format === 'json' ? `${tfile} provisioners[${i}]` : p.at;
    // a list or path given by an expression (fileset(...), concat(...)): nothing the import evaluates
    for (const k of ['sources', 'scripts', 'inline', 'environment_vars']) {
      const f = p.fields[k];
      if (f && 'expr' in f)
        person.push({
          where: at,
          what: `"${k}" is an expression (${f.expr}) the import does not evaluate: ${k === 'environment_vars' ? 'that environment is' : 'what it names is'} not carried over; write it out in the template and import again, or add it to the project by hand`,
        });
    }
    for (const k of ['only', 'except', 'override'])
      if (p.fields[k])
        info.push({ where: at, what: `"${k}" is not carried over: the step is imported for every build` });
    if (p.type === 'file') {
      const s = fileStep(r, p, at);
      if (s) steps.push(s);
    } else if (p.type === 'shell') steps.push(...shellSteps(r, p, at));
    else
      person.push({
        where: at,
        what: `a "${p.type}" provisioner is not carried over${p.type.startsWith('ansible') ? ' (an Ansible playbook: port its tasks to build scripts or mpimg.json)' : ''}: the image will lack what it did`,
      });
  });
  for (const x of tmpl.ignored) info.push({ where: tfile, what: `not carried over: ${x}` });
  return steps;
}

/** A `file` provisioner: its destination checked, then its content or each of its sources. */
function fileStep(r: Reader, p: Block, at: string): FilesStep | undefined {
  const { resolve, person, info } = r;
  if (textOf(p.fields.direction) === 'download') {
    info.push({ where: at, what: 'a download from the build droplet is not carried over' });
    return undefined;
  }
  const destT = fieldText(p.fields.destination);
  const dest = destT ? resolve(destT) : undefined;
  if (dest === undefined) {
    person.push({
      where: at,
      what: `the destination "${shown(p.fields.destination)}" cannot be evaluated: not carried over`,
    });
    return undefined;
  }
  // A trailing "/" is Packer's "into this folder" (kept below); the folder itself must be a droplet path.
  const why =
    unsafeDropletPath(dest.length > 1 ? dest.replace(/\/+$/, '') || '/' : dest) ??
    (/[\u0000-\u001f\u007f\u2028\u2029]/.test(dest) ? 'holds a control character' : null);
  if (why) {
    person.push({ where: at, what: `refused: the destination ${JSON.stringify(dest)} ${why}` });
    return undefined;
  }
  const out: FilesStep = { kind: 'files', origin: at, entries: [] };
  const content = fieldText(p.fields.content);
  // `content = file("...")` and other expressions: not text the import can evaluate (never run)
  if (p.fields.content && !content) {
    person.push({
      where: at,
      what: `the file content for ${dest} is an expression (${'expr' in p.fields.content ? p.fields.content.expr : 'not a text'}) the import does not evaluate: not carried over`,
    });
    return out;
  }
  if (content) {
    const c = resolve(content);
    if (c === undefined)
      person.push({ where: at, what: `the file content for ${dest} cannot be evaluated: not carried over` });
    else out.entries.push({ target: dest, source: { data: Buffer.from(c) }, mode: 0o644 });
    return out;
  }
  const sources = [...listOf(p.fields.sources), ...(p.fields.source ? [p.fields.source] : [])];
  if (sources.length === 0)
    person.push({ where: at, what: `a file provisioner with no source or content for ${dest}: not carried over` });
  for (const s of sources) out.entries.push(...sourceEntries(r, s, dest, at));
  return out;
}

/** One source of a file provisioner: a file, or every regular file of a folder (links are not followed). */
function sourceEntries(r: Reader, s: Field, dest: string, at: string): FilesStep['entries'] {
  const { tree, resolve, person } = r;
  const st = fieldText(s);
  const src = st ? resolve(st) : undefined;
  if (src === undefined) {
    person.push({
      where: at,
      what: `the source "${shown(s)}" cannot be evaluated: not carried over`,
    });
    return [];
  }
  let rel: string;
  let kind: string;
  try {
    rel = tree.relative(src);
    kind = tree.kind(rel);
  } catch (e) {
    if (!(e instanceof Refused)) throw e;
    person.push({ where: at, what: `refused: the source ${JSON.stringify(src)}: ${e.message}` });
    return [];
  }
  if (kind === 'missing') {
    person.push({ where: at, what: `the source ${src} does not exist under ${tree.base}: not carried over` });
    return [];
  }
  if (kind === 'file') {
    const target = dest.endsWith('/') ? `${dest}${path.posix.basename(rel)}` : dest;
    return [{ target: path.posix.normalize(target), source: { rel }, mode: fs.lstatSync(tree.abs(rel)).mode & 0o7777 }];
  }
  if (kind !== 'dir') {
    person.push({ where: at, what: `refused: the source ${src} is not a regular file or folder` });
    return [];
  }
  const into = src.endsWith('/') ? dest : `${dest.replace(/\/+$/, '')}/${path.posix.basename(rel)}`;
  const out: FilesStep['entries'] = [];
  for (const e of tree.walk(rel)) {
    if (e.kind === 'dir') continue;
    if (e.kind === 'link') {
      person.push({
        where: `${e.rel}`,
        what: `a symbolic link (to ${JSON.stringify(e.target)}) is not followed and not copied: make it in a build script if the image needs it`,
      });
      continue;
    }
    if (e.kind !== 'file') {
      person.push({ where: e.rel, what: e.bad ? `refused: ${e.bad}` : 'not a regular file: not copied' });
      continue;
    }
    if (/[\u0000-\u001f\u007f\u2028\u2029]/.test(e.inner)) {
      person.push({ where: JSON.stringify(e.rel), what: 'refused: the file name holds a control character' });
      continue;
    }
    out.push({
      target: path.posix.normalize(`${into.replace(/\/+$/, '')}/${e.inner}`),
      source: { rel: e.rel },
      mode: e.mode,
    });
  }
  return out;
}

function envLines(r: Reader, p: Block, at: string): EnvLine[] {
  const { person } = r;
  const out: EnvLine[] = [];
  for (const f of listOf(p.fields.environment_vars)) {
    const t = fieldText(f);
    if (!t) continue;
    const first = t[0];
    const m = first && 'lit' in first ? /^([^=]*)=/.exec(first.lit) : null;
    if (!m || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(m[1])) {
      person.push({ where: at, what: `environment entry "${describe(t)}" is not NAME=value: not carried over` });
      continue;
    }
    out.push({ name: m[1], value: [{ lit: (first as { lit: string }).lit.slice(m[0].length) }, ...t.slice(1)] });
  }
  const env = p.fields.env;
  if (env && 'map' in env) {
    for (const [k, v] of Object.entries(env.map)) {
      const t = fieldText(v);
      if (!t || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        person.push({ where: at, what: `environment entry ${k} is not carried over` });
      else out.push({ name: k, value: t });
    }
  }
  return out;
}

function shellSteps(r: Reader, p: Block, at: string): Step[] {
  const { tree, resolve, person, info } = r;
  const env = envLines(r, p, at);
  const out: Step[] = [];
  const exec = textOf(p.fields.execute_command);
  if (p.fields.execute_command)
    info.push({
      where: at,
      what: `execute_command ${JSON.stringify(exec ?? describe(fieldText(p.fields.execute_command) ?? []))} is not carried over: mpimg runs each build script as root by its #! line`,
    });
  if (p.fields.expect_disconnect)
    person.push({
      where: at,
      what: "the build expected the droplet to disconnect (a reboot?): mpimg's scripts step does not reconnect; move the reboot to the end or drop it",
    });
  for (const k of ['valid_exit_codes', 'pause_before', 'pause_after', 'start_retry_timeout', 'max_retries', 'timeout'])
    if (p.fields[k]) info.push({ where: at, what: `"${k}" is not carried over` });
  const inline = listOf(p.fields.inline);
  if (inline.length) {
    const shebang = textOf(p.fields.inline_shebang) ?? '/bin/sh -e';
    const body = inline.map((f) => fieldText(f) ?? [{ lit: '' }]);
    out.push({
      kind: 'script',
      origin: `${at} (inline)`,
      at,
      role: 'inline build script',
      text: '',
      env,
      inline: { body, shebang },
    });
  }
  const scripts = [...(p.fields.script ? [p.fields.script] : []), ...listOf(p.fields.scripts)];
  for (const s of scripts) {
    const st = fieldText(s);
    const src = st ? resolve(st) : undefined;
    if (src === undefined) {
      person.push({
        where: at,
        what: `the script "${shown(s)}" cannot be evaluated: not carried over`,
      });
      continue;
    }
    let rel: string;
    let data: Buffer;
    try {
      rel = tree.relative(src);
      data = tree.read(rel).data;
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      person.push({ where: at, what: `refused: the script ${JSON.stringify(src)}: ${e.message}` });
      continue;
    }
    // a program (NUL bytes): no shell script to keep or read; Packer would have run it as it is
    if (data.includes(0)) {
      person.push({
        where: rel,
        what: 'refused: a binary file, not a shell script: not carried over; put the program into files/ and run it from a build script',
      });
      continue;
    }
    const text = data.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(data))
      person.push({
        where: rel,
        what: 'is not UTF-8 text: it was read as UTF-8 (bytes that are not became U+FFFD); compare the kept script with the original',
      });
    out.push({ kind: 'script', origin: rel, at, role: 'build script', fileRel: rel, text, env });
  }
  return out;
}
