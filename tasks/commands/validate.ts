import * as path from 'node:path';
import { loadProject, type Project } from '../bundle/project.js';
import { buildPlan } from '../bundle/plan-builder.js';
import { catalogWarnings } from '../bundle/build-script.js';
import { packerWarnings } from '../bundle/packer-version.js';
import { shellcheckWarnings } from '../bundle/script-check.js';
import { staleness, type StaleFile } from '../bundle/staleness.js';
import { MpimgError, UsageError } from '../../core/errors.js';
import { packageVersion } from '../../core/paths.js';
import { shellQuote } from '../ssh/quote.js';
import { shellcheckNotice, toNotice, writeWarnings, type Notice, type NoticeLike } from './notices.js';
import { parseOptions, PROJECT_OPTION, projectDir } from './options.js';
import { projectWarnings } from './project-warnings.js';
import type { Command, CommandContext } from './types.js';

const usage = `Usage: mpimg validate [DIR] [--project DIR] [--strict] [--json]

Checks mpimg.json against the schema and the project folders (first-boot/, first-login/, files/,
scripts/): every problem is listed with where it is and how to fix it. Every script is parsed by
the shell its #! line names (sh -n, bash -n); shellcheck's findings, when it is installed, are
listed as warnings. Generated files that no longer follow the project (dist/ bundled before your
last edit, an unedited project file from an older release) are warnings that say what to run;
with --strict they are errors. Exit 1 when there are problems (with --strict: or stale files).

Options:
  DIR, --project DIR  the image project to check (default: the current folder)
  --strict            stale generated files are errors, not warnings (for CI)
  --json              print the result as JSON on stdout: {"ok", "project", "problems",
                      "warnings", "stale", "summary"}; problems and warnings are {"path",
                      "message", "hint"}; nothing goes to stderr
`;

/** The way to run `mpimg <cmd>` for this project from where mpimg was started: make first. */
function runHint(ctx: CommandContext, dir: string, cmd: 'bundle' | 'upgrade'): string {
  const rel = path.relative(ctx.cwd, dir);
  return rel === ''
    ? `\`make ${cmd}\` (or \`mpimg ${cmd}\`)`
    : `\`make -C ${shellQuote(rel)} ${cmd}\` (or \`mpimg ${cmd} --project ${shellQuote(rel)}\`)`;
}

/** Stale files grouped by the command that writes them again; upgrade first (the bundle embeds files/). */
function staleNotices(ctx: CommandContext, dir: string, stale: StaleFile[]): Notice[] {
  const out: Notice[] = [];
  const upgrade = stale.filter((s) => s.run === 'upgrade');
  const bundle = stale.filter((s) => s.run === 'bundle');
  if (upgrade.length) {
    out.push({
      message: `${upgrade.length} generated file(s) you never edited are from an older mpimg.json or generator-mpimg: ${upgrade.map((s) => s.path).join(', ')}`,
      hint: `run ${runHint(ctx, dir, 'upgrade')}${bundle.length ? ', then bundle again' : ''}`,
    });
  }
  if (bundle.length) {
    const missing = bundle.filter((s) => s.reason.startsWith('missing'));
    const why =
      missing.length === bundle.length
        ? 'missing: dist/ is from an older release'
        : 'bundled before the last change to the project (or to generator-mpimg)';
    const names = bundle.map(
      (s) =>
        `${s.path.replace(/^dist\//, '')}${missing.includes(s) && missing.length < bundle.length ? ' (missing)' : ''}`,
    );
    out.push({
      path: 'dist/',
      message: `${bundle.length} file(s) ${why}: ${names.join(', ')}`,
      hint: `run ${runHint(ctx, dir, 'bundle')} to write them again`,
    });
  }
  return out;
}

/** The problems of a failed load as data: each listed problem, or the one error (no mpimg.json, bad JSON). */
function problemsOf(err: MpimgError, dir: string): Notice[] {
  if (err.problems?.length) return err.problems.map((p) => ({ ...p }));
  const where = err.where ? path.relative(dir, err.where) || '.' : undefined;
  return [
    { ...(where !== undefined ? { path: where } : {}), message: err.message, ...(err.hint ? { hint: err.hint } : {}) },
  ];
}

const command: Command = {
  name: 'validate',
  summary: 'check mpimg.json and the project folders, listing every problem',
  usage,
  async run(argv, ctx) {
    const { values, positionals } = parseOptions(
      argv,
      { ...PROJECT_OPTION, strict: { type: 'boolean' }, json: { type: 'boolean' } },
      { command: 'validate', usage, positionals: true },
    );
    if (positionals.length > 1)
      throw new UsageError(`one DIR at most, got ${positionals.join(' ')}`, 'mpimg validate [DIR]');
    if (positionals.length && values.project !== undefined)
      throw new UsageError(
        'give the project as DIR or as --project DIR, not both',
        'e.g. mpimg validate --project images/web',
      );
    const dir = projectDir(ctx, values.project ?? positionals[0], values.project !== undefined ? '--project' : 'DIR');
    const file = path.join(dir, 'mpimg.json');

    let project: Project;
    try {
      project = loadProject(dir);
    } catch (err) {
      if (!values.json || !(err instanceof MpimgError)) throw err;
      ctx.stdout.write(
        `${JSON.stringify({ ok: false, project: dir, problems: problemsOf(err, dir), warnings: [], stale: [], summary: null }, null, 2)}\n`,
      );
      return 1;
    }
    const plan = buildPlan(project, packageVersion());
    // Every source of warnings, in the order they are printed (a source may give text or Notices).
    const sources: NoticeLike[] = [
      ...shellcheckWarnings(project.scripts, dir).map(shellcheckNotice),
      ...catalogWarnings(project.manifest),
      ...projectWarnings(project),
      ...packerWarnings(project, ctx.env),
    ];
    const st = staleness(project);
    sources.push(...st.warnings);
    const warnings = sources.map(toNotice);
    const stale = staleNotices(ctx, dir, st.stale);
    const failed = Boolean(values.strict) && stale.length > 0;
    const summary = {
      firstBootScripts: project.firstBoot.length,
      files: project.files.length,
      installOperations: plan.ops.length,
    };

    if (values.json) {
      ctx.stdout.write(
        `${JSON.stringify(
          {
            ok: !failed,
            project: dir,
            problems: failed ? stale : [],
            warnings: failed ? warnings : [...warnings, ...stale],
            stale: st.stale,
            summary,
          },
          null,
          2,
        )}\n`,
      );
      return failed ? 1 : 0;
    }
    writeWarnings(ctx.stderr, warnings);
    if (failed) {
      throw new MpimgError(
        `${st.stale.length} generated file(s) no longer follow the project (--strict makes this an error):\n${stale.map((n) => `  ${n.path ? `${n.path}: ` : ''}${n.message}\n    fix: ${n.hint}`).join('\n')}`,
      );
    }
    writeWarnings(ctx.stderr, stale);
    const noted = warnings.length + stale.length;
    ctx.stdout.write(
      `${file}: ok (${project.firstBoot.length} first-boot script(s), ${project.files.length} file(s), ${plan.ops.length} install operations)${noted ? `; ${noted} warning(s)` : ''}\n`,
    );
    return 0;
  },
};
export default command;
