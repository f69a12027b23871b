/**
 * Writing into a project that may already hold the vendor's edits. Every file the generator writes
 * is recorded in .yo-rc.json with the sha256 of what it wrote, so a later run (a re-run, `mpimg
 * upgrade`, a sub-generator) can tell apart:
 *   - a file the vendor never edited (its bytes are still the recorded ones): refreshed to the current
 *     template, silently, as the package's fix should reach it;
 *   - a file the vendor edited: kept and reported (a conflict), unless --force;
 *   - a file the vendor deleted: it stays deleted (never re-created), unless --force or the run was
 *     asked for that very file (e.g. `--first-login` for first-login/first-login.sh).
 *   - a generated file that is empty (what an interrupted write of an older release left): written
 *     again and reported, never taken for an edit.
 * Doing this here (instead of in Yeoman's interactive conflicter) gives the same answer with a TTY,
 * without one (`mpimg new` in CI) and in tests. Modes are set explicitly on every write; the writes
 * themselves are ProjectFs's (atomic, the record last).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import { projectTemplates } from './paths.js';
import type { ProjectFs } from './project-fs.js';
import type { ProjectFile } from './files.js';
import type { TemplateContext } from './project.js';

export type WriteStatus = 'create' | 'identical' | 'update' | 'conflict' | 'force' | 'deleted' | 'repair';

/** Key in .yo-rc.json (beside the answers): project path → sha256 of the bytes last written there. */
export const RECORD_KEY = 'generated';

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export class ProjectWriter {
  readonly conflicts: string[] = [];
  readonly results: Array<{ path: string; status: WriteStatus }> = [];
  /** What is recorded after this run (updated as files are written). */
  readonly record: Record<string, string>;
  private readonly forced: (rel: string) => boolean;

  /** `force`: every file (true), or only these project paths (upgrade --force FILE). */
  constructor(
    readonly fs: ProjectFs,
    force: boolean | ReadonlySet<string>,
    previous: Record<string, string> = {},
  ) {
    this.record = { ...previous };
    this.forced = typeof force === 'boolean' ? () => force : (rel) => force.has(rel);
  }

  /**
   * Writes `rel` unless the vendor's copy must win. `wanted`: the run was asked for this file (an
   * option that turns it on), so a deleted one comes back.
   */
  write(rel: string, contents: string | Buffer, mode: number, opts: { wanted?: boolean } = {}): WriteStatus {
    const data = Buffer.isBuffer(contents) ? contents : Buffer.from(contents, 'utf8');
    const status = this.statusOf(rel, data, mode, opts);
    this.results.push({ path: rel, status });
    if (status === 'conflict') this.conflicts.push(rel);
    if (status === 'create' || status === 'force' || status === 'update' || status === 'repair')
      this.fs.write(rel, data, mode);
    if (status !== 'conflict' && status !== 'deleted') this.record[rel] = sha256(data);
    return status;
  }

  /** What write() would do with these bytes at `rel`, without writing. */
  statusOf(rel: string, data: Buffer, mode: number, opts: { wanted?: boolean } = {}): WriteStatus {
    const abs = this.fs.path(rel);
    const prev = this.record[rel];
    const force = this.forced(rel);
    if (!existsSync(abs)) return prev !== undefined && !force && !opts.wanted ? 'deleted' : 'create';
    const have = readFileSync(abs);
    if (have.equals(data)) return (statSync(abs).mode & 0o777) === mode ? 'identical' : 'update';
    if (prev !== undefined && sha256(have) === prev) return 'update';
    // No generated file is empty: an empty one is what an interrupted write left, not an edit.
    if (have.length === 0 && data.length > 0) return 'repair';
    return force ? 'force' : 'conflict';
  }

  /** True when writeTemplate would keep the vendor's edited copy of this skeleton entry. */
  keepsEdited(file: ProjectFile, ctx: TemplateContext): boolean {
    return this.statusOf(file.dest(ctx), renderTemplate(file, ctx), file.mode) === 'conflict';
  }

  /** Renders or copies one entry of the skeleton. */
  writeTemplate(file: ProjectFile, ctx: TemplateContext, opts: { wanted?: boolean } = {}): WriteStatus {
    return this.write(file.dest(ctx), renderTemplate(file, ctx), file.mode, opts);
  }

  /** Paths by what happened to them (for reports). */
  byStatus(status: WriteStatus): string[] {
    return this.results.filter((r) => r.status === status).map((r) => r.path);
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
export function conflictReport(conflicts: string[], diffHint?: (rel: string) => string): string {
  if (conflicts.length === 0) return '';
  return [
    conflicts.length === 1
      ? '1 file differs from what the generator would write; kept as it is:'
      : `${conflicts.length} files differ from what the generator would write; kept as they are:`,
    ...conflicts.map((c) => `  ${c}${diffHint ? `   (review: ${diffHint(c)})` : ''}`),
    'To replace them, run again with --force (your edits in those files are lost).',
  ].join('\n');
}

/** How to compare an edited file with what this release would write there. */
export const reviewCommand = (rel: string): string => `mpimg upgrade --show ${rel} | diff -u ${rel} -`;

/**
 * The end-of-run report of a re-run or an upgrade: refreshed files, retired ones, and the edited
 * ones that were kept, each with the way to review or replace them. Empty when nothing happened.
 */
export interface Retired {
  path: string;
  why: string;
  removed: boolean;
  /** Kept although unedited: this edited (kept) file of the project still uses it. */
  usedBy?: string;
}

export function generationReport(
  writer: Pick<ProjectWriter, 'results' | 'conflicts'>,
  retired: ReadonlyArray<Retired> = [],
): string {
  const out: string[] = [];
  const refreshed = writer.results
    .filter((r) => r.status === 'update' && r.path !== 'mpimg.json' && r.path !== 'package.json')
    .map((r) => r.path);
  if (refreshed.length) out.push('Refreshed (you had not edited them):', ...refreshed.map((p) => `  ${p}`));
  const repaired = writer.results.filter((r) => r.status === 'repair').map((r) => r.path);
  if (repaired.length)
    out.push(
      'Written again (they were empty, as an interrupted write leaves a file):',
      ...repaired.map((p) => `  ${p}`),
    );
  const forced = writer.results.filter((r) => r.status === 'force').map((r) => r.path);
  if (forced.length)
    out.push(
      "Replaced with this release's version (--force; your edits there are gone):",
      ...forced.map((p) => `  ${p}`),
    );
  const gone = retired.filter((r) => r.removed);
  if (gone.length) out.push('Removed (no longer part of a project):', ...gone.map((r) => `  ${r.path}: ${r.why}`));
  const kept = retired.filter((r) => !r.removed && !r.usedBy);
  if (kept.length)
    out.push('Kept, because you edited them (your copy wins):', ...kept.map((r) => `  ${r.path}: otherwise ${r.why}`));
  for (const user of new Set(retired.filter((r) => !r.removed && r.usedBy).map((r) => r.usedBy!))) {
    out.push(
      `Kept, because your edited ${user} still uses them:`,
      ...retired.filter((r) => !r.removed && r.usedBy === user).map((r) => `  ${r.path}`),
      `  Once ${user} is this release's (${reviewCommand(user)}), \`mpimg upgrade\` removes them: ${retired
        .filter((r) => r.usedBy === user)
        .map((r) => r.why)
        .join('; ')}.`,
    );
  }
  const conflicts = conflictReport(writer.conflicts, reviewCommand);
  if (conflicts) out.push(conflicts);
  return out.join('\n');
}
