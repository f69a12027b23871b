/**
 * Writes dist/<slug>.cjs (the prebuilt runtime with the payload filled in), dist/<slug>-install.sh,
 * dist/<slug>-build.sh (the catalog build steps) and dist/<slug>.pkr.hcl.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PAYLOAD_SENTINEL, type Payload } from '../../runtime/payload.js';
import { MpimgError } from '../../core/errors.js';
import { packageVersion, runtimeBundlePath } from '../../core/paths.js';
import { buildScriptName, renderBuildScript } from './build-script.js';
import { buildPlan } from './plan-builder.js';
import type { Project } from './project.js';
import { renderPacker } from './packer.js';
import { renderShInstaller } from './sh-installer.js';

export interface BundleResult {
  cjs: string;
  sh: string;
  build: string;
  packer: string;
  payloadBytes: number;
  runtimeBytes: number;
}

export function makePayload(project: Project): Payload {
  const version = packageVersion();
  return {
    format: 1,
    generator: version,
    manifest: project.manifest,
    plan: buildPlan(project, version),
    scripts: {
      cleanup: fs.readFileSync(project.cleanupScript.abs).toString('base64'),
      check: fs.readFileSync(project.checkScript.abs).toString('base64'),
    },
    variables: project.variables,
  };
}

/** Written next to the target then renamed, so a failed bundle never leaves a half file in dist/. */
function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/**
 * What `mpimg bundle` writes into dist/ (or `outDir`), by file name: all of it follows from the
 * project alone (and, for the Packer template, the way from `outDir` to the project).
 */
export function bundleOutputs(
  project: Project,
  outDir = path.join(project.dir, 'dist'),
): { files: Array<{ name: string; text: string; mode: number }>; runtimeBytes: number; payloadBytes: number } {
  const runtimePath = runtimeBundlePath();
  if (!fs.existsSync(runtimePath)) {
    throw new MpimgError(`the runtime bundle is missing: ${runtimePath}`, {
      hint: 'build generator-mpimg first (npm run build in its folder)',
    });
  }
  const runtime = fs.readFileSync(runtimePath, 'utf8');
  const literal = JSON.stringify(PAYLOAD_SENTINEL);
  const at = runtime.indexOf(literal);
  if (at < 0 || runtime.indexOf(literal, at + 1) >= 0) {
    throw new MpimgError(`the runtime bundle has no single payload slot: ${runtimePath}`, {
      hint: 'rebuild generator-mpimg (npm run build)',
    });
  }
  const payload = makePayload(project);
  // JSON inside a JS string literal: JSON.stringify twice gives a valid, exact literal.
  const filled = runtime.slice(0, at) + JSON.stringify(JSON.stringify(payload)) + runtime.slice(at + literal.length);
  const slug = project.manifest.slug;
  return {
    files: [
      { name: `${slug}.cjs`, text: filled, mode: 0o755 },
      { name: `${slug}-install.sh`, text: renderShInstaller(payload), mode: 0o755 },
      {
        name: buildScriptName(slug),
        text: renderBuildScript(project, {
          generator: payload.generator,
          variables: payload.variables,
          overrides: project.overrides,
        }),
        mode: 0o755,
      },
      {
        name: `${slug}.pkr.hcl`,
        text: renderPacker(project, payload.generator, payload.variables, outDir),
        mode: 0o644,
      },
    ],
    runtimeBytes: runtime.length,
    payloadBytes: filled.length - runtime.length,
  };
}

export function writeBundle(project: Project, outDir = path.join(project.dir, 'dist')): BundleResult {
  const out = bundleOutputs(project, outDir);
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of out.files) writeAtomic(path.join(outDir, f.name), f.text, f.mode);
  const slug = project.manifest.slug;
  return {
    cjs: path.join(outDir, `${slug}.cjs`),
    sh: path.join(outDir, `${slug}-install.sh`),
    build: path.join(outDir, buildScriptName(slug)),
    packer: path.join(outDir, `${slug}.pkr.hcl`),
    payloadBytes: out.payloadBytes,
    runtimeBytes: out.runtimeBytes,
  };
}
