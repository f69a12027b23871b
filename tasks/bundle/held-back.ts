/**
 * Which templates of $.files.templates the image does not carry at their path. Apart from
 * first-boot-prepare.ts because the build steps (the task library) need it without the bundler's
 * renderer and its ejs.
 */
import * as fs from 'node:fs';
import type { Manifest } from '../../runtime/manifest.js';
import { TEMPLATE_PLACEHOLDER_RE } from '../../runtime/sections/secrets.js';

/** A template holds a secret: a {{secret.NAME}} placeholder (an unknown NAME is refused by templateProblems). */
export const holdsSecret = (text: string): boolean =>
  [...text.matchAll(TEMPLATE_PLACEHOLDER_RE)].some(([, key]) => key.startsWith('secret.'));

/**
 * The templates the image does not carry at their path: those that hold a secret. They are kept in
 * the root-only templates folder of the runtime home and first boot writes them into place, filled in,
 * with the owner, group and mode declared ($.files.owners; else the file's mode in files/). Templates of
 * the droplet's IP, hostname or variables only stay at their path: the build's service checks
 * (nginx -t) read them, and a placeholder address is no secret.
 */
export function heldBackTemplates(project: {
  manifest: Manifest;
  files: readonly { target: string; abs: string }[];
}): Set<string> {
  const out = new Set<string>();
  for (const target of project.manifest.files?.templates ?? []) {
    const f = project.files.find((x) => x.target === target);
    if (f && holdsSecret(fs.readFileSync(f.abs, 'utf8'))) out.add(target);
  }
  return out;
}
