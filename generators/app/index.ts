/**
 * `yo mpimg` / `mpimg new`: asks the questions of lib/options.ts (each also an option), checks the
 * answers against the manifest rules, stores them in .yo-rc.json and writes the image project
 * listed in lib/files.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import Generator from 'yeoman-generator';
import { validateManifest } from '../../runtime/manifest.js';
import { MpimgError } from '../../tasks/errors.js';
import { ANSWER_SPECS, EXTRA_OPTIONS, type Answers } from '../lib/options.js';
import { coerce, formatAnswerProblems, validateAnswers, validateOne } from '../lib/answers.js';
import { knownAnswers, missingSpecs, withDefaults } from '../lib/resolve.js';
import { GENERATED_FILES, PROJECT_FILES } from '../lib/files.js';
import { answersFromManifest, manifestFromAnswers, mergeAnswers, mergePackageJson, packageJsonFor, packageSpecProblem, templateContext, toJson } from '../lib/project.js';
import { generatorVersion, projectTemplates } from '../lib/paths.js';
import { legacyRecord, RETIRED } from '../lib/legacy.js';
import { readProjectManifest } from '../lib/project-guard.js';
import { generationReport, ProjectWriter, RECORD_KEY, sha256, type Retired } from '../lib/write.js';
import { nextSteps } from '../lib/next-steps.js';

export default class AppGenerator extends Generator {
  answers!: Answers;
  writer!: ProjectWriter;
  /** Answers known before asking: options, then the existing mpimg.json, then .yo-rc.json. */
  private known: Partial<Answers> = {};
  /** Answers given on this run (options and prompts): only these change an existing mpimg.json. */
  private given: Partial<Answers> = {};
  /** The project's mpimg.json as the vendor has it, when there is one. */
  private existing?: Record<string, unknown>;
  /** Files an earlier release generated and this one does not: removed (unedited) or kept (edited). */
  retired: Retired[] = [];

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options as never);
    for (const s of ANSWER_SPECS) {
      this.option(s.option, { type: s.kind === 'boolean' ? Boolean : String, description: s.description });
    }
    for (const o of EXTRA_OPTIONS) this.option(o.option, { type: Boolean, alias: o.alias, description: o.description });
    this.option('package', { type: String, description: 'npm spec of generator-mpimg for the project (version, tarball path or URL, git URL)' });
    // Set by `mpimg new` when there is no terminal: never wait on a prompt.
    this.option('non-interactive', { type: Boolean, hide: true, description: 'fail instead of asking' });
    this.option('skip-next-steps', { type: Boolean, hide: true, description: 'the launcher prints them' });
    this.sourceRoot(projectTemplates());
  }

  private get opts(): Record<string, unknown> {
    return this.options as Record<string, unknown>;
  }

  private get folderName(): string {
    return basename(this.destinationRoot());
  }

  initializing(): void {
    const file = this.destinationPath('mpimg.json');
    const stored = this.config.getAll();
    const fromOptions = knownAnswers(this.opts, {});
    let fromManifest: Partial<Answers> = {};
    if (existsSync(file)) {
      const { raw, manifest } = readProjectManifest(file);
      this.existing = raw;
      fromManifest = answersFromManifest(manifest);
    }
    this.given = { ...fromOptions };
    this.known = { ...knownAnswers({}, stored), ...fromManifest, ...fromOptions };
  }

  async prompting(): Promise<void> {
    const missing = missingSpecs(this.known);
    const opts = this.opts;
    if (missing.length > 0 && !opts.yes) {
      if (opts.nonInteractive || opts['non-interactive']) {
        throw new MpimgError(`no terminal to ask on, and these answers are missing: ${missing.map((s) => `--${s.option}`).join(', ')}`, {
          where: 'command-line options',
          hint: `pass ${missing.map((s) => `--${s.option}`).join(' ')}, or --yes to take the defaults (see --help)`,
        });
      }
      const known = this.known;
      const folderName = this.folderName;
      const questions = missing.map((s) => {
        const current = (answers: Record<string, unknown>): Partial<Answers> => {
          const merged: Record<string, unknown> = { ...known };
          for (const m of missing) if (answers[m.key] !== undefined) merged[m.key] = coerce(m, answers[m.key]);
          return merged as Partial<Answers>;
        };
        return {
          type: s.prompt,
          name: s.key,
          message: s.message,
          choices: s.choices?.map((c) => ({ ...c })),
          default: (answers: Record<string, unknown>) => {
            const d = s.default({ answers: current(answers), folderName });
            return Array.isArray(d) ? d.join(',') : d;
          },
          validate: (value: unknown, answers?: Record<string, unknown>) => validateOne(s.key, value, current(answers ?? {})),
        };
      });
      const given = (await this.prompt(questions as never)) as Record<string, unknown>;
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
    const spec = this.opts.package as string | undefined;
    const specWhy = spec === undefined ? undefined : packageSpecProblem(spec);
    if (specWhy) problems.push({ option: 'package', message: `bad --package ${JSON.stringify(spec)}`, fix: specWhy });
    if (this.existing && problems.length === 0) {
      const merged = validateManifest(mergeAnswers(this.existing, this.given));
      for (const p of merged.problems) problems.push({ option: p.path, message: p.message, fix: p.hint });
    }
    if (problems.length) {
      throw new MpimgError(`invalid answer${problems.length === 1 ? '' : 's'}:\n${formatAnswerProblems(problems)}`, {
        where: problems.map((p) => (p.option.startsWith('$') ? p.option : `--${p.option}`)).join(', '),
        hint: 'correct the values above and run again; nothing was written',
      });
    }
  }

  configuring(): void {
    // Stored so that a re-run asks nothing already answered (mpimg.json, once there, wins over them).
    this.config.set({ ...this.answers });
  }

  writing(): void {
    const stored = (this.config.get(RECORD_KEY) as Record<string, string> | undefined) ?? {};
    const ctx = templateContext(this.answers);
    // A project from before hashes were recorded: its files that still hold what that release
    // generated (with the answers it was generated with) count as unedited.
    const asGenerated = templateContext(withDefaults(knownAnswers({}, this.config.getAll()), this.folderName));
    const legacy = legacyRecord(this.destinationRoot(), asGenerated);
    const previous = { ...Object.fromEntries(Object.entries(legacy).filter(([k]) => !(k in stored))), ...stored };
    this.writer = new ProjectWriter(this, Boolean(this.opts.force), previous);

    // Files this release no longer generates: gone when unedited, kept (and reported) when edited.
    // An edited mpimgfile.mjs of an old release is kept, and it still reads the scripts it ran:
    // those stay until it is replaced, so its tasks keep working.
    const keptEdited = (rel: string) => {
      const file = PROJECT_FILES.find((f) => f.dest(ctx) === rel);
      return file !== undefined && (!file.when || file.when(ctx)) && this.writer.keepsEdited(file, ctx);
    };
    const removed = new Set<string>();
    for (const r of RETIRED(ctx)) {
      const abs = this.destinationPath(r.rel);
      if (!existsSync(abs)) continue;
      const unedited = previous[r.rel] !== undefined && sha256(readFileSync(abs)) === previous[r.rel];
      if (unedited && r.usedBy && keptEdited(r.usedBy)) this.retired.push({ path: r.rel, why: r.why, removed: false, usedBy: r.usedBy });
      else if (unedited) {
        removed.add(r.rel);
        this.fs.delete(abs);
        this.retired.push({ path: r.rel, why: r.why, removed: true });
        delete this.writer.record[r.rel];
      } else this.retired.push({ path: r.rel, why: r.why, removed: false });
    }

    // mpimg.json and package.json are the vendor's own files: a re-run changes only what it was given.
    const manifest = this.existing ? mergeAnswers(this.existing, this.given) : manifestFromAnswers(this.answers);
    for (const k of ['cleanup', 'check'] as const) {
      const sec = manifest[k] as Record<string, unknown> | undefined;
      if (sec && typeof sec.script === 'string' && removed.has(sec.script)) {
        delete sec.script;
        if (Object.keys(sec).length === 0) delete manifest[k];
      }
    }
    this._writeOwned(GENERATED_FILES.manifest, toJson(manifest));
    const pkgPath = this.destinationPath(GENERATED_FILES.packageJson);
    const spec = this.opts.package as string | undefined;
    const pkg = existsSync(pkgPath)
      ? mergePackageJson(JSON.parse(readFileSync(pkgPath, 'utf8')) as Record<string, unknown>, this.answers, generatorVersion(), spec)
      : packageJsonFor(this.answers, generatorVersion(), spec);
    this._writeOwned(GENERATED_FILES.packageJson, toJson(pkg));
    for (const file of PROJECT_FILES) {
      if (file.when && !file.when(ctx)) continue;
      // Asked for on this very run (e.g. --first-login): a file deleted earlier comes back.
      const wanted = file.wantedBy ? this.given[file.wantedBy] === true : false;
      this.writer.writeTemplate(file, ctx, { wanted });
    }
    this.config.set(RECORD_KEY, this.writer.record);
  }

  /** Writes a file that belongs to the vendor once it exists (merged above), when its bytes change. */
  private _writeOwned(rel: string, text: string): void {
    const abs = this.destinationPath(rel);
    const same = existsSync(abs) && readFileSync(abs, 'utf8') === text;
    this.writer.results.push({ path: rel, status: same ? 'identical' : existsSync(abs) ? 'update' : 'create' });
    if (!same) this.fs.write(abs, text);
  }

  end(): void {
    for (const c of this.writer.conflicts) this.log.conflict(c);
    const report = generationReport(this.writer, this.retired);
    if (report && !this.opts.skipNextSteps && !this.opts['skip-next-steps']) this.log(report);
    if (!this.opts.skipNextSteps && !this.opts['skip-next-steps']) {
      this.log(nextSteps(this.destinationRoot(), this.answers));
    }
  }
}
