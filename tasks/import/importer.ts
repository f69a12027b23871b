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
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULTS, validateManifest, type Manifest } from '../../runtime/manifest.js';
import { MANIFEST_SCHEMA } from '../../runtime/manifest-schema.js';
import type { Answers } from '../../core/options.js';
import { manifestFromAnswers, MANIFEST_SCHEMA_REF } from '../../core/project.js';
import { MpimgError } from '../../core/errors.js';
import { analyzeScript, type ScriptInput, type ScriptResult } from './analyze.js';
import { mapBuilder, mapNames, snapshotName } from './builder.js';
import { classifyDoScript } from './do-scripts.js';
import { chooseBase, locateTemplate, type Located } from './locate.js';
import { motdText } from './motd.js';
import { readProvisioners, type ScriptStep } from './provisioners.js';
import { MOTD_TARGET } from './recognizers/moved.js';
import { planFirewall } from './recognizers/ufw.js';
import { totals, type Field as ReportField, type FileEntry, type Report } from './report.js';
import { readShell, ShellReadError } from './shell.js';
import { Refused, SourceTree } from './source.js';
import type { ImportOptions, ImportState, PersonNote } from './state.js';
import { readTemplate, textOf, TemplateReadError, type Piece, type Template } from './template.js';
import { describe, fieldText, hereDocAt, quoteState, resolver, SECRET_NAME, shq, Variables } from './values.js';
import { hasToken, redactFile, redactValue, TOKEN_PLACEHOLDER, withoutTokens } from './tokens.js';
import { foundSecrets } from './recognizers/secrets.js';

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

export async function importTemplate(req: ImportRequest): Promise<ImportResult> {
  const located = locateTemplate(req.source);
  const texts = located.files.map((f) => ({ text: fs.readFileSync(f, 'utf8'), file: path.basename(f) }));
  let tmpl: Template;
  try {
    tmpl = readTemplate(texts, located.dir);
  } catch (e) {
    if (e instanceof TemplateReadError)
      throw new MpimgError(e.message, {
        where: path.join(located.dir, e.where),
        hint: 'give a Packer template (JSON or HCL2) as Packer reads it',
      });
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
      if (!r.result)
        throw new MpimgError(
          'the import did not settle on a project (a bug of mpimg import; please report it with the template)',
          { where: templateNames[0] },
        );
      return withoutTemplateTokens(r.result);
    }
    excluded = new Map([...excluded, ...r.unmove]);
    refused = new Set([...refused, ...(r.refused ?? [])]);
  }
}

/** The result with no DigitalOcean token left in a file, the manifest or the report (each place named). */
function withoutTemplateTokens(r: ImportResult): ImportResult {
  const person: PersonNote[] = [];
  const files = new Map<string, ProjectOutput>();
  for (const [rel, f] of r.files) {
    if (f.link !== undefined) {
      if (hasToken(f.link) || hasToken(rel))
        person.push({
          where: withoutTokens(rel),
          what: 'a DigitalOcean API token is written in this link of the template: it was left out of the project; revoke the token in the control panel',
        });
      else files.set(rel, f);
      continue;
    }
    if (hasToken(rel)) {
      person.push({
        where: withoutTokens(rel),
        what: 'a DigitalOcean API token is written in this file name of the template: the file was left out of the project; revoke the token in the control panel',
      });
      continue;
    }
    const data = redactFile(rel, f.data, person);
    if (data) files.set(rel, { ...f, data });
  }
  const manifest = redactValue(r.manifest);
  if (JSON.stringify(manifest) !== JSON.stringify(r.manifest))
    person.push({
      where: 'mpimg.json',
      what: `a DigitalOcean API token was written in the template where a value of mpimg.json comes from (a variable's default): revoke it in the control panel; the import put ${TOKEN_PLACEHOLDER} in its place`,
    });
  const report = redactValue(r.report);
  report.person = [...report.person, ...person];
  return { ...r, manifest, answers: redactValue(r.answers), files, report };
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
      if (f && 'list' in f)
        for (const x of f.list) {
          const v = textOf(x);
          if (v) out.push(v.replace(/\/+$/, ''));
        }
    }
  }
  return out;
}

async function importOnce(
  req: ImportRequest,
  tmpl: Template,
  located: Located,
  tree: SourceTree,
  templateNames: string[],
  baseWhy: string,
  excluded: Map<string, PersonNote>,
  refused: Set<string>,
): Promise<{ result?: ImportResult; unmove: Map<string, PersonNote>; refused?: Set<string> }> {
  const tfile = templateNames[0];
  const person: PersonNote[] = [];
  // files left in files/ by an earlier round say why
  const info: PersonNote[] = [...excluded.values()];
  const fields: ReportField[] = [];
  const entries: FileEntry[] = [];

  const resolve = resolver(tmpl);
  const notes = { person, info, fields };
  const b = mapBuilder(tmpl, resolve, notes, tfile);
  const { builder, distro, family, dropletImage, tags } = b;
  const { version, versionMapped, slug, answers } = mapNames(req, tmpl, resolve, located.dir, b, notes, tfile);

  // application_name/version are mpimg.json's name and version: the scripts get them from there
  const special = new Map<string, string>([['application_name', 'MPIMG_NAME']]);
  if (versionMapped) special.set('application_version', 'MPIMG_VERSION');
  const vars = new Variables(tmpl, special, resolve, { person, info });
  const steps = readProvisioners(tmpl, tree, resolve, { person, info }, tfile);

  // ---- the files tree ----------------------------------------------------------------------
  const tree$ = new Map<string, { source: { rel: string } | { data: Buffer }; mode: number; origin: string }>();
  for (const s of steps) {
    if (s.kind === 'files')
      for (const e of s.entries) tree$.set(e.target, { source: e.source, mode: e.mode, origin: s.origin });
  }
  const readEntry = (e: {
    source: { rel: string } | { data: Buffer };
    mode: number;
  }): { data: Buffer; mode: number } | undefined => {
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
    options: req.options,
    family,
    ubuntu: distro.startsWith('ubuntu-'),
    packages: [],
    repositories: [],
    keyFiles: new Map(),
    services: [],
    users: [],
    directories: [],
    fileModes: new Map(),
    writtenFiles: new Map(),
    buildTexts: [],
    firewall: { limit: [], allow: [] },
    firewallMode: 'keep',
    filesAt: new Map(),
    moved: new Map(),
    motdPlaceholders: new Map(),
    refused,
    person,
    info,
  };
  for (const [t, e] of tree$) {
    state.filesAt.set(t, `files${t}`);
    state.fileModes.set(t, e.mode || 0o644);
  }

  // first-boot steps: the per-instance scripts
  const firstBoot: Array<{ target: string; rel: string; text: string; mode: number; origin: string; name: string }> =
    [];
  const perInstance = [...tree$.keys()]
    .filter((t) => t.startsWith(PER_INSTANCE) && !t.slice(PER_INSTANCE.length).includes('/') && !excluded.has(t))
    .sort();
  const fbNames = new Set<string>();
  perInstance.forEach((t) => {
    const e = tree$.get(t)!;
    const got = readEntry(e);
    if (!got) return;
    const text = got.data.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(got.data)) return;
    const base = path.posix.basename(t);
    let name =
      base
        .toLowerCase()
        .replace(/\.[a-z0-9]+$/, '')
        .replace(/^[\d_.-]+/, '')
        .replace(/[^a-z0-9_-]+/g, '-')
        .replace(/^[-_]+|[-_]+$/g, '')
        .slice(0, 30) || 'step';
    for (let k = 2; fbNames.has(name); k++) name = `${name.slice(0, 27)}-${k}`;
    fbNames.add(name);
    firstBoot.push({
      target: t,
      rel: '',
      text,
      mode: got.mode,
      origin: 'source' in e && 'rel' in e.source ? e.source.rel : e.origin,
      name,
    });
  });
  const step = firstBoot.length <= 9 ? 10 : Math.max(1, Math.floor(90 / firstBoot.length));
  firstBoot.forEach((f, i) => {
    const ext = /^#!.*\b(ba|da)?sh\b/.test(f.text) || !f.text.startsWith('#!') ? '.sh' : '';
    f.rel = `first-boot/${String(Math.min(99, 10 + i * step)).padStart(2, '0')}-${f.name}${ext}`;
    state.moved.set(f.target, f.rel);
  });
  for (const t of [...tree$.keys()].filter((x) => /^\/var\/lib\/cloud\/scripts\/(per-boot|per-once)\//.test(x))) {
    info.push({
      where: tree$.get(t)!.origin,
      what: `${t} stays in files/ (cloud-init runs it ${t.includes('per-boot') ? 'at every boot' : 'once'}; only per-instance scripts become first-boot steps)`,
    });
  }

  // the MOTD
  let motd: { target: string; text: string } | undefined;
  const motds = [...tree$.keys()].filter((t) => MOTD_TARGET.test(t) && !excluded.has(t));
  const motdPick =
    motds.find((t) => t === '/etc/update-motd.d/99-one-click') ?? motds.filter((t) => /\/99-[^/]+$/.test(t)).sort()[0];
  if (motdPick) {
    const got = readEntry(tree$.get(motdPick)!);
    if (got) {
      const r = motdText(got.data.toString('utf8'), `/etc/update-motd.d/99-${slug}`);
      if ('text' in r) {
        motd = { target: motdPick, text: r.text };
        state.moved.set(motdPick, 'motd.txt');
      } else info.push({ where: tree$.get(motdPick)!.origin, what: `${motdPick} stays in files/: ${r.why}` });
    }
    for (const t of motds.filter((x) => x !== motdPick))
      info.push({ where: tree$.get(t)!.origin, what: `${t} stays in files/ (only one MOTD becomes motd.txt)` });
  }

  // ---- scripts: the environment, then the recognizers ----------------------------------------
  const scriptInputs: Array<{
    step: ScriptStep;
    input: ScriptInput;
    header: string;
    doScript?: ReturnType<typeof classifyDoScript>;
  }> = [];
  for (const s of steps) {
    if (s.kind !== 'script') continue;
    const env = new Map<string, string | undefined>();
    const envVars = new Map<string, string>();
    const header: string[] = [];
    for (const e of s.env) {
      env.set(e.name, resolve(e.value));
      const shell = e.value
        .filter((p) => !('lit' in p && p.lit === ''))
        .map((p) => shellPiece(p, 'none', s.at))
        .filter((x) => x !== undefined);
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
    scriptInputs.push({
      step: s,
      input: { role: 'build', origin: s.origin, text, env, envVars },
      header: header.join('\n'),
      doScript,
    });
  }

  /** One template reference as shell text: the new project's variable, or the raw text with a note. */
  function shellPiece(
    p: Piece,
    q: 'none' | 'single' | 'double',
    where: string,
    env?: Map<string, string | undefined>,
  ): string | undefined {
    if ('lit' in p) return q === 'none' ? shq(p.lit) : p.lit;
    let name: string | undefined;
    if ('var' in p) name = vars.forVar(p.var, where);
    else if ('env' in p) name = vars.forEnv(p.env, where);
    else if ('timestamp' in p) return q === 'single' ? `'"$(date +%s)"'` : '"$(date +%s)"';
    else {
      person.push({
        where,
        what: `the template expression ${p.other} cannot be evaluated at import: it was left as text`,
      });
      return q === 'none' ? shq(p.other) : p.other;
    }
    if (!name) return q === 'none' ? "''" : '';
    if (env)
      env.set(
        name,
        name === 'MPIMG_NAME'
          ? resolve([{ var: 'application_name' }])
          : name === 'MPIMG_VERSION'
            ? version
            : vars.used.get(name)?.value,
      );
    return q === 'single' ? `'"\${${name}}"'` : q === 'double' ? `\${${name}}` : `"\${${name}}"`;
  }

  // inline lines take variables unquoted (Packer pasted the text: `install {{user \`apt_packages\`}}` splits)
  // In a here-document whose delimiter is quoted the shell expands nothing: the value Packer pasted
  // there goes in as text (a `${NAME}` would be written to the file as it stands).
  for (const si of scriptInputs) {
    const inline = si.step.inline;
    if (!inline) continue;
    let done = '';
    const lines = inline.body.map((t) => {
      let line = '';
      for (const p of t) {
        if ('lit' in p) line += p.lit;
        else if (hereDocAt(`${done}${line}`) === 'quoted') {
          const secret = 'var' in p && (tmpl.variables.get(p.var)?.sensitive || SECRET_NAME.test(p.var));
          const v = secret ? undefined : 'var' in p ? resolve([p]) : undefined;
          if (v !== undefined) line += v;
          else {
            line += shellPiece(p, 'double', si.step.origin, si.input.env) ?? '';
            if (!secret)
              person.push({
                where: si.step.origin,
                what: `${describe([p])} is inside a here-document with a quoted delimiter and has no value at import: the shell writes the text in its place as it stands; put the value in by hand`,
              });
          }
        } else {
          const q = quoteState(line);
          const piece = shellPiece(p, q === 'none' ? 'double' : q, si.step.origin, si.input.env);
          line += piece ?? '';
        }
      }
      done += `${line}\n`;
      return line;
    });
    si.input.text = `#!${inline.shebang.replace(/^#!/, '')}\n${lines.join('\n')}\n`;
  }

  const buildUnits = scriptInputs
    .filter((s) => !s.doScript)
    .map((s) => {
      try {
        return { origin: s.input.origin, units: readShell(s.input.text) };
      } catch (e) {
        if (e instanceof ShellReadError) return { origin: s.input.origin, units: [] };
        throw e;
      }
    });
  planFirewall(state, buildUnits);
  if (state.firewallMode === 'keep' && state.firewallWhy)
    person.push({
      where: 'firewall',
      what: `the ufw lines stay as script (${state.firewallWhy}); add "firewall" to mpimg.json by hand`,
    });

  // in template order: file steps may stop later package lines from moving, scripts are read
  const results = new Map<(typeof scriptInputs)[number], ScriptResult>();
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
  const fbResults = new Map<(typeof firstBoot)[number], ScriptResult>();
  for (const f of firstBoot) {
    fbResults.set(
      f,
      await analyzeScript(
        { role: 'first-boot', origin: f.origin, text: f.text, env: new Map(), envVars: new Map() },
        state,
      ),
    );
  }

  // ---- a kept line that names a moved file: leave that file in files/ and do it again ----------
  const unmove = new Map<string, PersonNote>();
  const keptUnitTexts: string[] = [];
  for (const r of [...results.values(), ...fbResults.values()]) {
    if (r.readError) keptUnitTexts.push(r.input.text);
    for (const u of r.units)
      if ((u.kind === 'command' || u.kind === 'compound') && (!r.hits.has(u) || r.hits.get(u)!.kept))
        keptUnitTexts.push(u.text);
  }
  for (const [target] of state.moved) {
    if (keptUnitTexts.some((t) => t.includes(target)))
      unmove.set(target, {
        where: tree$.get(target)!.origin,
        what: `${target} stays in files/: a kept build line still uses it there`,
      });
  }
  if (motd) {
    let text = motd.text;
    for (const [from, to] of state.motdPlaceholders) text = text.replaceAll(`{{${from}}}`, `{{${to}}}`);
    const knownVars = new Set(vars.used.keys());
    const unknown = [...text.matchAll(/\{\{([^{}]*)\}\}/g)]
      .map((m) => m[1])
      .filter((n) => !['ip', 'name', 'version', 'credentials'].includes(n) && !knownVars.has(n));
    if (unknown.length && !unmove.has(motd.target))
      unmove.set(motd.target, {
        where: tree$.get(motd.target)!.origin,
        what: `${motd.target} stays in files/: its text has placeholders no variable fills in (${unknown.map((n) => `{{${n}}}`).join(', ')})`,
      });
    motd.text = text;
  }
  if (unmove.size) return { unmove };

  // files/ is laid down before the build scripts: say so where the template had it the other way
  let keptBefore: string | undefined;
  for (const s of steps) {
    if (s.kind === 'script') {
      const si = scriptInputs.find((x) => x.step === s)!;
      if (results.get(si)?.keptText !== undefined) keptBefore ??= s.origin;
    } else if (keptBefore && s.entries.some((e) => !state.moved.has(e.target))) {
      info.push({
        where: s.origin,
        what: `files/ is laid down before the build scripts: these files came after ${keptBefore} in the template (a script that changes them now sees them first)`,
      });
    }
  }

  // ---- the new project's files -------------------------------------------------------------
  const files = new Map<string, ProjectOutput>();
  const kept = [...results.entries()].filter(([, r]) => r.keptText !== undefined);
  const scriptStep = kept.length <= 8 ? 10 : Math.max(1, Math.floor(89 / kept.length));
  const usedNames = new Set<string>();
  const scriptName = (si: (typeof scriptInputs)[number], n: number): string => {
    const fromFile = si.step.fileRel ? path.posix.basename(si.step.fileRel) : 'inline.sh';
    const ext =
      /\.(sh|bash)$/.exec(fromFile)?.[0] ??
      (/^#!.*\b(ba|da)?sh\b/.test(si.input.text) ? '.sh' : path.posix.extname(fromFile));
    let stem =
      fromFile
        .replace(/\.[A-Za-z0-9]+$/, '')
        .toLowerCase()
        .replace(/^[\d_.-]+/, '')
        .replace(/[^a-z0-9_-]+/g, '-')
        .replace(/^[-_]+|[-_]+$/g, '')
        .slice(0, 40) || 'script';
    const nn = String(Math.min(98, 10 + n * scriptStep)).padStart(2, '0');
    if (`${nn}-${stem}${ext}` === '90-cleanup.sh' || `${nn}-${stem}${ext}` === '99-img-check.sh')
      stem = `${stem}-steps`;
    let file = `${DEFAULTS.scriptsDir}/${nn}-${stem}${ext}`;
    for (let k = 2; usedNames.has(file); k++) file = `${DEFAULTS.scriptsDir}/${nn}-${stem}-${k}${ext}`;
    usedNames.add(file);
    return file;
  };
  const keptAs = new Map<(typeof scriptInputs)[number], string>();
  kept.forEach(([si, r], n) => {
    const rel = scriptName(si, n);
    keptAs.set(si, rel);
    let text = r.keptText!;
    const note = `# mpimg import: from ${si.step.origin}; lines marked "mpimg import" moved into mpimg.json (see IMPORT.md)`;
    const env = si.header ? `# The environment the template gave this script:\n${si.header}\n` : '';
    const nl = text.indexOf('\n');
    text = `${text.slice(0, nl + 1)}${note}\n${env}${text.slice(nl + 1)}`;
    files.set(rel, { data: Buffer.from(text), mode: 0o755 });
  });
  for (const f of firstBoot) {
    const r = fbResults.get(f)!;
    let text =
      r.keptText ??
      `${f.text.split('\n')[0].startsWith('#!') ? f.text.split('\n')[0] : '#!/bin/sh'}\n# mpimg import: everything ${f.origin} did is done by mpimg.json now\n`;
    if (!text.startsWith('#!')) {
      text = `#!/bin/sh\n${text}`;
      info.push({
        where: f.origin,
        what: 'had no #! line: #!/bin/sh was added (cloud-init runs per-instance scripts directly)',
      });
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
    files.set(
      `files${t}`,
      w.link !== undefined
        ? { data: Buffer.alloc(0), mode: 0o777, link: w.link }
        : { data: w.data!, mode: state.fileModes.get(t) ?? 0o644 },
    );
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
  // The scaffold's empty sections and its default firewall: what the template did decides them here
  // (a firewall it did not have, or not as $.firewall, would change the image or delete its rules).
  for (const k of ['variables', 'users', 'directories', 'services', 'firewall'] as const) delete m[k];
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
  if (state.firewallMode === 'map')
    m.firewall = {
      ...(state.firewall.limit.length ? { limit: state.firewall.limit } : {}),
      ...(state.firewall.allow.length ? { allow: state.firewall.allow } : {}),
    };
  if (state.credentialsFile) m.credentials = { file: state.credentialsFile };
  if (foundSecrets(state).length) m.secrets = foundSecrets(state);
  m.build = {
    packages: state.packages,
    ...(state.repositories.length ? { repositories: state.repositories.map((r) => r.repo) } : {}),
    scriptsDir: DEFAULTS.scriptsDir,
  };
  if (dropletImage) m.droplet = { ...m.droplet, image: dropletImage };
  if (tags.length) m.droplet = { ...m.droplet, tags };
  m.snapshot = { name: snapshotName(fieldText(builder.fields.snapshot_name), tmpl, special, info, builder.at) };
  const order = Object.keys(MANIFEST_SCHEMA.properties ?? {});
  const ordered = Object.fromEntries(
    Object.entries(m).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)),
  ) as Manifest & Record<string, unknown>;
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
    for (const p of problems)
      info.push({ where: p.path, what: `not taken into mpimg.json: ${p.message} (its line stays as script)` });
    return { unmove: new Map(), refused: refusedNow };
  }
  if (problems.length) {
    throw new MpimgError(
      `the import made an mpimg.json that does not validate (a bug of mpimg import; please report it with the template):\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
      { where: tfile },
    );
  }

  // ---- the report --------------------------------------------------------------------------
  if (state.packages.length)
    fields.push({ field: 'build.packages', value: state.packages.join(' '), from: 'apt install lines' });
  for (const r of state.repositories)
    fields.push({
      field: 'build.repositories',
      value: `"${r.repo.name}"`,
      from: `${r.origin}:${r.units.map((u) => u.start).join(',')}`,
    });
  if (m.firewall) fields.push({ field: 'firewall', value: JSON.stringify(m.firewall), from: 'ufw lines' });
  if (state.services.length)
    fields.push({ field: 'services', value: state.services.join(' '), from: 'systemctl enable lines' });
  if (state.loginHold)
    fields.push({
      field: 'loginHold',
      value: JSON.stringify(state.loginHold),
      from: 'the sshd_config ForceCommand "please wait"',
    });
  if (state.credentialsFile)
    fields.push({
      field: 'credentials.file',
      value: state.credentialsFile,
      from: 'the first-boot script that writes it',
    });
  for (const s of foundSecrets(state))
    fields.push({
      field: `secrets.${s.name}`,
      value: `${s.length} ${s.alphabet}`,
      from: 'the first-boot line that made it',
    });
  for (const [k, v] of vars.used)
    fields.push({ field: `variables.${k}`, value: JSON.stringify(v.value), from: v.from });
  if (motd) fields.push({ field: 'motd.file', value: 'motd.txt', from: motd.target });
  fields.push({ field: 'snapshot.name', value: m.snapshot.name!, from: `${builder.at} snapshot_name` });
  if (firstBoot.length)
    fields.push({ field: 'first-boot/', value: firstBoot.map((f) => f.rel).join(', '), from: 'per-instance scripts' });

  for (const s of steps) {
    if (s.kind === 'files') {
      const kept = s.entries.filter((e) => !state.moved.has(e.target));
      const moved = s.entries.filter((e) => state.moved.has(e.target));
      entries.push({
        origin: s.origin,
        role: 'file provisioner',
        absorbed: 0,
        kept: 0,
        became: [
          ...(kept.length
            ? [
                `files/: ${kept.length} file(s) (${[...new Set(kept.map((e) => e.target.split('/').slice(0, 3).join('/')))].join(', ')})`,
              ]
            : []),
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
        ? [
            `dropped: ${what} as published (${d.version.where}, ${d.version.date}); the package's ${d.kind === 'cleanup' ? 'cleanup' : 'check'} runs instead`,
          ]
        : d.added.length
          ? [
              `dropped: a modified copy of ${what}; the package's ${d.kind === 'cleanup' ? 'cleanup' : 'check'} runs instead`,
              'lines no DigitalOcean version has (not carried over):',
              ...d.added.map((l) => `+ ${l.line}: ${l.text}`),
            ]
          : [
              `dropped: ${what}, cut down or reordered (every line of it is DigitalOcean's, but it matches no published version); the package's ${d.kind === 'cleanup' ? 'cleanup' : 'check'} runs instead`,
            ];
      if (!d.version && d.added.length)
        person.push({
          where: s.origin,
          what: `a modified copy of ${what}: ${d.added.length} line(s) of it are not DigitalOcean's and were not carried over (listed above); if they are needed, put them into a build script (or \`mpimg add ${d.kind === 'cleanup' ? 'cleanup' : 'check'}-script\` to own the whole ${d.kind})`,
        });
      entries.push({
        origin: s.origin,
        role: d.kind === 'cleanup' ? 'cleanup script' : 'image check script',
        became,
        absorbed: lines,
        kept: 0,
      });
      continue;
    }
    const r = results.get(si)!;
    const became = dedupe([...r.hits.values()].map((h) => h.became));
    if (s.shebangAdded && r.keptText) became.push('#!/bin/sh added (the script had none)');
    entries.push({
      origin: s.origin,
      role: s.role,
      became,
      keptAs: keptAs.get(si),
      absorbed: r.absorbed,
      kept: r.kept,
    });
  }
  for (const f of firstBoot) {
    const r = fbResults.get(f)!;
    entries.push({
      origin: f.origin,
      role: `per-instance script ${f.target}`,
      became: dedupe([`first-boot step ${f.rel}`, ...[...r.hits.values()].map((h) => h.became)]),
      keptAs: f.rel,
      absorbed: r.absorbed,
      kept: r.kept,
    });
  }
  if (motd)
    entries.push({
      origin: tree$.get(motd.target)!.origin,
      role: `MOTD script ${motd.target}`,
      became: [`motd.txt${motd.text.includes('{{ip}}') ? " ({{ip}} where it printed the droplet's address)" : ''}`],
      keptAs: 'motd.txt',
      absorbed: 0,
      kept: 0,
    });

  const report: Report = {
    template: templateNames,
    base: tree.base,
    baseWhy,
    fields,
    files: entries,
    person: dedupeNotes(person),
    info: dedupeNotes(info),
    totals: totals(entries),
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
