/**
 * Writing the imported project: the scaffolder (the app generator, as `mpimg new` runs it) writes
 * the project's skeleton into a private folder beside the target; its examples (a first-boot
 * script, a build script, a files/ README, the MOTD when the template has none) are taken out, the
 * mapped mpimg.json and the imported files are put in, the project is loaded the way `mpimg
 * validate` loads it, and only then is the folder renamed into place. A failure or an interrupt
 * leaves nothing behind; a target that is not empty is refused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppProject } from '../../core/app-project.js';
import { PROJECT_FILES } from '../../core/files.js';
import { templateContext, toJson } from '../../core/project.js';
import { loadProject } from '../bundle/project.js';
import { MpimgError } from '../../core/errors.js';
import { linkThisPackage } from '../../core/package-link.js';
import type { CommandContext } from '../context.js';
import type { ImportResult } from './importer.js';
import { renderReport } from './report.js';

/** The skeleton's examples: an imported project starts with what the template did, nothing else. */
const EXAMPLES = ['first-boot/10-setup.sh.ejs', 'scripts/10-configure.sh.ejs', 'files/README.ejs'];

/** Refuses a target that exists and is not an empty folder (or is a link). */
export function checkTarget(target: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch {
    return;
  }
  if (st.isSymbolicLink())
    throw new MpimgError(`${target} is a symbolic link`, {
      where: target,
      hint: 'give a new folder (or an empty one) for the project',
    });
  if (!st.isDirectory())
    throw new MpimgError(`${target} exists and is not a folder`, {
      where: target,
      hint: 'give a new folder (or an empty one) for the project',
    });
  if (fs.readdirSync(target).length)
    throw new MpimgError(`${target} is not empty`, {
      where: target,
      hint: 'import into a new folder (or an empty one): nothing in an existing folder is overwritten',
    });
}

/** Removes now-empty folders from `dir` up to (not including) `stop`. */
function pruneEmpty(dir: string, stop: string): void {
  for (let d = dir; d !== stop && d.startsWith(stop); d = path.dirname(d)) {
    try {
      fs.rmdirSync(d);
    } catch {
      return;
    }
  }
}

/**
 * Ctrl-C (SIGINT/SIGTERM) reaches the command's signal only when the event loop turns, and the
 * import's work is synchronous: each check first lets pending signals in, else an interrupt
 * during the import was noticed only after the project had been written.
 */
async function stopIfInterrupted(ctx: CommandContext, abs: string): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (ctx.signal.aborted) throw new MpimgError('interrupted: nothing was written', { where: abs });
}

export async function writeProject(
  target: string,
  result: ImportResult,
  ctx: CommandContext,
  opts: { link?: boolean; package?: string } = {},
): Promise<void> {
  const abs = path.resolve(ctx.cwd, target);
  checkTarget(abs);
  const parent = path.dirname(abs);
  const madeParent = fs.mkdirSync(parent, { recursive: true });
  const staging = fs.mkdtempSync(path.join(parent, `.${path.basename(abs)}.mpimg-import-`));
  try {
    // Ctrl-C aborts the command's signal: checked between the steps, then everything made is removed.
    await stopIfInterrupted(ctx, abs);
    // the scaffold `mpimg new` writes, then the imported parts in place of its examples
    await new AppProject(staging, scaffoldOptions(result, ctx, opts.package)).run();
    await stopIfInterrupted(ctx, abs);
    await writeImported(staging, result, ctx, abs);
    if (opts.link) linkThisPackage(staging);
    checkLoads(staging, abs);
    // mkdtemp made it 0700: a project folder is as any other folder the user makes
    const umask = process.umask();
    fs.chmodSync(staging, 0o777 & ~umask);
    await stopIfInterrupted(ctx, abs);
    putInPlace(staging, abs);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (madeParent) fs.rmSync(madeParent, { recursive: true, force: true });
    throw e;
  }
}

/** What the scaffolder is asked, as `mpimg new --yes` would be. */
function scaffoldOptions(result: ImportResult, ctx: CommandContext, pkg: string | undefined): Record<string, unknown> {
  const a = result.answers;
  const options: Record<string, unknown> = {
    yes: true,
    nonInteractive: true,
    cwd: ctx.cwd,
    name: a.name,
    slug: a.slug,
    vendor: a.vendor,
    distro: a.distro,
    region: a.region,
    size: a.size,
    motd: a.motd,
    packages:
      result.manifest.build?.packages && Array.isArray(result.manifest.build.packages)
        ? result.manifest.build.packages.join(',')
        : '',
    'first-login': false,
    'login-hold': Boolean(result.manifest.loginHold),
  };
  if (pkg !== undefined) options.package = pkg;
  return options;
}

/** The scaffold's examples out, then mpimg.json, the imported files and IMPORT.md in. */
async function writeImported(staging: string, result: ImportResult, ctx: CommandContext, abs: string): Promise<void> {
  const a = result.answers;
  const tctx = templateContext(a);
  for (const f of PROJECT_FILES) {
    if (!EXAMPLES.includes(f.template)) continue;
    const p = path.join(staging, f.dest(tctx));
    fs.rmSync(p, { force: true });
    pruneEmpty(path.dirname(p), staging);
  }
  if (!result.manifest.motd) fs.rmSync(path.join(staging, 'motd.txt'), { force: true });

  fs.writeFileSync(path.join(staging, 'mpimg.json'), toJson(result.manifest));
  let n = 0;
  for (const [rel, f] of result.files) {
    if (++n % 64 === 0) await stopIfInterrupted(ctx, abs);
    const p = path.join(staging, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (f.link !== undefined) {
      fs.symlinkSync(f.link, p);
      continue;
    }
    fs.writeFileSync(p, f.data, { mode: f.mode });
    fs.chmodSync(p, f.mode);
  }
  fs.writeFileSync(path.join(staging, 'IMPORT.md'), renderReport({ ...result.report, project: abs }));
}

/** The project must load as `mpimg validate` loads it before it is put in place. */
function checkLoads(staging: string, abs: string): void {
  try {
    loadProject(staging);
  } catch (e) {
    if (e instanceof MpimgError) {
      throw new MpimgError(
        `the imported project does not validate, so nothing was written:\n${e.message.replaceAll(staging, abs)}`,
        {
          where: abs,
          hint: 'fix what the lines above name in the original (or report it: the import should have made a valid project)',
        },
      );
    }
    throw e;
  }
}

/** The staged project into `abs`: renamed there, or moved into an empty folder the user made. */
function putInPlace(staging: string, abs: string): void {
  checkTarget(abs);
  if (fs.existsSync(abs)) {
    // An empty folder the user made stays theirs (its mode, owner, mount): the project moves into
    // it, under a marker made exclusively, so two imports into one folder cannot mix.
    const marker = path.join(abs, '.mpimg-import-in-progress');
    try {
      fs.closeSync(fs.openSync(marker, 'wx'));
    } catch {
      throw new MpimgError(`${abs} is not empty any more`, {
        where: abs,
        hint: 'another import is writing into it: import into a new folder',
      });
    }
    try {
      if (fs.readdirSync(abs).length !== 1)
        throw new MpimgError(`${abs} is not empty any more`, {
          where: abs,
          hint: 'something wrote into it while the import ran: import into a new folder',
        });
      for (const name of fs.readdirSync(staging)) fs.renameSync(path.join(staging, name), path.join(abs, name));
    } finally {
      fs.rmSync(marker, { force: true });
    }
    fs.rmdirSync(staging);
  } else {
    try {
      fs.renameSync(staging, abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST')
        throw new MpimgError(`${abs} is not empty any more`, {
          where: abs,
          hint: 'something wrote into it while the import ran: import into a new folder',
        });
      throw e;
    }
  }
}
