/**
 * Reads an image project: mpimg.json (validated by the one schema in runtime/manifest.ts) plus the
 * conventional folders, and checks what only the file system can tell (missing files, shebangs,
 * duplicate numbers, symlinks). Every problem is collected before anything is reported.
 */
import * as fs from 'node:fs';
import { closest as nearest } from '../../runtime/schema.js';
import * as path from 'node:path';
import {
  CONTROL_RE,
  DEFAULTS,
  FIRST_BOOT_FILE_RE,
  formatProblems,
  unsafeRelativePath,
  type Manifest,
  type Problem,
} from '../../runtime/manifest.js';
import { buildVariables } from './variables.js';
import { declaredMode, templateProblems } from './first-boot-prepare.js';
import { MpimgError } from '../../core/errors.js';
import { readManifest } from '../../core/manifest-file.js';
import { MOTD_PLACEHOLDERS } from '../../core/motd-placeholders.js';
import { checkScriptOf, cleanupScriptOf, type DropletScript } from './droplet-scripts.js';
import { syntaxProblems } from './script-check.js';
import { PLACEHOLDER_NAMES, scriptsDirEntry, STEP_NAME_RE } from './scripts-dir.js';
import { fileAt, namesIn, outsideProblem, walkFiles, type ProjectFile, type ProjectLink } from './project-paths.js';

export type { ProjectFile, ProjectLink } from './project-paths.js';

export interface FirstBootScript extends ProjectFile {
  order: number;
  name: string;
  /** Seconds after which the step is stopped on the droplet. */
  timeoutS: number;
}

export interface Project {
  dir: string;
  manifest: Manifest;
  firstBoot: FirstBootScript[];
  firstLogin?: ProjectFile;
  motd?: ProjectFile;
  /** The MOTD text shown once the first-login setup has finished ($.motd.afterFirstLogin). */
  motdAfter?: ProjectFile;
  /** The variables of mpimg.json with this build's values (defaults, MPIMG_VAR_<NAME>, --var). */
  variables: Record<string, string>;
  /** The values given for this build (recorded in dist/<slug>-build.sh, so `validate` can rebuild the same). */
  overrides: Record<string, string>;
  /** Files mirrored onto `/`: `target` is the droplet path. */
  files: Array<ProjectFile & { target: string }>;
  /** Symbolic links in files/, in the same tree order. */
  links: ProjectLink[];
  /** Numbered build steps run on the build droplet, in order (cleanup and check excluded). */
  buildScripts: ProjectFile[];
  /** The cleanup and check the bundle embeds: the project's customised copies, else the package's. */
  cleanupScript: ProjectFile;
  checkScript: ProjectFile;
  /** Every shell script of the project that runs on a droplet (first boot, first login, build, cleanup, check). */
  scripts: ProjectFile[];
}

function shebangProblem(abs: string, rel: string, out: Problem[]): void {
  const head = fs.readFileSync(abs).subarray(0, 2).toString('latin1');
  if (head !== '#!')
    out.push({ path: rel, message: 'script has no shebang line', hint: 'start it with #!/bin/sh or #!/bin/bash' });
}

function crProblem(abs: string, rel: string, out: Problem[]): void {
  if (fs.readFileSync(abs).includes(13))
    out.push({
      path: rel,
      message: 'file has CR (Windows) line endings',
      hint: 'convert it to LF (e.g. `sed -i "s/\\r$//" FILE`; .gitattributes `* text eol=lf`)',
    });
}

export interface LoadOptions {
  /** $.variables given for this build (`mpimg bundle --var`, MPIMG_VAR_<NAME>: see variableOverrides). */
  overrides?: Record<string, string>;
}

/** Shell scripts need a shebang and LF line endings. */
function scriptProblems(f: ProjectFile, out: Problem[]): void {
  shebangProblem(f.abs, f.rel, out);
  crProblem(f.abs, f.rel, out);
}

/** First-boot steps: the manifest's list, else every NN-name file of the folder; in order. */
function readFirstBoot(dir: string, manifest: Manifest, out: Problem[]): FirstBootScript[] {
  const firstBoot: FirstBootScript[] = [];
  const defaultTimeout = manifest.firstBootTimeoutMinutes ?? DEFAULTS.firstBootTimeoutMinutes;
  if (manifest.firstBoot) {
    manifest.firstBoot.forEach((e, i) => {
      const f = fileAt(dir, e.file, `$.firstBoot[${i}].file`, out);
      if (f)
        firstBoot.push({ ...f, order: e.order, name: e.name, timeoutS: 60 * (e.timeoutMinutes ?? defaultTimeout) });
    });
  } else if (fs.existsSync(path.join(dir, DEFAULTS.firstBootDir)) && !outsideProblem(dir, DEFAULTS.firstBootDir, out)) {
    const seen = new Map<number, string>();
    for (const name of namesIn(dir, DEFAULTS.firstBootDir, out)) {
      if (PLACEHOLDER_NAMES.has(name)) continue;
      const rel = `${DEFAULTS.firstBootDir}/${name}`;
      const m = FIRST_BOOT_FILE_RE.exec(name);
      if (!m) {
        out.push({
          path: rel,
          message: 'first-boot file name is not NN-name (e.g. 10-setup.sh)',
          hint: 'rename it: two digits, a dash, lower-case name; the number sets the order',
        });
        continue;
      }
      const order = Number(m[1]);
      if (seen.has(order)) {
        out.push({
          path: rel,
          message: `duplicate order number ${m[1]} (also ${seen.get(order)})`,
          hint: 'give each first-boot script its own number',
        });
        continue;
      }
      seen.set(order, rel);
      const f = fileAt(dir, rel, rel, out);
      if (f) firstBoot.push({ ...f, order, name: m[2], timeoutS: 60 * defaultTimeout });
    }
  }
  firstBoot.sort((a, b) => a.order - b.order);
  for (const s of firstBoot) scriptProblems(s, out);
  return firstBoot;
}

/**
 * The first-login script: $.firstLogin.file, else the conventional file when there is one ($.firstLogin false: none).
 */
function readFirstLogin(dir: string, manifest: Manifest, out: Problem[]): ProjectFile | undefined {
  let firstLogin: ProjectFile | undefined;
  if (manifest.firstLogin) firstLogin = fileAt(dir, manifest.firstLogin.file, '$.firstLogin.file', out);
  else if (manifest.firstLogin === undefined && fs.existsSync(path.join(dir, DEFAULTS.firstLoginFile))) {
    firstLogin = fileAt(dir, DEFAULTS.firstLoginFile, DEFAULTS.firstLoginFile, out);
  }
  if (firstLogin) scriptProblems(firstLogin, out);
  return firstLogin;
}

/** The MOTD texts (before and after the first login), their placeholders checked against what fills them in. */
function readMotd(
  dir: string,
  manifest: Manifest,
  variables: Record<string, string>,
  out: Problem[],
): { motd?: ProjectFile; motdAfter?: ProjectFile } {
  let motd: ProjectFile | undefined;
  if (manifest.motd) motd = fileAt(dir, manifest.motd.file, '$.motd.file', out);
  else if (manifest.motd === undefined && fs.existsSync(path.join(dir, DEFAULTS.motdFile)))
    motd = fileAt(dir, DEFAULTS.motdFile, DEFAULTS.motdFile, out);
  const motdAfter = manifest.motd?.afterFirstLogin
    ? fileAt(dir, manifest.motd.afterFirstLogin, '$.motd.afterFirstLogin', out)
    : undefined;
  const known = Object.keys(manifest.variables ?? {});
  // A placeholder nothing fills in would reach customers as "{{NAME}}": name the line. A CR would
  // reach their terminal too (the MOTD script prints the text as it is).
  for (const f of [motd, motdAfter]) {
    if (!f) continue;
    crProblem(f.abs, f.rel, out);
    fs.readFileSync(f.abs, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(/\{\{([^{}]*)\}\}/g)) {
          if (!MOTD_PLACEHOLDERS.includes(m[1]) && !(m[1] in variables)) {
            const near = nearest(m[1], [...MOTD_PLACEHOLDERS, ...known]);
            out.push({
              path: `${f.rel}:${i + 1}`,
              message: `unknown placeholder {{${m[1]}}}`,
              hint: `${near ? `did you mean {{${near}}}? ` : ''}use ${MOTD_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')} or a variable of $.variables${known.length ? ` (${known.map((k) => `{{${k}}}`).join(', ')})` : ''}`,
            });
          }
        }
      });
  }
  return { motd, motdAfter };
}

/** files/ (or $.files.dir): what is mirrored onto `/`. */
function readFiles(dir: string, manifest: Manifest, out: Problem[]): { files: Project['files']; links: ProjectLink[] } {
  const files: Project['files'] = [];
  const links: ProjectLink[] = [];
  const filesDir = manifest.files?.dir ?? DEFAULTS.filesDir;
  if (fs.existsSync(path.join(dir, filesDir))) {
    if (!outsideProblem(dir, filesDir, out)) walkFiles(dir, filesDir, out, files, links);
    // The mode of $.files.owners replaces the checked-out one (git keeps only 0644 and 0755): the
    // plan, both installers, status and first boot's templates all read it from here.
    for (const f of files) f.mode = declaredMode(manifest, f.target) ?? f.mode;
  } else if (manifest.files)
    out.push({
      path: '$.files.dir',
      message: `missing folder ${filesDir}`,
      hint: `create ${filesDir}/ or remove "files"`,
    });
  return { files, links };
}

/**
 * The numbered build scripts of the scripts folder, in order: the one rule of tasks/bundle/scripts-dir.ts
 * (placeholders and the cleanup and check, whatever their names, are no build steps).
 */
function readBuildScripts(dir: string, manifest: Manifest, scriptsDir: string, out: Problem[]): ProjectFile[] {
  const buildScripts: ProjectFile[] = [];
  if (!fs.existsSync(path.join(dir, scriptsDir)) || outsideProblem(dir, scriptsDir, out)) return buildScripts;
  const seen = new Map<string, string>();
  for (const name of namesIn(dir, scriptsDir, out)) {
    const kind = scriptsDirEntry(manifest, name);
    if (kind === 'placeholder' || kind === 'droplet-script') continue;
    const rel = `${scriptsDir}/${name}`;
    const m = STEP_NAME_RE.exec(name);
    if (kind === 'misnamed' || !m) {
      out.push({
        path: rel,
        message: 'build script name does not start with a two-digit number',
        hint: 'rename it NN-name.sh; the number sets the order',
      });
      continue;
    }
    const ctl = CONTROL_RE.exec(name);
    if (ctl) {
      // The Packer template uploads it under its own name (scp): a line break would end the name.
      out.push({
        path: JSON.stringify(rel),
        message: `build script name holds a control or line-separator character (U+${ctl[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`,
        hint: 'rename it: build script names are one line of printable text',
      });
      continue;
    }
    if (seen.has(m[1])) {
      out.push({
        path: rel,
        message: `duplicate order number ${m[1]} (also ${seen.get(m[1])})`,
        hint: 'give each build script its own number',
      });
      continue;
    }
    seen.set(m[1], rel);
    const f = fileAt(dir, rel, rel, out);
    if (f) {
      scriptProblems(f, out);
      buildScripts.push(f);
    }
  }
  return buildScripts;
}

export function loadProject(dir: string, opts: LoadOptions = {}): Project {
  const file = path.join(dir, 'mpimg.json');
  const manifest = readManifest(dir);
  const out: Problem[] = [];

  // $.variables: the defaults, or this build's values. Resolved once, here: the MOTD, the helper
  // library, the payload, the build script and the Packer template all read project.variables.
  const overrides = opts.overrides ?? {};
  const variables = buildVariables(manifest, overrides);

  const firstBoot = readFirstBoot(dir, manifest, out);
  const firstLogin = readFirstLogin(dir, manifest, out);
  const { motd, motdAfter } = readMotd(dir, manifest, variables, out);
  const { files, links } = readFiles(dir, manifest, out);
  templateProblems(manifest, files, variables, out);

  // The package's cleanup and check, unless the project has customised copies of them.
  const scriptOf = (s: DropletScript, at: string): ProjectFile | undefined =>
    s.custom ? fileAt(dir, s.rel, at, out) : { rel: s.rel, abs: s.abs, mode: fs.statSync(s.abs).mode & 0o7777 };
  const cleanupChoice = cleanupScriptOf(dir, manifest);
  const checkChoice = checkScriptOf(dir, manifest);
  const cleanupScript = scriptOf(cleanupChoice, manifest.cleanup?.script ? '$.cleanup.script' : cleanupChoice.rel);
  const checkScript = scriptOf(checkChoice, manifest.check?.script ? '$.check.script' : checkChoice.rel);

  const scriptsDir = manifest.build?.scriptsDir ?? DEFAULTS.scriptsDir;
  const buildScripts = readBuildScripts(dir, manifest, scriptsDir, out);
  // The vendor's own copies of cleanup and check (the package's are tested with the package).
  const ownCopies = (
    [
      [cleanupScript, cleanupChoice],
      [checkScript, checkChoice],
    ] as const
  )
    .filter(([f, c]) => f && c.custom)
    .map(([f]) => f!);
  for (const f of ownCopies) scriptProblems(f, out);

  for (const p of [manifest.files?.dir ?? DEFAULTS.filesDir, scriptsDir]) {
    const why = unsafeRelativePath(p);
    if (why) out.push({ path: p, message: `unsafe path: ${why}`, hint: 'use a folder inside the project' });
  }

  const scripts = [...firstBoot, ...(firstLogin ? [firstLogin] : []), ...buildScripts, ...ownCopies];
  syntaxProblems(scripts, out);
  if (out.length)
    throw new MpimgError(formatProblems(out, file), { hint: 'fix the problems above and run again', problems: out });
  return {
    dir,
    manifest,
    firstBoot,
    firstLogin,
    motd,
    motdAfter,
    variables,
    overrides,
    files,
    links,
    buildScripts,
    cleanupScript: cleanupScript!,
    checkScript: checkScript!,
    scripts,
  };
}
