/**
 * `mpimg import`, the mapping: a Packer template and the files it names → the manifest of a new
 * image project, its files/, build scripts, first-boot steps, MOTD and key files, and the report.
 * Pure with respect to the new project (nothing is written here); the template's tree is only read.
 *
 * Order of work: read the template; map the builder and the variables; walk the provisioners in
 * order (files into one tree, scripts with the environment the template gave them); take the
 * per-instance scripts and the MOTD out of the tree; decide the firewall; run the recognizers over
 * every script in template order; and when a kept line still names a file that was moved (a
 * `sed` on the per-instance script), leave that file where it was and do it again.
 */
import * as path from 'node:path';
import { DEFAULTS, DISTRO_SLUG_RE, DISTRIBUTIONS, validateManifest, type Manifest } from '../../runtime/manifest.js';
import { unsafeDropletPath } from '../../runtime/sections/common.js';
import { reservedVariable, VARIABLE_NAME_RE } from '../../runtime/sections/variables.js';
import { MANIFEST_SCHEMA, RESERVED_VENDORS } from '../../runtime/manifest-schema.js';
import { deriveName, deriveSlug, deriveVendor } from '../../generators/lib/derive.js';
import { manifestFromAnswers, MANIFEST_SCHEMA_REF } from '../../generators/lib/project.js';
import { DEFAULT_MOTD, type Answers } from '../../generators/lib/options.js';
import { formatAnswerProblems, validateAnswers } from '../../generators/lib/answers.js';
import { familyOf } from '../../runtime/distro.js';
import { MpimgError } from '../errors.js';
import { analyzeScript, type ScriptInput, type ScriptResult } from './analyze.js';
import { classifyDoScript } from './do-scripts.js';
import { chooseBase, locateTemplate, type Located } from './locate.js';
import { motdText } from './motd.js';
import { planFirewall } from './recognizers/ufw.js';
import { MOTD_TARGET } from './recognizers/moved.js';
import { totals, type Field as ReportField, type FileEntry, type Report } from './report.js';
import { readShell, ShellReadError } from './shell.js';
import { Refused, SourceTree } from './source.js';
import type { ImportOptions, ImportState, PersonNote } from './state.js';
import { readTemplate, textOf, TemplateReadError, type Block, type Field, type Piece, type Template, type Text } from './template.js';
import * as fs from 'node:fs';

export interface ImportRequest {
  /** The template file or the folder holding it. */
  source: string;
  /** Where Packer ran (default: found from the template's paths). */
  base?: string;
  name?: string;
  slug?: string;
  vendor?: string;
  options: ImportOptions;
}

export interface ProjectOutput {
  data: Buffer;
  mode: number;
  /** A symbolic link to this target instead of a file. */
  link?: string;
}

export interface ImportResult {
  manifest: Manifest;
  /** What the scaffolder is asked for (mpimg.json then gets the rest of the mapping). */
  answers: Answers;
  /** Files of the new project besides what the scaffolder writes: project path → bytes and mode. */
  files: Map<string, ProjectOutput>;
  report: Report;
}

const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance/';
const APT_FILES = /^\/(etc\/apt|usr\/share\/keyrings|etc\/dpkg|var\/cache\/debconf)\//;
const SECRET_NAME = /TOKEN|SECRET|PASSW|PASSWD|API_?KEY|PRIVATE/i;

/** One provisioner turned into a step of the walk. */
type Step =
  | { kind: 'files'; origin: string; entries: Array<{ target: string; source: { rel: string } | { data: Buffer }; mode: number }> }
  | { kind: 'script'; origin: string; at: string; role: 'build script' | 'inline build script'; fileRel?: string; text: string; shebangAdded?: boolean; env: EnvLine[]; inline?: { body: Text[]; shebang: string } };

interface EnvLine {
  name: string;
  value: Text;
}

/** Names of the new project's variables for the template's variables and environment references. */
class Variables {
  readonly used = new Map<string, { value: string; from: string }>();
  private readonly names = new Map<string, string>();

  constructor(private readonly tmpl: Template, private readonly special: Map<string, string>, private readonly resolve: (t: Text) => string | undefined, private readonly notes: { person: PersonNote[]; info: PersonNote[] }) {}

  /** The shell name a template variable is known by in the new project (registered when used); none for a secret. */
  forVar(v: string, where: string): string | undefined {
    if (this.special.has(v)) return this.special.get(v)!;
    const tv = this.tmpl.variables.get(v);
    if (tv && (tv.sensitive || SECRET_NAME.test(v))) {
      this.notes.person.push({ where, what: `uses the secret template variable "${v}": mpimg.json's variables are not secret, so it is not one; the script gets it empty: give the value at build time another way (a file kept out of the repository, a first-boot secret)` });
      return undefined;
    }
    let n = this.names.get(`var:${v}`);
    if (!n) {
      n = this.freshName(v);
      this.names.set(`var:${v}`, n);
    }
    if (!this.used.has(n)) {
      let value = '';
      if (!tv) this.notes.person.push({ where, what: `uses the template variable "${v}", which the template does not declare: the variable ${n} of mpimg.json is empty` });
      else if (tv.default !== undefined) {
        const r = this.resolve(tv.default);
        if (r === undefined) this.notes.person.push({ where, what: `the default of template variable "${v}" cannot be evaluated at import (${describe(tv.default)}): ${n} is empty; give it with \`mpimg bundle --var ${n}=...\` or MPIMG_VAR_${n}` });
        else value = r;
      }
      this.used.set(n, { value, from: `template variable "${v}"` });
    }
    return n;
  }

  /** An environment variable the template read at build ({{env `X`}}): a variable of the same name. */
  forEnv(x: string, where: string): string | undefined {
    if (SECRET_NAME.test(x)) {
      this.notes.person.push({ where, what: `reads the secret ${x} from the environment of the machine running Packer: mpimg.json's variables are not secret; give it to the build another way` });
      return undefined;
    }
    let n = this.names.get(`env:${x}`);
    if (!n) {
      n = this.freshName(x);
      this.names.set(`env:${x}`, n);
    }
    if (!this.used.has(n)) {
      this.used.set(n, { value: '', from: `the environment variable ${x} of the machine running Packer` });
      this.notes.person.push({ where, what: `read ${x} from the environment of the machine running Packer: it is the variable ${n} now (empty by default): give it with \`mpimg bundle --var ${n}=...\` or MPIMG_VAR_${n}=...` });
    }
    return n;
  }

  private freshName(base: string): string {
    let n = base.toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^[^A-Z]+/, '');
    if (!n) n = 'VALUE';
    if (reservedVariable(n) || !VARIABLE_NAME_RE.test(n)) n = `APP_${n}`.slice(0, 64);
    const taken = new Set([...this.names.values(), ...this.special.values()]);
    let cand = n;
    for (let k = 2; taken.has(cand); k++) cand = `${n}_${k}`;
    return cand;
  }
}

const describe = (t: Text): string => t.map((p) => ('lit' in p ? p.lit : 'var' in p ? `{{user \`${p.var}\`}}` : 'env' in p ? `{{env \`${p.env}\`}}` : 'timestamp' in p ? '{{timestamp}}' : p.other)).join('');

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Quote state at the end of `text` (a line of shell): inside '...', "..." or neither. */
function quoteState(text: string): 'none' | 'single' | 'double' {
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

export async function importTemplate(req: ImportRequest): Promise<ImportResult> {
  const located = locateTemplate(req.source);
  const texts = located.files.map((f) => ({ text: fs.readFileSync(f, 'utf8'), file: path.basename(f) }));
  let tmpl: Template;
  try {
    tmpl = readTemplate(texts);
  } catch (e) {
    if (e instanceof TemplateReadError) throw new MpimgError(e.message, { where: path.join(located.dir, e.where), hint: 'give a Packer template (JSON or HCL2) as Packer reads it' });
    throw e;
  }
  const referenced = referencedPaths(tmpl);
  const { base, why } = chooseBase(located, referenced, req.base);
  const tree = new SourceTree(base);
  const templateNames = located.files.map((f) => path.relative(base, f) || path.basename(f));

  // A moved file a kept line still names, or an item the rules refuse in the whole manifest: do it
  // again without that (each round takes one more thing back; they are few).
  let excluded = new Map<string, PersonNote>();
  let refused = new Set<string>();
  for (let round = 0; ; round++) {
    const r = await importOnce(req, tmpl, located, tree, templateNames, why, excluded, refused);
    if ((r.unmove.size === 0 && !r.refused) || round >= 8) {
      if (!r.result) throw new MpimgError('the import did not settle on a project (a bug of mpimg import; please report it with the template)', { where: templateNames[0] });
      return r.result;
    }
    excluded = new Map([...excluded, ...r.unmove]);
    refused = new Set([...refused, ...(r.refused ?? [])]);
  }
}

/** Every path a provisioner names (for finding where Packer ran). */
function referencedPaths(t: Template): string[] {
  const out: string[] = [];
  for (const p of t.provisioners) {
    for (const k of ['source', 'script']) {
      const v = textOf(p.fields[k]);
      if (v) out.push(v.replace(/\/+$/, ''));
    }
    for (const k of ['sources', 'scripts']) {
      const f = p.fields[k];
      if (f && 'list' in f) for (const x of f.list) {
        const v = textOf(x);
        if (v) out.push(v.replace(/\/+$/, ''));
      }
    }
  }
  return out;
}

async function importOnce(req: ImportRequest, tmpl: Template, located: Located, tree: SourceTree, templateNames: string[], baseWhy: string, excluded: Map<string, PersonNote>, refused: Set<string>): Promise<{ result: ImportResult; unmove: Map<string, PersonNote>; refused?: Set<string> }> {
  const tfile = templateNames[0];
  const person: PersonNote[] = [];
  // files left in files/ by an earlier round say why
  const info: PersonNote[] = [...excluded.values()];
  const fields: ReportField[] = [];
  const entries: FileEntry[] = [];

  // ---- values of the template --------------------------------------------------------------
  const resolve = (t: Text, seen = new Set<string>()): string | undefined => {
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
  const fieldText = (f: Field | undefined): Text | undefined => (f && 'text' in f ? f.text : undefined);
  const listOf = (f: Field | undefined): Field[] => (f && 'list' in f ? f.list : f && 'text' in f ? [f] : []);

  // ---- the builder -------------------------------------------------------------------------
  const builders = tmpl.builders.filter((b) => b.type === 'digitalocean');
  if (builders.length === 0) {
    throw new MpimgError(`the template has no "digitalocean" builder${tmpl.builders.length ? ` (it has ${tmpl.builders.map((b) => `"${b.type}"`).join(', ')})` : ''}`, {
      where: tfile, hint: 'import a template that builds a DigitalOcean snapshot (a builder or source of type "digitalocean")',
    });
  }
  const builder = builders[0];
  if (builders.length > 1 || tmpl.builders.length > 1) info.push({ where: builder.at, what: `the template has ${tmpl.builders.length} builders: the first "digitalocean" one was imported` });
  const bf = (k: string) => { const t = fieldText(builder.fields[k]); return t ? resolve(t) : undefined; };

  const image = bf('image');
  let distro = 'ubuntu-24-04-x64';
  let dropletImage: string | undefined;
  if (image && DISTRO_SLUG_RE.test(image)) {
    distro = image;
    fields.push({ field: 'distributions', value: `["${image}"]`, from: `${builder.at} image` });
  } else if (image && /^\d+$/.test(image)) {
    dropletImage = image;
    person.push({ where: `${builder.at} image`, what: `the build starts from image id ${image}: it is droplet.image now; set "distributions" to the distribution that image is (${distro} was assumed)` });
  } else {
    person.push({ where: `${builder.at} image`, what: `the base image ${image === undefined ? `"${describe(fieldText(builder.fields.image) ?? [])}" cannot be evaluated` : `"${image}" is not a DigitalOcean image slug`}: ${distro} was assumed; set "distributions" in mpimg.json` });
  }
  if (!DISTRIBUTIONS.some((d) => d.slug === distro)) info.push({ where: `${builder.at} image`, what: `${distro} is not among the distributions this release knows (${DISTRIBUTIONS.map((d) => d.slug).join(', ')}): it is kept, and \`mpimg new\` in this project will ask for a known one` });
  const family = familyOf(distro);
  const region = bf('region');
  const size = bf('size');
  const slugOk = (s: string | undefined) => s !== undefined && /^[a-z0-9][a-z0-9-]*$/.test(s);
  if (region !== undefined && slugOk(region)) fields.push({ field: 'droplet.region', value: region, from: `${builder.at} region` });
  else if (builder.fields.region) person.push({ where: `${builder.at} region`, what: `the region "${describe(fieldText(builder.fields.region) ?? [])}" could not be used: ${DEFAULTS.region} was taken` });
  if (size !== undefined && slugOk(size)) fields.push({ field: 'droplet.size', value: size, from: `${builder.at} size` });
  else if (builder.fields.size) person.push({ where: `${builder.at} size`, what: `the size "${describe(fieldText(builder.fields.size) ?? [])}" could not be used: ${DEFAULTS.size} was taken` });

  // The API token: mpimg reads it from the environment, never from a file.
  const token = fieldText(builder.fields.api_token);
  if (token) {
    const pieces = expandVars(token, tmpl);
    const envs = pieces.filter((p): p is { env: string } => 'env' in p).map((p) => p.env);
    if (pieces.length && pieces.every((p) => 'lit' in p) && pieces.map((p) => (p as { lit: string }).lit).join('').trim() !== '') {
      person.push({ where: `${builder.at} api_token`, what: 'an API token is written in the template itself: revoke it in the control panel; mpimg reads the token from DIGITALOCEAN_ACCESS_TOKEN (or DIGITALOCEAN_TOKEN, or doctl\'s config) and never stores it' });
    } else {
      info.push({ where: `${builder.at} api_token`, what: `the token${envs.length ? ` (read from ${envs.join(', ')})` : ''}: mpimg reads DIGITALOCEAN_ACCESS_TOKEN, then DIGITALOCEAN_TOKEN, then doctl's config` });
    }
  }
  const user = bf('ssh_username');
  if (user !== undefined && user !== 'root') person.push({ where: `${builder.at} ssh_username`, what: `the build logged in as "${user}": mpimg builds as root over SSH` });
  const notCarried = Object.keys(builder.fields).filter((k) => !['type', 'name', 'api_token', 'image', 'region', 'size', 'ssh_username', 'snapshot_name', 'droplet_agent', 'droplet_name', 'tags'].includes(k));
  if (notCarried.length) info.push({ where: builder.at, what: `not carried over: ${notCarried.join(', ')} (mpimg's build droplet has its own settings: mpimg.json "droplet")` });
  const tags = listOf(builder.fields.tags).map(textOf).filter((t): t is string => t !== undefined && /^[a-zA-Z0-9_:-]{1,255}$/.test(t));

  // ---- name, version, slug, vendor ---------------------------------------------------------
  const varLit = (n: string) => {
    const v = tmpl.variables.get(n);
    return v?.default ? resolve(v.default) : undefined;
  };
  const appName = varLit('application_name');
  let name = req.name ?? (appName && appName.trim() && !/[\u0000-\u001f\u007f\u2028\u2029]/.test(appName) ? appName.trim() : undefined);
  if (!name) {
    name = deriveName(path.basename(located.dir).replace(/-\d+-\d+$/, ''));
    if (!req.name) person.push({ where: tfile, what: `no usable application_name variable: the name "${name}" was made from the folder name (--name sets it)` });
  }
  fields.push({ field: 'name', value: name, from: req.name ? '--name' : appName ? 'variable application_name' : 'the folder name' });
  const appVersion = varLit('application_version');
  const versionOk = (v: string | undefined) => v !== undefined && /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$/.test(v);
  const version = versionOk(appVersion) ? appVersion! : '1.0.0';
  fields.push({ field: 'version', value: version, from: versionOk(appVersion) ? 'variable application_version' : 'the default (application_version is empty or not a version)' });
  if (tmpl.variables.has('application_version') && !versionOk(appVersion)) info.push({ where: tfile, what: `application_version is ${appVersion === undefined ? 'not a fixed value' : `"${appVersion}"`}: version ${version} was taken; the build scripts still get the template's value as application_version` });
  const slug = req.slug ?? deriveSlug(name);
  let vendor = req.vendor ?? deriveVendor(slug);
  if (!req.vendor && RESERVED_VENDORS.has(vendor)) {
    const words = slug.split('-').filter((w) => !RESERVED_VENDORS.has(w) && /^[a-z0-9]/.test(w));
    vendor = words[0] ?? 'vendor';
    person.push({ where: tfile, what: `the vendor folder would have been /opt/${deriveVendor(slug)}, which fails the Marketplace check: /opt/${vendor} was taken (--vendor sets it)` });
  }
  const answers: Answers = {
    name, slug, vendor,
    // The scaffolder asks for a distribution it knows; mpimg.json gets the template's.
    distro: DISTRIBUTIONS.some((d) => d.slug === distro) ? distro : DISTRIBUTIONS[0].slug,
    packages: [], firstLogin: false, loginHold: false, motd: DEFAULT_MOTD,
    region: region !== undefined && slugOk(region) ? region : DEFAULTS.region,
    size: size !== undefined && slugOk(size) ? size : DEFAULTS.size,
  };
  const answerProblems = validateAnswers(answers);
  if (answerProblems.length) {
    throw new MpimgError(`the project's answers are not valid:\n${formatAnswerProblems(answerProblems)}`, {
      where: tfile, hint: 'give --name, --slug or --vendor with a usable value; nothing was written',
    });
  }

  // ---- variables ---------------------------------------------------------------------------
  const special = new Map<string, string>([['application_name', 'MPIMG_NAME']]);
  if (versionOk(appVersion)) special.set('application_version', 'MPIMG_VERSION');
  const vars = new Variables(tmpl, special, (t) => resolve(t), { person, info });

  // ---- the provisioners, in order ----------------------------------------------------------
  const steps: Step[] = [];
  tmpl.provisioners.forEach((p, i) => {
    const at = tmpl.format === 'json' ? `${tfile} provisioners[${i}]` : p.at;
    for (const k of ['only', 'except', 'override']) if (p.fields[k]) info.push({ where: at, what: `"${k}" is not carried over: the step is imported for every build` });
    if (p.type === 'file') {
      const s = fileStep(p, at);
      if (s) steps.push(s);
    } else if (p.type === 'shell') steps.push(...shellSteps(p, at));
    else person.push({ where: at, what: `a "${p.type}" provisioner is not carried over${p.type.startsWith('ansible') ? ' (an Ansible playbook: port its tasks to build scripts or mpimg.json)' : ''}: the image will lack what it did` });
  });
  for (const x of tmpl.ignored) info.push({ where: tfile, what: `not carried over: ${x}` });

  function fileStep(p: Block, at: string): Step | undefined {
    if (textOf(p.fields.direction) === 'download') {
      info.push({ where: at, what: 'a download from the build droplet is not carried over' });
      return undefined;
    }
    const destT = fieldText(p.fields.destination);
    const dest = destT ? resolve(destT) : undefined;
    if (dest === undefined) {
      person.push({ where: at, what: `the destination "${destT ? describe(destT) : ''}" cannot be evaluated: not carried over` });
      return undefined;
    }
    const why = unsafeDropletPath(dest) ?? (/[\u0000-\u001f\u007f\u2028\u2029]/.test(dest) ? 'holds a control character' : null);
    if (why) {
      person.push({ where: at, what: `refused: the destination ${JSON.stringify(dest)} ${why}` });
      return undefined;
    }
    const out: Extract<Step, { kind: 'files' }> = { kind: 'files', origin: at, entries: [] };
    const content = fieldText(p.fields.content);
    if (content) {
      const c = resolve(content);
      if (c === undefined) person.push({ where: at, what: `the file content for ${dest} cannot be evaluated: not carried over` });
      else out.entries.push({ target: dest, source: { data: Buffer.from(c) }, mode: 0o644 });
      return out;
    }
    const sources = [...listOf(p.fields.sources), ...(p.fields.source ? [p.fields.source] : [])];
    for (const s of sources) {
      const st = fieldText(s);
      const src = st ? resolve(st) : undefined;
      if (src === undefined) {
        person.push({ where: at, what: `the source "${st ? describe(st) : ''}" cannot be evaluated: not carried over` });
        continue;
      }
      let rel: string;
      try {
        rel = tree.relative(src);
      } catch (e) {
        if (!(e instanceof Refused)) throw e;
        person.push({ where: at, what: `refused: the source ${JSON.stringify(src)}: ${e.message}` });
        continue;
      }
      let kind: string;
      try {
        kind = tree.kind(rel);
      } catch (e) {
        if (!(e instanceof Refused)) throw e;
        person.push({ where: at, what: `refused: the source ${JSON.stringify(src)}: ${e.message}` });
        continue;
      }
      if (kind === 'missing') {
        person.push({ where: at, what: `the source ${src} does not exist under ${tree.base}: not carried over` });
        continue;
      }
      if (kind === 'file') {
        const target = dest.endsWith('/') ? `${dest}${path.posix.basename(rel)}` : dest;
        out.entries.push({ target: path.posix.normalize(target), source: { rel }, mode: fs.lstatSync(tree.abs(rel)).mode & 0o7777 });
        continue;
      }
      if (kind !== 'dir') {
        person.push({ where: at, what: `refused: the source ${src} is not a regular file or folder` });
        continue;
      }
      const into = src.endsWith('/') ? dest : `${dest.replace(/\/+$/, '')}/${path.posix.basename(rel)}`;
      for (const e of tree.walk(rel)) {
        if (e.kind === 'dir') continue;
        if (e.kind === 'link') {
          person.push({ where: `${e.rel}`, what: `a symbolic link (to ${JSON.stringify(e.target)}) is not followed and not copied: make it in a build script if the image needs it` });
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
        out.entries.push({ target: path.posix.normalize(`${into.replace(/\/+$/, '')}/${e.inner}`), source: { rel: e.rel }, mode: e.mode });
      }
    }
    return out;
  }

  function envLines(p: Block, at: string): EnvLine[] {
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
        if (!t || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) person.push({ where: at, what: `environment entry ${k} is not carried over` });
        else out.push({ name: k, value: t });
      }
    }
    return out;
  }

  function shellSteps(p: Block, at: string): Step[] {
    const env = envLines(p, at);
    const out: Step[] = [];
    const exec = textOf(p.fields.execute_command);
    if (p.fields.execute_command) info.push({ where: at, what: `execute_command ${JSON.stringify(exec ?? describe(fieldText(p.fields.execute_command) ?? []))} is not carried over: mpimg runs each build script as root by its #! line` });
    if (p.fields.expect_disconnect) person.push({ where: at, what: 'the build expected the droplet to disconnect (a reboot?): mpimg\'s scripts step does not reconnect; move the reboot to the end or drop it' });
    for (const k of ['valid_exit_codes', 'pause_before', 'pause_after', 'start_retry_timeout', 'max_retries', 'timeout']) if (p.fields[k]) info.push({ where: at, what: `"${k}" is not carried over` });
    const inline = listOf(p.fields.inline);
    if (inline.length) {
      const shebang = textOf(p.fields.inline_shebang) ?? '/bin/sh -e';
      const body = inline.map((f) => fieldText(f) ?? [{ lit: '' }]);
      out.push({ kind: 'script', origin: `${at} (inline)`, at, role: 'inline build script', text: '', env, inline: { body, shebang } });
    }
    const scripts = [...(p.fields.script ? [p.fields.script] : []), ...listOf(p.fields.scripts)];
    for (const s of scripts) {
      const st = fieldText(s);
      const src = st ? resolve(st) : undefined;
      if (src === undefined) {
        person.push({ where: at, what: `the script "${st ? describe(st) : ''}" cannot be evaluated: not carried over` });
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
      const text = data.toString('utf8');
      out.push({ kind: 'script', origin: rel, at, role: 'build script', fileRel: rel, text, env });
    }
    return out;
  }

  // ---- the files tree ----------------------------------------------------------------------
  const tree$ = new Map<string, { source: { rel: string } | { data: Buffer }; mode: number; origin: string }>();
  for (const s of steps) {
    if (s.kind === 'files') for (const e of s.entries) tree$.set(e.target, { source: e.source, mode: e.mode, origin: s.origin });
  }
  const readEntry = (e: { source: { rel: string } | { data: Buffer }; mode: number }): { data: Buffer; mode: number } | undefined => {
    if ('data' in e.source) return { data: e.source.data, mode: e.mode };
    try {
      return tree.read(e.source.rel);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      person.push({ where: e.source.rel, what: `refused: ${err.message}` });
      return undefined;
    }
  };

  // ---- state shared by the recognizers ------------------------------------------------------
  const state: ImportState = {
    options: req.options, family, ubuntu: distro.startsWith('ubuntu-'),
    packages: [], repositories: [], keyFiles: new Map(), services: [], users: [], directories: [], fileModes: new Map(), writtenFiles: new Map(), buildTexts: [],
    firewall: { limit: [], allow: [] }, firewallMode: 'keep',
    filesAt: new Map(), moved: new Map(), motdPlaceholders: new Map(), refused, person, info,
  };
  for (const [t, e] of tree$) {
    state.filesAt.set(t, `files${t}`);
    state.fileModes.set(t, e.mode || 0o644);
  }

  // first-boot steps: the per-instance scripts
  const firstBoot: Array<{ target: string; rel: string; text: string; mode: number; origin: string; name: string }> = [];
  const perInstance = [...tree$.keys()].filter((t) => t.startsWith(PER_INSTANCE) && !t.slice(PER_INSTANCE.length).includes('/') && !excluded.has(t)).sort();
  const fbNames = new Set<string>();
  perInstance.forEach((t) => {
    const e = tree$.get(t)!;
    const got = readEntry(e);
    if (!got) return;
    const text = got.data.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(got.data)) return;
    const base = path.posix.basename(t);
    let name = base.toLowerCase().replace(/\.[a-z0-9]+$/, '').replace(/^[\d_.-]+/, '').replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|[-_]+$/g, '').slice(0, 30) || 'step';
    for (let k = 2; fbNames.has(name); k++) name = `${name.slice(0, 27)}-${k}`;
    fbNames.add(name);
    firstBoot.push({ target: t, rel: '', text, mode: got.mode, origin: 'source' in e && 'rel' in e.source ? e.source.rel : e.origin, name });
  });
  const step = firstBoot.length <= 9 ? 10 : Math.max(1, Math.floor(90 / firstBoot.length));
  firstBoot.forEach((f, i) => {
    const ext = /^#!.*\b(ba|da)?sh\b/.test(f.text) || !f.text.startsWith('#!') ? '.sh' : '';
    f.rel = `first-boot/${String(Math.min(99, 10 + i * step)).padStart(2, '0')}-${f.name}${ext}`;
    state.moved.set(f.target, f.rel);
  });
  for (const t of [...tree$.keys()].filter((x) => /^\/var\/lib\/cloud\/scripts\/(per-boot|per-once)\//.test(x))) {
    info.push({ where: tree$.get(t)!.origin, what: `${t} stays in files/ (cloud-init runs it ${t.includes('per-boot') ? 'at every boot' : 'once'}; only per-instance scripts become first-boot steps)` });
  }

  // the MOTD
  let motd: { target: string; text: string } | undefined;
  const motds = [...tree$.keys()].filter((t) => MOTD_TARGET.test(t) && !excluded.has(t));
  const motdPick = motds.find((t) => t === '/etc/update-motd.d/99-one-click') ?? motds.filter((t) => /\/99-[^/]+$/.test(t)).sort()[0];
  if (motdPick) {
    const got = readEntry(tree$.get(motdPick)!);
    if (got) {
      const r = motdText(got.data.toString('utf8'), `/etc/update-motd.d/99-${slug}`);
      if ('text' in r) {
        motd = { target: motdPick, text: r.text };
        state.moved.set(motdPick, 'motd.txt');
      } else info.push({ where: tree$.get(motdPick)!.origin, what: `${motdPick} stays in files/: ${r.why}` });
    }
    for (const t of motds.filter((x) => x !== motdPick)) info.push({ where: tree$.get(t)!.origin, what: `${t} stays in files/ (only one MOTD becomes motd.txt)` });
  }

  // ---- scripts: the environment, then the recognizers ----------------------------------------
  const scriptInputs: Array<{ step: Extract<Step, { kind: 'script' }>; input: ScriptInput; header: string; doScript?: ReturnType<typeof classifyDoScript> }> = [];
  for (const s of steps) {
    if (s.kind !== 'script') continue;
    const env = new Map<string, string | undefined>();
    const envVars = new Map<string, string>();
    const header: string[] = [];
    for (const e of s.env) {
      env.set(e.name, resolve(e.value));
      const shell = e.value.filter((p) => !('lit' in p && p.lit === '')).map((p) => shellPiece(p, 'none', s.at)).filter((x) => x !== undefined);
      const only = e.value.filter((p) => !('lit' in p && p.lit === ''));
      if (only.length === 1 && 'var' in only[0]) {
        const n = vars.forVar(only[0].var, s.at);
        if (n) envVars.set(e.name, n);
      }
      header.push(`export ${e.name}=${shell.join('') || "''"}`);
    }
    let text = s.text;
    if (!s.inline && !text.startsWith('#!')) {
      text = `#!/bin/sh\n${text}`;
      s.shebangAdded = true;
    }
    const doScript = s.fileRel ? classifyDoScript(s.text, path.posix.basename(s.fileRel)) : undefined;
    scriptInputs.push({ step: s, input: { role: 'build', origin: s.origin, text, env, envVars }, header: header.join('\n'), doScript });
  }

  /** One template reference as shell text: the new project's variable, or the raw text with a note. */
  function shellPiece(p: Piece, q: 'none' | 'single' | 'double', where: string, env?: Map<string, string | undefined>): string | undefined {
    if ('lit' in p) return q === 'none' ? shq(p.lit) : p.lit;
    let name: string | undefined;
    if ('var' in p) name = vars.forVar(p.var, where);
    else if ('env' in p) name = vars.forEnv(p.env, where);
    else if ('timestamp' in p) return q === 'single' ? `'"$(date +%s)"'` : '"$(date +%s)"';
    else {
      person.push({ where, what: `the template expression ${p.other} cannot be evaluated at import: it was left as text` });
      return q === 'none' ? shq(p.other) : p.other;
    }
    if (!name) return q === 'none' ? "''" : '';
    if (env) env.set(name, name === 'MPIMG_NAME' ? resolve([{ var: 'application_name' }]) : name === 'MPIMG_VERSION' ? version : vars.used.get(name)?.value);
    return q === 'single' ? `'"\${${name}}"'` : q === 'double' ? `\${${name}}` : `"\${${name}}"`;
  }

  // inline lines take variables unquoted (Packer pasted the text: `install {{user \`apt_packages\`}}` splits)
  for (const si of scriptInputs) {
    const inline = si.step.inline;
    if (!inline) continue;
    const lines = inline.body.map((t) => {
      let line = '';
      for (const p of t) {
        if ('lit' in p) line += p.lit;
        else {
          const q = quoteState(line);
          const piece = shellPiece(p, q === 'none' ? 'double' : q, si.step.origin, si.input.env);
          line += piece ?? '';
        }
      }
      return line;
    });
    si.input.text = `#!${inline.shebang.replace(/^#!/, '')}\n${lines.join('\n')}\n`;
  }

  const buildUnits = scriptInputs.filter((s) => !s.doScript).map((s) => {
    try {
      return { origin: s.input.origin, units: readShell(s.input.text) };
    } catch (e) {
      if (e instanceof ShellReadError) return { origin: s.input.origin, units: [] };
      throw e;
    }
  });
  planFirewall(state, buildUnits);
  if (state.firewallMode === 'keep' && state.firewallWhy) person.push({ where: 'firewall', what: `the ufw lines stay as script (${state.firewallWhy}); add "firewall" to mpimg.json by hand` });

  // in template order: file steps may stop later package lines from moving, scripts are read
  const results = new Map<typeof scriptInputs[number], ScriptResult>();
  for (const s of steps) {
    if (s.kind === 'files') {
      const apt = s.entries.find((e) => APT_FILES.test(e.target));
      if (apt && !state.aptBarrier) state.aptBarrier = `${s.origin} (${apt.target})`;
      continue;
    }
    const si = scriptInputs.find((x) => x.step === s)!;
    if (si.doScript) continue;
    results.set(si, await analyzeScript(si.input, state));
  }
  const fbResults = new Map<typeof firstBoot[number], ScriptResult>();
  for (const f of firstBoot) {
    fbResults.set(f, await analyzeScript({ role: 'first-boot', origin: f.origin, text: f.text, env: new Map(), envVars: new Map() }, state));
  }

  // ---- a kept line that names a moved file: leave that file in files/ and do it again ----------
  const unmove = new Map<string, PersonNote>();
  const keptUnitTexts: string[] = [];
  for (const r of [...results.values(), ...fbResults.values()]) {
    if (r.readError) keptUnitTexts.push(r.input.text);
    for (const u of r.units) if ((u.kind === 'command' || u.kind === 'compound') && (!r.hits.has(u) || r.hits.get(u)!.kept)) keptUnitTexts.push(u.text);
  }
  for (const [target] of state.moved) {
    if (keptUnitTexts.some((t) => t.includes(target))) unmove.set(target, { where: tree$.get(target)!.origin, what: `${target} stays in files/: a kept build line still uses it there` });
  }
  if (motd) {
    let text = motd.text;
    for (const [from, to] of state.motdPlaceholders) text = text.replaceAll(`{{${from}}}`, `{{${to}}}`);
    const knownVars = new Set(vars.used.keys());
    const unknown = [...text.matchAll(/\{\{([^{}]*)\}\}/g)].map((m) => m[1]).filter((n) => !['ip', 'name', 'version', 'credentials'].includes(n) && !knownVars.has(n));
    if (unknown.length && !unmove.has(motd.target)) unmove.set(motd.target, { where: tree$.get(motd.target)!.origin, what: `${motd.target} stays in files/: its text has placeholders no variable fills in (${unknown.map((n) => `{{${n}}}`).join(', ')})` });
    motd.text = text;
  }
  if (unmove.size) return { result: undefined as unknown as ImportResult, unmove };

  // files/ is laid down before the build scripts: say so where the template had it the other way
  let keptBefore: string | undefined;
  for (const s of steps) {
    if (s.kind === 'script') {
      const si = scriptInputs.find((x) => x.step === s)!;
      if (results.get(si)?.keptText !== undefined) keptBefore ??= s.origin;
    } else if (keptBefore && s.entries.some((e) => !state.moved.has(e.target))) {
      info.push({ where: s.origin, what: `files/ is laid down before the build scripts: these files came after ${keptBefore} in the template (a script that changes them now sees them first)` });
    }
  }

  // ---- the new project's files -------------------------------------------------------------
  const files = new Map<string, ProjectOutput>();
  const kept = [...results.entries()].filter(([, r]) => r.keptText !== undefined);
  const scriptStep = kept.length <= 8 ? 10 : Math.max(1, Math.floor(89 / kept.length));
  const usedNames = new Set<string>();
  const scriptName = (si: typeof scriptInputs[number], n: number): string => {
    const fromFile = si.step.fileRel ? path.posix.basename(si.step.fileRel) : 'inline.sh';
    const ext = /\.(sh|bash)$/.exec(fromFile)?.[0] ?? (/^#!.*\b(ba|da)?sh\b/.test(si.input.text) ? '.sh' : path.posix.extname(fromFile));
    let stem = fromFile.replace(/\.[A-Za-z0-9]+$/, '').toLowerCase().replace(/^[\d_.-]+/, '').replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|[-_]+$/g, '').slice(0, 40) || 'script';
    const nn = String(Math.min(98, 10 + n * scriptStep)).padStart(2, '0');
    if (`${nn}-${stem}${ext}` === '90-cleanup.sh' || `${nn}-${stem}${ext}` === '99-img-check.sh') stem = `${stem}-steps`;
    let file = `${DEFAULTS.scriptsDir}/${nn}-${stem}${ext}`;
    for (let k = 2; usedNames.has(file); k++) file = `${DEFAULTS.scriptsDir}/${nn}-${stem}-${k}${ext}`;
    usedNames.add(file);
    return file;
  };
  const keptAs = new Map<typeof scriptInputs[number], string>();
  kept.forEach(([si, r], n) => {
    const rel = scriptName(si, n);
    keptAs.set(si, rel);
    let text = r.keptText!;
    const note = `# mpimg import: from ${si.step.origin}${si.step.fileRel ? '' : ''}; lines marked "mpimg import" moved into mpimg.json (see IMPORT.md)`;
    const env = si.header ? `# The environment the template gave this script:\n${si.header}\n` : '';
    const nl = text.indexOf('\n');
    text = `${text.slice(0, nl + 1)}${note}\n${env}${text.slice(nl + 1)}`;
    files.set(rel, { data: Buffer.from(text), mode: 0o755 });
  });
  for (const f of firstBoot) {
    const r = fbResults.get(f)!;
    let text = r.keptText ?? `${f.text.split('\n')[0].startsWith('#!') ? f.text.split('\n')[0] : '#!/bin/sh'}\n# mpimg import: everything ${f.origin} did is done by mpimg.json now\n`;
    if (!text.startsWith('#!')) {
      text = `#!/bin/sh\n${text}`;
      info.push({ where: f.origin, what: 'had no #! line: #!/bin/sh was added (cloud-init runs per-instance scripts directly)' });
    }
    files.set(f.rel, { data: Buffer.from(text), mode: 0o755 });
  }
  if (motd) files.set('motd.txt', { data: Buffer.from(`${motd.text.replace(/\n+$/, '')}\n`), mode: 0o644 });
  for (const [t, e] of tree$) {
    if (state.moved.has(t)) continue;
    const got = readEntry(e);
    if (!got) continue;
    files.set(`files${t}`, { data: got.data, mode: state.fileModes.get(t) ?? (got.mode & 0o7777 || 0o644) });
  }
  for (const [t, w] of state.writtenFiles) {
    files.set(`files${t}`, w.link !== undefined ? { data: Buffer.alloc(0), mode: 0o777, link: w.link } : { data: w.data!, mode: state.fileModes.get(t) ?? 0o644 });
  }
  for (const [rel, data] of state.keyFiles) files.set(rel, { data, mode: 0o644 });

  // Variables only for what is still used: a kept script's environment or lines, the MOTD.
  const keptTexts = [...kept.map(([si, r]) => `${si.header}\n${r.keptText}`), motd?.text ?? ''];
  for (const n of [...vars.used.keys()]) {
    if (!keptTexts.some((t) => t.includes(`\${${n}}`) || t.includes(`{{${n}}}`))) vars.used.delete(n);
  }

  // ---- the manifest ------------------------------------------------------------------------
  const m = manifestFromAnswers(answers) as Manifest & Record<string, unknown>;
  m.$schema = MANIFEST_SCHEMA_REF;
  m.version = version;
  m.distributions = [distro];
  m.firstLogin = null;
  m.motd = motd ? { file: 'motd.txt' } : null;
  if (![...files.keys()].some((f) => f.startsWith('files/'))) delete m.files;
  m.loginHold = state.loginHold ?? false;
  if (vars.used.size) m.variables = Object.fromEntries([...vars.used].map(([k, v]) => [k, v.value]));
  if (state.users.length) m.users = state.users;
  if (state.directories.length) m.directories = state.directories;
  if (state.services.length) m.services = state.services.map((name) => ({ name, firstBoot: 'none' as const }));
  if (state.firewallMode === 'map') m.firewall = { ...(state.firewall.limit.length ? { limit: state.firewall.limit } : {}), ...(state.firewall.allow.length ? { allow: state.firewall.allow } : {}) };
  if (state.credentialsFile) m.credentials = { file: state.credentialsFile };
  m.build = { packages: state.packages, ...(state.repositories.length ? { repositories: state.repositories.map((r) => r.repo) } : {}), scriptsDir: DEFAULTS.scriptsDir };
  if (dropletImage) m.droplet = { ...m.droplet, image: dropletImage };
  if (tags.length) m.droplet = { ...m.droplet, tags };
  m.snapshot = { name: snapshotName(fieldText(builder.fields.snapshot_name), tmpl, slug, special, info, builder.at) };
  const order = Object.keys(MANIFEST_SCHEMA.properties ?? {});
  const ordered = Object.fromEntries(Object.entries(m).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))) as Manifest & Record<string, unknown>;
  const { problems } = validateManifest(ordered);
  // An item the rules refuse only in the whole manifest: not taken; its line stays as script.
  const refusedNow = new Set<string>();
  for (const p of problems) {
    const at = /^\$\.(users|directories|services|build\.packages)\[(\d+)\]/.exec(p.path);
    if (!at) continue;
    const i = Number(at[2]);
    if (at[1] === 'users') refusedNow.add(`user:${state.users[i]?.name}`);
    if (at[1] === 'directories') refusedNow.add(`dir:${state.directories[i]?.path}`);
    if (at[1] === 'services') refusedNow.add(`service:${state.services[i]}`);
    if (at[1] === 'build.packages') refusedNow.add(`package:${state.packages[i]}`);
  }
  if (refusedNow.size && [...refusedNow].some((x) => !refused.has(x))) {
    for (const p of problems) info.push({ where: p.path, what: `not taken into mpimg.json: ${p.message} (its line stays as script)` });
    return { result: undefined as unknown as ImportResult, unmove: new Map(), refused: refusedNow };
  }
  if (problems.length) {
    throw new MpimgError(`the import made an mpimg.json that does not validate (a bug of mpimg import; please report it with the template):\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, { where: tfile });
  }

  // ---- the report --------------------------------------------------------------------------
  if (state.packages.length) fields.push({ field: 'build.packages', value: state.packages.join(' '), from: 'apt install lines' });
  for (const r of state.repositories) fields.push({ field: 'build.repositories', value: `"${r.repo.name}"`, from: `${r.origin}:${r.units.map((u) => u.start).join(',')}` });
  if (m.firewall) fields.push({ field: 'firewall', value: JSON.stringify(m.firewall), from: 'ufw lines' });
  if (state.services.length) fields.push({ field: 'services', value: state.services.join(' '), from: 'systemctl enable lines' });
  if (state.loginHold) fields.push({ field: 'loginHold', value: JSON.stringify(state.loginHold), from: 'the sshd_config ForceCommand "please wait"' });
  if (state.credentialsFile) fields.push({ field: 'credentials.file', value: state.credentialsFile, from: 'the first-boot script that writes it' });
  for (const [k, v] of vars.used) fields.push({ field: `variables.${k}`, value: JSON.stringify(v.value), from: v.from });
  if (motd) fields.push({ field: 'motd.file', value: 'motd.txt', from: motd.target });
  fields.push({ field: 'snapshot.name', value: m.snapshot.name!, from: `${builder.at} snapshot_name` });
  if (firstBoot.length) fields.push({ field: 'first-boot/', value: firstBoot.map((f) => f.rel).join(', '), from: 'per-instance scripts' });

  for (const s of steps) {
    if (s.kind === 'files') {
      const kept = s.entries.filter((e) => !state.moved.has(e.target));
      const moved = s.entries.filter((e) => state.moved.has(e.target));
      entries.push({
        origin: s.origin, role: 'file provisioner', absorbed: 0, kept: 0,
        became: [
          ...(kept.length ? [`files/: ${kept.length} file(s) (${[...new Set(kept.map((e) => e.target.split('/').slice(0, 3).join('/')))].join(', ')})`] : []),
          ...moved.map((e) => `${e.target} → ${state.moved.get(e.target)}`),
        ],
      });
      continue;
    }
    const si = scriptInputs.find((x) => x.step === s)!;
    if (si.doScript) {
      const d = si.doScript;
      const lines = s.text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).length;
      const what = d.kind === 'cleanup' ? "DigitalOcean's cleanup" : "DigitalOcean's image check";
      const became = d.version
        ? [`dropped: ${what} as published (${d.version.where}, ${d.version.date}); the package's ${d.kind === 'cleanup' ? 'cleanup' : 'check'} runs instead`]
        : d.added.length
          ? [`dropped: a modified copy of ${what}; the package's ${d.kind === 'cleanup' ? 'cleanup' : 'check'} runs instead`, 'lines no DigitalOcean version has (not carried over):', ...d.added.map((l) => `+ ${l.line}: ${l.text}`)]
          : [`dropped: ${what}, cut down or reordered (every line of it is DigitalOcean's, but it matches no published version); the package's ${d.kind === 'cleanup' ? 'cleanup' : 'check'} runs instead`];
      if (!d.version && d.added.length) person.push({ where: s.origin, what: `a modified copy of ${what}: ${d.added.length} line(s) of it are not DigitalOcean's and were not carried over (listed above); if they are needed, put them into a build script (or \`mpimg add ${d.kind === 'cleanup' ? 'cleanup' : 'check'}-script\` to own the whole ${d.kind})` });
      entries.push({ origin: s.origin, role: d.kind === 'cleanup' ? 'cleanup script' : 'image check script', became, absorbed: lines, kept: 0 });
      continue;
    }
    const r = results.get(si)!;
    const became = dedupe([...r.hits.values()].map((h) => h.became));
    if (s.shebangAdded && r.keptText) became.push('#!/bin/sh added (the script had none)');
    entries.push({ origin: s.origin, role: s.role, became, keptAs: keptAs.get(si), absorbed: r.absorbed, kept: r.kept });
  }
  for (const f of firstBoot) {
    const r = fbResults.get(f)!;
    entries.push({ origin: f.origin, role: `per-instance script ${f.target}`, became: dedupe([`first-boot step ${f.rel}`, ...[...r.hits.values()].map((h) => h.became)]), keptAs: f.rel, absorbed: r.absorbed, kept: r.kept });
  }
  if (motd) entries.push({ origin: tree$.get(motd.target)!.origin, role: `MOTD script ${motd.target}`, became: [`motd.txt${motd.text.includes('{{ip}}') ? ' ({{ip}} where it printed the droplet\'s address)' : ''}`], keptAs: 'motd.txt', absorbed: 0, kept: 0 });

  const report: Report = {
    template: templateNames, base: tree.base, baseWhy, fields, files: entries, person: dedupeNotes(person), info: dedupeNotes(info), totals: totals(entries),
  };
  return { result: { manifest: ordered, answers, files, report }, unmove };
}

const dedupe = (xs: string[]): string[] => [...new Set(xs)];
const dedupeNotes = (xs: PersonNote[]): PersonNote[] => {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const k = `${x.where}\u0000${x.what}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
};

/** Template references in a text with user variables expanded into their defaults' pieces. */
function expandVars(t: Text, tmpl: Template, seen = new Set<string>()): Piece[] {
  const out: Piece[] = [];
  for (const p of t) {
    if ('var' in p && !seen.has(p.var) && tmpl.variables.get(p.var)?.default) out.push(...expandVars(tmpl.variables.get(p.var)!.default!, tmpl, new Set([...seen, p.var])));
    else out.push(p);
  }
  return out;
}

/** The snapshot name: literal text, {timestamp}, {version} and {slug} where the template had their equivalents. */
function snapshotName(t: Text | undefined, tmpl: Template, slug: string, special: Map<string, string>, info: PersonNote[], at: string): string {
  if (!t) return DEFAULTS.snapshotName;
  let out = '';
  let lost = false;
  for (const p of expandVarsKeeping(t, tmpl, special)) {
    if ('lit' in p) {
      // "$", "{" and "}" reach the Packer template mpimg writes: not taken as they are
      if (/[${}]/.test(p.lit)) lost = true;
      out += p.lit;
    }
    else if ('timestamp' in p) out += '{timestamp}';
    else if ('var' in p && special.get(p.var) === 'MPIMG_VERSION') out += '{version}';
    else if ('var' in p && special.get(p.var) === 'MPIMG_NAME') out += '{slug}';
    else lost = true;
  }
  out = out.replace(/\s+/g, '-');
  const ok = out !== '' && out.length <= 255 && validateManifest({ name: 'p', slug: 'probe', vendor: 'probe', version: '1', distributions: ['ubuntu-24-04-x64'], snapshot: { name: out } }).problems.length === 0;
  if (!ok || lost) {
    info.push({ where: `${at} snapshot_name`, what: `the snapshot name "${describe(t)}" has ${lost ? 'parts mpimg cannot fill in' : 'no equivalent'}: "${DEFAULTS.snapshotName}" was taken` });
    return DEFAULTS.snapshotName;
  }
  void slug;
  return out;
}

/** Like expandVars, but application_name/application_version stay references (they map to {slug}/{version}). */
function expandVarsKeeping(t: Text, tmpl: Template, special: Map<string, string>, seen = new Set<string>()): Piece[] {
  const out: Piece[] = [];
  for (const p of t) {
    if ('var' in p && !special.has(p.var) && !seen.has(p.var) && tmpl.variables.get(p.var)?.default) out.push(...expandVarsKeeping(tmpl.variables.get(p.var)!.default!, tmpl, special, new Set([...seen, p.var])));
    else out.push(p);
  }
  return out;
}
