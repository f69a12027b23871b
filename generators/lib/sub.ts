/**
 * Shared by the sub-generators: they run inside an existing image project, add one piece, and
 * leave every other file alone (conflicts are reported, --force overwrites).
 */
import Generator from 'yeoman-generator';
import type { Manifest } from '../../runtime/manifest.js';
import type { Answers } from './options.js';
import { knownAnswers, withDefaults } from './resolve.js';
import { loadProject } from './project-guard.js';
import { projectTemplates } from './paths.js';
import { templateContext, type TemplateContext } from './project.js';
import { conflictReport, ProjectWriter, RECORD_KEY } from './write.js';

export abstract class SubGenerator extends Generator {
  manifest!: Manifest;
  writer!: ProjectWriter;
  /** The sub-generator's name in `yo mpimg:<name>`. */
  protected abstract readonly subName: string;

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options as never);
    this.option('force', { type: Boolean, alias: 'f', description: 'overwrite a file that differs (default: keep it and report)' });
    this.sourceRoot(projectTemplates());
  }

  protected get opts(): Record<string, unknown> {
    return this.options as Record<string, unknown>;
  }

  /** Call first in `initializing`: fails outside an image project. */
  protected loadProject(): void {
    this.manifest = loadProject(this.destinationRoot(), this.subName);
    this.writer = new ProjectWriter(this, Boolean(this.opts.force), (this.config.get(RECORD_KEY) as Record<string, string> | undefined) ?? {});
  }

  /**
   * Writes the one piece this sub-generator adds. It was asked for by name, so a copy the vendor
   * deleted earlier comes back; an edited one is kept and reported.
   */
  protected writePiece(rel: string, data: string | Buffer, mode: number): void {
    this.writer.write(rel, data, mode, { wanted: true });
    this.config.set(RECORD_KEY, this.writer.record);
  }

  /** Template values from the manifest, completed by .yo-rc.json answers and defaults. */
  protected context(overrides: Partial<Answers> = {}): TemplateContext {
    const stored = this.config.getAll();
    const known = knownAnswers({}, stored);
    const m = this.manifest;
    const fromManifest: Partial<Answers> = {
      name: m.name,
      slug: m.slug,
      vendor: m.vendor,
      distro: m.distributions[0],
      firstLogin: Boolean(m.firstLogin),
      loginHold: Boolean(m.loginHold),
    };
    const answers = withDefaults({ ...known, ...fromManifest, ...overrides }, m.slug);
    return { ...templateContext(answers), version: m.version };
  }

  /** Sets keys of mpimg.json, keeping everything else of the vendor's file as it is. */
  protected updateManifest(change: (m: Record<string, unknown>) => boolean): void {
    const path = this.destinationPath('mpimg.json');
    const data = this.fs.readJSON(path) as Record<string, unknown>;
    if (change(data)) this.fs.writeJSON(path, data, null, 2);
  }

  protected reportConflicts(): void {
    for (const c of this.writer.conflicts) this.log.conflict(c);
    const report = conflictReport(this.writer.conflicts);
    if (report) this.log(report);
  }
}

