/**
 * `yo mpimg` / `mpimg new`: asks the questions of lib/options.ts (each also an option), checks the
 * answers against the manifest rules, stores them in .yo-rc.json and writes the image project
 * listed in lib/files.ts.
 */
import { basename } from 'node:path';
import Generator from 'yeoman-generator';
import { MpimgError } from '../../tasks/errors.js';
import { ANSWER_SPECS, EXTRA_OPTIONS, type Answers } from '../lib/options.js';
import { coerce, formatAnswerProblems, validateAnswers, validateOne } from '../lib/answers.js';
import { knownAnswers, missingSpecs, withDefaults } from '../lib/resolve.js';
import { GENERATED_FILES, PROJECT_FILES } from '../lib/files.js';
import { manifestFromAnswers, packageJsonFor, templateContext, toJson } from '../lib/project.js';
import { generatorVersion, projectTemplates } from '../lib/paths.js';
import { conflictReport, ProjectWriter } from '../lib/write.js';
import { nextSteps } from '../lib/next-steps.js';

export default class AppGenerator extends Generator {
  answers!: Answers;
  writer!: ProjectWriter;
  /** Answers that came from neither an option nor .yo-rc.json. */
  private known: Partial<Answers> = {};

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options as never);
    for (const s of ANSWER_SPECS) {
      this.option(s.option, { type: s.kind === 'boolean' ? Boolean : String, description: s.description });
    }
    for (const o of EXTRA_OPTIONS) this.option(o.option, { type: Boolean, alias: o.alias, description: o.description });
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
    this.known = knownAnswers(this.opts, this.config.getAll());
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
        if (v !== undefined) (this.known as Record<string, unknown>)[s.key] = v;
      }
    }
    this.answers = withDefaults(this.known, this.folderName);
    const problems = validateAnswers(this.answers);
    if (problems.length) {
      throw new MpimgError(`invalid answer${problems.length === 1 ? '' : 's'}:\n${formatAnswerProblems(problems)}`, {
        where: problems.map((p) => (p.option.startsWith('$') ? p.option : `--${p.option}`)).join(', '),
        hint: 'correct the values above and run again; nothing was written',
      });
    }
  }

  configuring(): void {
    // Stored so that a re-run asks nothing already answered.
    this.config.set({ ...this.answers });
  }

  writing(): void {
    this.writer = new ProjectWriter(this, Boolean(this.opts.force));
    const ctx = templateContext(this.answers);
    this.writer.write(GENERATED_FILES.manifest, toJson(manifestFromAnswers(this.answers)), 0o644);
    this.writer.write(GENERATED_FILES.packageJson, toJson(packageJsonFor(this.answers, generatorVersion())), 0o644);
    for (const file of PROJECT_FILES) {
      if (file.when && !file.when(ctx)) continue;
      this.writer.writeTemplate(file, ctx);
    }
  }

  end(): void {
    for (const c of this.writer.conflicts) this.log.conflict(c);
    const report = conflictReport(this.writer.conflicts);
    if (report) this.log(report);
    if (!this.opts.skipNextSteps && !this.opts['skip-next-steps']) {
      this.log(nextSteps(this.destinationRoot(), this.answers));
    }
  }
}
