/**
 * Writing into a project that may already hold the vendor's edits. A file that exists and differs
 * from what would be generated is a conflict: it is kept and reported, unless --force. Doing this
 * here (instead of in Yeoman's interactive conflicter) gives the same answer with a TTY, without
 * one (`mpimg new` in CI) and in tests. Modes are set explicitly on every write.
 */
import { existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import type Generator from 'yeoman-generator';
import { projectTemplates } from './paths.js';
import type { ProjectFile } from './files.js';
import type { TemplateContext } from './project.js';

export type WriteStatus = 'create' | 'identical' | 'conflict' | 'force';

export class ProjectWriter {
  readonly conflicts: string[] = [];
  readonly results: Array<{ path: string; status: WriteStatus }> = [];

  constructor(private readonly gen: Generator, private readonly force: boolean) {}

  write(rel: string, contents: string | Buffer, mode: number): WriteStatus {
    const abs = this.gen.destinationPath(rel);
    const data = Buffer.isBuffer(contents) ? contents : Buffer.from(contents, 'utf8');
    let status: WriteStatus = 'create';
    if (existsSync(abs)) {
      const same = readFileSync(abs).equals(data) && (statSync(abs).mode & 0o777) === mode;
      status = same ? 'identical' : this.force ? 'force' : 'conflict';
    }
    this.results.push({ path: rel, status });
    if (status === 'conflict') this.conflicts.push(rel);
    if (status === 'create' || status === 'force') {
      // mem-fs-editor applies stat.mode on commit (and chmods when the file already existed).
      this.gen.fs.write(abs, data, { stat: { mode: 0o100000 | mode } as Stats });
    }
    return status;
  }

  /** Renders or copies one entry of the skeleton. */
  writeTemplate(file: ProjectFile, ctx: TemplateContext): WriteStatus {
    return this.write(file.dest(ctx), renderTemplate(file, ctx), file.mode);
  }
}

export function renderTemplate(file: Pick<ProjectFile, 'template' | 'render'>, ctx: TemplateContext): Buffer {
  const src = join(projectTemplates(), file.template);
  const raw = readFileSync(src);
  if (file.render === 'copy') return raw;
  // <%- %> is used for raw output in the templates; nothing here is HTML.
  return Buffer.from(ejs.render(raw.toString('utf8'), ctx, { filename: src }), 'utf8');
}

/** One line per conflict and the way out, for the end of a run. */
export function conflictReport(conflicts: string[]): string {
  if (conflicts.length === 0) return '';
  return [
    conflicts.length === 1
      ? '1 file differs from what the generator would write; kept as it is:'
      : `${conflicts.length} files differ from what the generator would write; kept as they are:`,
    ...conflicts.map((c) => `  ${c}`),
    'To replace them, run again with --force (your edits in those files are lost).',
  ].join('\n');
}
