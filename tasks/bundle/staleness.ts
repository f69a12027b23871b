/**
 * Generated files that no longer follow mpimg.json or the installed generator-mpimg: dist/ written by
 * an older bundle, a generated project file nobody edited but an older release or manifest wrote,
 * and customised copies of the cleanup or check whose package original changed since.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PROJECT_FILES } from '../../core/files.js';
import { answersFromManifest, templateContext } from '../../core/project.js';
import { knownAnswers, withDefaults } from '../../core/resolve.js';
import { RECORD_KEY, renderTemplate } from '../../core/write.js';
import { generatorConfig } from '../../core/yo-rc.js';
import { customisedCopies } from './customised.js';
import { checkScriptOf, cleanupScriptOf, packageScript } from './droplet-scripts.js';
import { loadProject, type Project } from './project.js';
import { buildScriptName } from './dist-names.js';
import { recordedOverrides } from './variables.js';
import { bundleOutputs } from './write-bundle.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A generated file that no longer follows the project, and the command that writes it again. */
export interface StaleFile {
  path: string;
  reason: string;
  run: 'bundle' | 'upgrade';
}

export interface Staleness {
  /** Generated files that are out of date: path, why, and what writes them again. */
  stale: StaleFile[];
  /** Customised copies whose package original changed since they were made. */
  warnings: string[];
}

export function staleness(project: Project): Staleness {
  const dir = project.dir;
  const stale: Staleness['stale'] = [];
  // dist/ is compared with what `mpimg bundle` would write with the same --var values as the last
  // bundle (recorded in its build script); overrides of variables mpimg.json no longer has are dropped
  // (the files then differ, and are stale).
  const script = join(dir, 'dist', buildScriptName(project.manifest.slug));
  const recorded = existsSync(script) ? recordedOverrides(readFileSync(script, 'utf8')) : {};
  const overrides = Object.fromEntries(
    Object.entries(recorded).filter(([k]) => k in (project.manifest.variables ?? {})),
  );
  const same = Object.keys(overrides).length ? loadProject(dir, { overrides }) : project;
  const outputs = bundleOutputs(same).files;
  // A bundle of an older release may lack a file this one writes: missing next to the others is stale too.
  const bundled = outputs.some((f) => existsSync(join(dir, 'dist', f.name)));
  for (const f of outputs) {
    const p = join(dir, 'dist', f.name);
    if (existsSync(p) ? readFileSync(p, 'utf8') !== f.text : bundled) {
      stale.push({
        path: `dist/${f.name}`,
        reason: existsSync(p)
          ? 'bundled before the last change to the project (or to generator-mpimg)'
          : 'missing (the bundle is from an older release)',
        run: 'bundle',
      });
    }
  }
  const rc = generatorConfig(dir);
  const record = (rc[RECORD_KEY] as Record<string, string> | undefined) ?? {};
  if (Object.keys(record).length) {
    const ctx = templateContext(
      withDefaults({ ...knownAnswers({}, rc), ...answersFromManifest(project.manifest) }, basename(dir)),
    );
    for (const f of PROJECT_FILES) {
      if (f.when && !f.when(ctx)) continue;
      const rel = f.dest(ctx);
      const abs = join(dir, rel);
      if (!existsSync(abs) || record[rel] === undefined) continue;
      const have = readFileSync(abs);
      // edited by the vendor: theirs, not stale
      if (sha(have) !== record[rel]) continue;
      if (!have.equals(renderTemplate(f, ctx)))
        stale.push({
          path: rel,
          reason: 'generated from an older mpimg.json or generator-mpimg, never edited',
          run: 'upgrade',
        });
    }
  }
  const warnings: string[] = [];
  const copies = customisedCopies(dir);
  for (const [which, choice] of [
    ['cleanup', cleanupScriptOf(dir, project.manifest)],
    ['check', checkScriptOf(dir, project.manifest)],
  ] as const) {
    if (!choice.custom) continue;
    const now = sha(readFileSync(packageScript(which)));
    const made = copies[choice.rel];
    const review = `mpimg add ${which}-script --show | diff -u ${choice.rel} -`;
    if (!made)
      warnings.push(
        `${choice.rel} is your own ${which}: it runs instead of the package's, which gets fixes with every release; review them with \`${review}\``,
      );
    else if (made.sha256 !== now)
      warnings.push(
        `${choice.rel} was copied from generator-mpimg ${made.from}; the package's ${which} changed since: review with \`${review}\``,
      );
  }
  return { stale, warnings };
}
