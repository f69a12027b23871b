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
import type { Manifest } from '../../runtime/manifest.js';
import type { Answers } from '../../core/options.js';
import { MpimgError } from '../../core/errors.js';
import { analyzeScript, type ScriptResult } from './analyze.js';
import { mapBuilder, mapNames, type BuilderMapping } from './builder.js';
import { entryReader, filesTree, takeFirstBoot, takeMotd, type FilesTree, type FirstBootScript } from './layout.js';
import { chooseBase, locateTemplate, type Located } from './locate.js';
import { newManifest } from './new-manifest.js';
import { projectFiles, type ProjectOutput } from './project-files.js';
import { readProvisioners, type Step } from './provisioners.js';
import { planFirewall } from './recognizers/ufw.js';
import { totals, type Field as ReportField, type Report } from './report.js';
import { fileEntries, reportFields, type ReportInput } from './report-entries.js';
import { scriptInputs, type ScriptInfo } from './script-inputs.js';
import { readShell, ShellReadError } from './shell.js';
import { SourceTree } from './source.js';
import type { ImportOptions, ImportState, PersonNote } from './state.js';
import { readTemplate, textOf, TemplateReadError, type Template } from './template.js';
import { resolver, Variables } from './values.js';
import { hasToken, redactFile, redactValue, TOKEN_PLACEHOLDER, withoutTokens } from './tokens.js';

export type { ProjectOutput } from './project-files.js';

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

export interface ImportResult {
  manifest: Manifest;
  /** What the scaffolder is asked for (mpimg.json then gets the rest of the mapping). */
  answers: Answers;
  /** Files of the new project besides what the scaffolder writes: project path → bytes and mode. */
  files: Map<string, ProjectOutput>;
  report: Report;
}

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

/** One round of the import: the whole mapping, or what to take back before the next round. */
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

  const resolve = resolver(tmpl);
  const notes = { person, info, fields };
  const mapping = mapBuilder(tmpl, resolve, notes, tfile);
  const { version, versionMapped, slug, answers } = mapNames(req, tmpl, resolve, located.dir, mapping, notes, tfile);

  // application_name/version are mpimg.json's name and version: the scripts get them from there
  const special = new Map<string, string>([['application_name', 'MPIMG_NAME']]);
  if (versionMapped) special.set('application_version', 'MPIMG_VERSION');
  const vars = new Variables(tmpl, special, resolve, { person, info });
  const steps = readProvisioners(tmpl, tree, resolve, { person, info }, tfile);

  const files = filesTree(steps, info);
  const read = entryReader(tree, person);
  const state = newState(req, mapping, refused, vars, { person, info });
  for (const [t, e] of files) {
    state.filesAt.set(t, `files${t}`);
    state.fileModes.set(t, e.mode || 0o644);
  }
  const firstBoot = takeFirstBoot(files, read, excluded, state);
  const motd = takeMotd(files, read, excluded, slug, state);
  const scripts = scriptInputs(steps, { tmpl, vars, resolve, version, person });
  decideFirewall(scripts, state);
  const { results, fbResults } = await analyzeAll(steps, scripts, firstBoot, state);

  const unmove = stillNamed(results, fbResults, state, files);
  if (motd) motdPlaceholders(motd, state, vars, files, unmove);
  if (unmove.size) return { unmove };
  noteFilesFirst(steps, scripts, results, state);

  const out = projectFiles({ results, firstBoot, fbResults, motd, tree: files, read, state });
  pruneVariables(vars, [...out.kept.map(([si, r]) => `${si.header}\n${r.keptText}`), motd?.text ?? '']);
  const made = newManifest({
    answers,
    version,
    mapping,
    motd,
    hasFiles: [...out.files.keys()].some((f) => f.startsWith('files/')),
    state,
    vars,
    tmpl,
    special,
    tfile,
  });
  if ('refused' in made) return { unmove: new Map(), refused: made.refused };

  const report = importReport(
    {
      manifest: made.manifest,
      state,
      vars,
      motd,
      builderAt: mapping.builder.at,
      steps,
      scripts,
      results,
      keptAs: out.keptAs,
      firstBoot,
      fbResults,
      tree: files,
    },
    { template: templateNames, base: tree.base, baseWhy, fields },
  );
  return { result: { manifest: made.manifest, answers, files: out.files, report }, unmove };
}

/** Variables only for what is still used: a kept script's environment or lines, the MOTD. */
function pruneVariables(vars: Variables, keptTexts: string[]): void {
  for (const n of [...vars.used.keys()]) {
    if (!keptTexts.some((t) => t.includes(`\${${n}}`) || t.includes(`{{${n}}}`))) vars.used.delete(n);
  }
}

/** The report: the fields the builder mapping noted first, then the rest; every note once. */
function importReport(input: ReportInput, head: Pick<Report, 'template' | 'base' | 'baseWhy' | 'fields'>): Report {
  const fields = [...head.fields, ...reportFields(input)];
  const entries = fileEntries(input);
  return {
    ...head,
    fields,
    files: entries,
    person: dedupeNotes(input.state.person),
    info: dedupeNotes(input.state.info),
    totals: totals(entries),
  };
}

/** The state the recognizers share, empty but for what the builder and earlier rounds decided. */
function newState(
  req: ImportRequest,
  mapping: BuilderMapping,
  refused: Set<string>,
  vars: Variables,
  { person, info }: { person: PersonNote[]; info: PersonNote[] },
): ImportState {
  return {
    options: req.options,
    family: mapping.family,
    ubuntu: mapping.distro.startsWith('ubuntu-'),
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
    secrets: [],
    variables: vars.used,
    firstBootTexts: [],
    person,
    info,
  };
}

/** Whether every ufw line of the build scripts maps onto $.firewall (read before any recognizer runs). */
function decideFirewall(scripts: ScriptInfo[], state: ImportState): void {
  const buildUnits = scripts
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
    state.person.push({
      where: 'firewall',
      what: `the ufw lines stay as script (${state.firewallWhy}); add "firewall" to mpimg.json by hand`,
    });
}

/** The recognizers over every build script in template order, then over the first-boot steps. */
async function analyzeAll(
  steps: Step[],
  scripts: ScriptInfo[],
  firstBoot: FirstBootScript[],
  state: ImportState,
): Promise<{ results: Map<ScriptInfo, ScriptResult>; fbResults: Map<FirstBootScript, ScriptResult> }> {
  // in template order: file steps may stop later package lines from moving, scripts are read
  const results = new Map<ScriptInfo, ScriptResult>();
  for (const s of steps) {
    if (s.kind === 'files') {
      const apt = s.entries.find((e) => APT_FILES.test(e.target));
      if (apt && !state.aptBarrier) state.aptBarrier = `${s.origin} (${apt.target})`;
      continue;
    }
    const si = scripts.find((x) => x.step === s)!;
    if (si.doScript) continue;
    results.set(si, await analyzeScript(si.input, state));
  }
  const fbResults = new Map<FirstBootScript, ScriptResult>();
  state.firstBootTexts = firstBoot.map((f) => f.text);
  for (const f of firstBoot) {
    fbResults.set(
      f,
      await analyzeScript(
        { role: 'first-boot', origin: f.origin, text: f.text, env: new Map(), envVars: new Map() },
        state,
      ),
    );
  }
  return { results, fbResults };
}

/** A kept line that names a moved file: that file stays in files/ (the next round leaves it there). */
function stillNamed(
  results: Map<ScriptInfo, ScriptResult>,
  fbResults: Map<FirstBootScript, ScriptResult>,
  state: ImportState,
  files: FilesTree,
): Map<string, PersonNote> {
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
        where: files.get(target)!.origin,
        what: `${target} stays in files/: a kept build line still uses it there`,
      });
  }
  return unmove;
}

/** The MOTD's placeholders renamed to the variables that fill them; one nothing fills keeps it in files/. */
function motdPlaceholders(
  motd: { target: string; text: string },
  state: ImportState,
  vars: Variables,
  files: FilesTree,
  unmove: Map<string, PersonNote>,
): void {
  let text = motd.text;
  for (const [from, to] of state.motdPlaceholders) text = text.replaceAll(`{{${from}}}`, `{{${to}}}`);
  const knownVars = new Set(vars.used.keys());
  const unknown = [...text.matchAll(/\{\{([^{}]*)\}\}/g)]
    .map((m) => m[1])
    .filter((n) => !['ip', 'name', 'version', 'credentials'].includes(n) && !knownVars.has(n));
  if (unknown.length && !unmove.has(motd.target))
    unmove.set(motd.target, {
      where: files.get(motd.target)!.origin,
      what: `${motd.target} stays in files/: its text has placeholders no variable fills in (${unknown.map((n) => `{{${n}}}`).join(', ')})`,
    });
  motd.text = text;
}

/** files/ is laid down before the build scripts: say so where the template had it the other way. */
function noteFilesFirst(
  steps: Step[],
  scripts: ScriptInfo[],
  results: Map<ScriptInfo, ScriptResult>,
  state: ImportState,
): void {
  let keptBefore: string | undefined;
  for (const s of steps) {
    if (s.kind === 'script') {
      const si = scripts.find((x) => x.step === s)!;
      if (results.get(si)?.keptText !== undefined) keptBefore ??= s.origin;
    } else if (keptBefore && s.entries.some((e) => !state.moved.has(e.target))) {
      state.info.push({
        where: s.origin,
        what: `files/ is laid down before the build scripts: these files came after ${keptBefore} in the template (a script that changes them now sees them first)`,
      });
    }
  }
}

const dedupeNotes = (xs: PersonNote[]): PersonNote[] => {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const k = `${x.where}\u0000${x.what}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
};
