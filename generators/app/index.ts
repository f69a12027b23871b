/**
 * `yo mpimg`: Yeoman's way into the image project generator (core/app-project.ts, which `mpimg new`
 * runs without Yeoman). Yeoman only parses the options and asks the questions; the project's files
 * and .yo-rc.json are written by the core in one commit (atomically, the record last), so Yeoman's
 * own conflicter and file log stay out of it.
 */
import { spawnSync } from 'node:child_process';
import Generator from 'yeoman-generator';
import { AppProject } from '../../core/app-project.js';
import { ANSWER_SPECS, EXTRA_OPTIONS } from '../../core/options.js';
import { nextSteps } from '../../core/next-steps.js';
import { projectTemplates } from '../../core/paths.js';
import type { Prompter } from '../../core/questions.js';
import { generationReport } from '../../core/write.js';

export default class AppGenerator extends Generator {
  core!: AppProject;

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options as never);
    for (const s of ANSWER_SPECS) {
      this.option(s.option, { type: s.kind === 'boolean' ? Boolean : String, description: s.description });
    }
    for (const o of EXTRA_OPTIONS) this.option(o.option, { type: Boolean, alias: o.alias, description: o.description });
    this.option('package', {
      type: String,
      description: 'npm spec of generator-mpimg for the project (version, tarball path or URL, git URL)',
    });
    // Set by a launcher with no terminal: never wait on a prompt.
    this.option('non-interactive', { type: Boolean, hide: true, description: 'fail instead of asking' });
    this.sourceRoot(projectTemplates());
  }

  private get opts(): Record<string, unknown> {
    return this.options as Record<string, unknown>;
  }

  /** What the tests and launchers look at: the answers and the writer of this run. */
  get answers() {
    return this.core?.answers;
  }
  get writer() {
    return this.core?.writer;
  }
  get retired() {
    return this.core?.retired ?? [];
  }

  initializing(): void {
    const o = this.opts;
    this.core = new AppProject(this.destinationRoot(), {
      ...o,
      yes: Boolean(o.yes),
      force: Boolean(o.force),
      package: o.package as string | undefined,
      nonInteractive: Boolean(o.nonInteractive || o['non-interactive']),
    });
    this.core.initialize();
  }

  async prompting(): Promise<void> {
    const prompt: Prompter = async (questions) => (await this.prompt(questions as never)) as Record<string, unknown>;
    await this.core.ask(prompt);
    for (const w of this.core.warnings) this.log(`warning: ${w}`);
  }

  writing(): void {
    this.core.write();
    this.core.commit();
  }

  install(): void {
    // The project's own generator-mpimg (the `mpimg` command of its Makefile), as package.json names it.
    if (this.opts.skipInstall || this.opts['skip-install']) return;
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], {
      cwd: this.destinationRoot(),
      stdio: 'inherit',
    });
    if (r.status !== 0)
      this.log(`npm install did not finish (exit ${r.status ?? r.signal}): run it again in ${this.destinationRoot()}`);
  }

  end(): void {
    const report = generationReport(this.core.writer, this.core.retired);
    if (report) this.log(report);
    const installed = !(this.opts.skipInstall || this.opts['skip-install']);
    this.log(nextSteps(this.destinationRoot(), this.core.answers, process.cwd(), installed));
  }
}
