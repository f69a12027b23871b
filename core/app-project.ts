/**
 * The image project generator itself, free of any framework: `mpimg new` and `mpimg upgrade` run it
 * directly, `yo mpimg` through a thin Yeoman wrapper (generators/app). It asks the questions of
 * options.ts (each also an option), checks the answers against the manifest rules, stores them in
 * .yo-rc.json and writes the project listed in files.ts, all in one commit at the end.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { validateManifest } from '../runtime/manifest.js';
import { MpimgError } from './errors.js';
import type { Answers } from './options.js';
import { answerWarnings, coerce, formatAnswerProblems, validateAnswers, validateOne } from './answers.js';
import { knownAnswers, missingSpecs, withDefaults } from './resolve.js';
import { GENERATED_FILES, PROJECT_FILES } from './files.js';
import {
  answersFromManifest,
  manifestFromAnswers,
  mergeAnswers,
  mergePackageJson,
  packageJsonFor,
  packageSpecProblem,
  templateContext,
  toJson,
} from './project.js';
import { generatorVersion } from './paths.js';
import { packageSource, VENDOR_DIR } from './package-source.js';
import { legacyRecord, RETIRED } from './legacy.js';
import { parseProjectManifest, readManifestText } from './manifest-file.js';
import { ProjectFs } from './project-fs.js';
import type { Prompter } from './questions.js';
import { editJson } from './json-edit.js';
import { ProjectWriter, RECORD_KEY, sha256, type Retired } from './write.js';

export interface AppOptions {
  /** Answers by option name (`first-login` or `firstLogin`), as the command line gives them. */
  [option: string]: unknown;
  yes?: boolean;
  /** Overwrite edited files: all (true) or these project paths. */
  force?: boolean | ReadonlySet<string>;
  /** npm spec of generator-mpimg for the project's package.json, or a local .tgz or clone (lib/package-source.ts). */
  package?: string;
  /** Where a relative --package path starts (default: the process's folder). */
  cwd?: string;
  /** No terminal: a missing answer fails naming its option instead of being asked. */
  nonInteractive?: boolean;
}

export class AppProject {
  readonly fs: ProjectFs;
  answers!: Answers;
  writer!: ProjectWriter;
  /** Files an earlier release generated and this one does not: removed (unedited) or kept (edited). */
  retired: Retired[] = [];
  /** Answers taken that DigitalOcean is not known to offer (a newer distribution, an odd region). */
  warnings: string[] = [];
  /** Answers known before asking: options, then the existing mpimg.json, then .yo-rc.json. */
  private known: Partial<Answers> = {};
  /** Answers given on this run (options and prompts): only these change an existing mpimg.json. */
  private given: Partial<Answers> = {};
  /** The project's mpimg.json as the vendor has it, when there is one. */
  private existing?: { raw: Record<string, unknown>; text: string };

  constructor(
    readonly dir: string,
    private readonly opts: AppOptions,
  ) {
    this.fs = new ProjectFs(dir);
  }

  private get folderName(): string {
    return basename(this.dir);
  }

  /** Reads what the project already holds. */
  initialize(): void {
    const stored = this.fs.config.getAll();
    const fromOptions = knownAnswers(this.opts, {});
    let fromManifest: Partial<Answers> = {};
    const file = this.fs.path(GENERATED_FILES.manifest);
    if (existsSync(file)) {
      const text = readManifestText(file);
      const { raw, manifest } = parseProjectManifest(text, file);
      this.existing = { raw, text };
      fromManifest = answersFromManifest(manifest);
    }
    this.given = { ...fromOptions };
    this.known = { ...knownAnswers({}, stored), ...fromManifest, ...fromOptions };
  }

  /** Asks what is still missing (unless --yes), then checks every answer. */
  async ask(prompt?: Prompter): Promise<void> {
    const missing = missingSpecs(this.known);
    if (missing.length > 0 && !this.opts.yes) {
      if (this.opts.nonInteractive || !prompt) {
        throw new MpimgError(
          `no terminal to ask on, and these answers are missing: ${missing.map((s) => `--${s.option}`).join(', ')}`,
          {
            where: 'command-line options',
            hint: `pass ${missing.map((s) => `--${s.option}`).join(' ')}, or --yes to take the defaults (see --help)`,
          },
        );
      }
      const known = this.known;
      const folderName = this.folderName;
      const current = (answers: Record<string, unknown>): Partial<Answers> => {
        const merged: Record<string, unknown> = { ...known };
        for (const m of missing) if (answers[m.key] !== undefined) merged[m.key] = coerce(m, answers[m.key]);
        return merged as Partial<Answers>;
      };
      const given = await prompt(
        missing.map((s) => ({
          type: s.prompt,
          name: s.key,
          message: s.message,
          choices: s.choices?.map((c) => ({ ...c })),
          default: (answers: Record<string, unknown>) => {
            const d = s.default({ answers: current(answers), folderName });
            return Array.isArray(d) ? d.join(',') : d;
          },
          validate: (value: unknown, answers?: Record<string, unknown>) =>
            validateOne(s.key, value, current(answers ?? {})),
        })),
      );
      for (const s of missing) {
        const v = coerce(s, given[s.key]);
        if (v !== undefined) {
          (this.known as Record<string, unknown>)[s.key] = v;
          (this.given as Record<string, unknown>)[s.key] = v;
        }
      }
    }
    this.answers = withDefaults(this.known, this.folderName);
    const problems = validateAnswers(this.answers);
    const spec = this.opts.package;
    const specWhy = spec === undefined ? undefined : packageSpecProblem(spec);
    if (specWhy) problems.push({ option: 'package', message: `bad --package ${JSON.stringify(spec)}`, fix: specWhy });
    if (this.existing && problems.length === 0) {
      const merged = validateManifest(mergeAnswers(this.existing.raw, this.given));
      for (const p of merged.problems) problems.push({ option: p.path, message: p.message, fix: p.hint });
    }
    if (problems.length === 0) this.warnings = answerWarnings(this.answers);
    if (problems.length) {
      throw new MpimgError(`invalid answer${problems.length === 1 ? '' : 's'}:\n${formatAnswerProblems(problems)}`, {
        where: problems.map((p) => (p.option.startsWith('$') ? p.option : `--${p.option}`)).join(', '),
        hint: 'correct the values above and run again; nothing was written',
      });
    }
  }

  /** Decides every file (nothing reaches the disk before commit()). */
  write(): void {
    // Stored so that a re-run asks nothing already answered (mpimg.json, once there, wins over them).
    this.fs.config.set({ ...this.answers });
    const stored = (this.fs.config.get(RECORD_KEY) as Record<string, string> | undefined) ?? {};
    const ctx = templateContext(this.answers);
    // A project from before hashes were recorded: its files that still hold what that release
    // generated (with the answers it was generated with) count as unedited.
    const asGenerated = templateContext(withDefaults(knownAnswers({}, this.fs.config.getAll()), this.folderName));
    const legacy = legacyRecord(this.dir, asGenerated);
    const previous = { ...Object.fromEntries(Object.entries(legacy).filter(([k]) => !(k in stored))), ...stored };
    this.writer = new ProjectWriter(this.fs, this.opts.force ?? false, previous);

    // Files this release no longer generates: gone when unedited, kept (and reported) when edited.
    // An edited mpimgfile.mjs of an old release is kept, and it still reads the scripts it ran:
    // those stay until it is replaced, so its tasks keep working.
    const keptEdited = (rel: string) => {
      const file = PROJECT_FILES.find((f) => f.dest(ctx) === rel);
      return file !== undefined && (!file.when || file.when(ctx)) && this.writer.keepsEdited(file, ctx);
    };
    const removed = new Set<string>();
    for (const r of RETIRED(ctx)) {
      const have = this.fs.read(r.rel);
      if (have === undefined) continue;
      const unedited = previous[r.rel] !== undefined && sha256(have) === previous[r.rel];
      if (unedited && r.usedBy && keptEdited(r.usedBy))
        this.retired.push({ path: r.rel, why: r.why, removed: false, usedBy: r.usedBy });
      else if (unedited) {
        removed.add(r.rel);
        this.fs.delete(r.rel);
        this.retired.push({ path: r.rel, why: r.why, removed: true });
        delete this.writer.record[r.rel];
      } else this.retired.push({ path: r.rel, why: r.why, removed: false });
    }

    // mpimg.json and package.json are the vendor's own files: a re-run changes only what it was
    // given, and only those keys of their text.
    const manifest = this.existing ? mergeAnswers(this.existing.raw, this.given) : manifestFromAnswers(this.answers);
    for (const k of ['cleanup', 'check'] as const) {
      const sec = manifest[k] as Record<string, unknown> | undefined;
      if (sec && typeof sec.script === 'string' && removed.has(sec.script)) {
        delete sec.script;
        if (Object.keys(sec).length === 0) delete manifest[k];
      }
    }
    this.writeOwned(GENERATED_FILES.manifest, manifest as Record<string, unknown>);
    const pkgText = this.fs.read(GENERATED_FILES.packageJson)?.toString('utf8');
    const source = packageSource(this.opts.package, this.opts.cwd ?? process.cwd(), pkgText === undefined);
    const spec = source?.spec;
    const old = pkgText !== undefined ? (JSON.parse(pkgText) as Record<string, any>) : undefined;
    const pkg =
      old !== undefined
        ? mergePackageJson(old, this.answers, generatorVersion(), spec)
        : packageJsonFor(this.answers, generatorVersion(), spec);
    if (source?.tarball) {
      const have = this.fs.read(source.tarball.rel);
      this.writer.results.push({
        path: source.tarball.rel,
        status: have === undefined ? 'create' : have.equals(source.tarball.data) ? 'identical' : 'update',
      });
      if (!have?.equals(source.tarball.data)) this.fs.write(source.tarball.rel, source.tarball.data, 0o644);
      // the copy it replaces (vendor/generator-mpimg-<older>.tgz) goes
      const before = String(old?.devDependencies?.['generator-mpimg'] ?? old?.dependencies?.['generator-mpimg'] ?? '');
      const oldRel = before.startsWith(`file:${VENDOR_DIR}/`) ? before.slice('file:'.length) : undefined;
      if (
        oldRel &&
        oldRel !== source.tarball.rel &&
        /^vendor\/generator-mpimg-[^/]+\.tgz$/.test(oldRel) &&
        this.fs.exists(oldRel)
      )
        this.fs.delete(oldRel);
    }
    this.writeOwned(GENERATED_FILES.packageJson, pkg);
    for (const file of PROJECT_FILES) {
      if (file.when && !file.when(ctx)) continue;
      // Asked for on this very run (e.g. --first-login): a file deleted earlier comes back.
      const wanted = file.wantedBy ? this.given[file.wantedBy] === true : false;
      this.writer.writeTemplate(file, ctx, { wanted });
    }
    this.fs.config.set(RECORD_KEY, this.writer.record);
  }

  /** A file of the vendor's once it exists: only its changed keys are written, byte-identical otherwise. */
  private writeOwned(rel: string, value: Record<string, unknown>): void {
    const have = this.fs.read(rel)?.toString('utf8');
    let text: string;
    try {
      text = have === undefined ? toJson(value) : editJson(have, value);
    } catch {
      text = toJson(value); // not JSON we can edit in place (it parsed, so this is an odd layout): pretty
    }
    const same = have === text;
    this.writer.results.push({ path: rel, status: same ? 'identical' : have !== undefined ? 'update' : 'create' });
    if (!same) this.fs.write(rel, text, 0o644);
  }

  /** Writes the files (each atomically), then the record. */
  commit(): string[] {
    return this.fs.commit();
  }

  /** The whole run: read, ask, decide, write. */
  async run(prompt?: Prompter): Promise<this> {
    this.initialize();
    await this.ask(prompt);
    this.write();
    this.commit();
    return this;
  }
}
