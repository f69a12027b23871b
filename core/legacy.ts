/**
 * What earlier releases generated, to recognise a file the vendor never edited in a project made
 * before the generator recorded hashes (0.1.0): such a file is refreshed like any unedited one.
 * Only the templates that changed since are kept (templates/legacy/<version>/); the cleanup and
 * check copies of those releases are known by their sha256 (they took no answers).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import { templatesDir } from './paths.js';
import type { TemplateContext } from './project.js';
import { sha256 } from './write.js';

interface LegacyFile {
  version: string;
  template: string;
  dest: (c: TemplateContext) => string;
}

const LEGACY: readonly LegacyFile[] = [
  { version: '0.1.0', template: 'Makefile.ejs', dest: () => 'Makefile' },
  { version: '0.1.0', template: 'README.md.ejs', dest: () => 'README.md' },
  { version: '0.1.0', template: 'mpimgfile.mjs.ejs', dest: () => 'mpimgfile.mjs' },
  { version: '0.1.0', template: 'scripts/10-configure.sh.ejs', dest: () => 'scripts/10-configure.sh' },
  { version: '0.1.0', template: 'packer/image.pkr.hcl.ejs', dest: (c) => `packer/${c.slug}.pkr.hcl` },
];

/** sha256 of the cleanup and check copies earlier releases put into scripts/. */
export const LEGACY_SCRIPT_SHAS: Readonly<Record<string, readonly string[]>> = {
  'scripts/90-cleanup.sh': ['12ede1207dab97e29aade27088e6ed95f4f34fad6e66e155a24a83363352e94c'],
  'scripts/99-img-check.sh': ['6f93004405235dab93a27f6260dc6bbf81ab101ca3eb9ce456f9a11b8fe4e725'],
};

/**
 * Files an earlier release generated that this one no longer does (the package or the bundle has them now).
 * `usedBy`: the old generated file that still reads it; while the vendor keeps an edited copy of
 * that file, this one (and its mpimg.json field) stays.
 */
export const RETIRED = (c: TemplateContext): Array<{ rel: string; why: string; usedBy?: string }> => [
  {
    rel: 'scripts/90-cleanup.sh',
    why: "the package's cleanup runs now (`mpimg add cleanup-script` makes a copy of your own)",
    usedBy: 'mpimgfile.mjs',
  },
  {
    rel: 'scripts/99-img-check.sh',
    why: "the package's image check runs now (`mpimg add check-script` makes a copy of your own)",
    usedBy: 'mpimgfile.mjs',
  },
  {
    rel: `packer/${c.slug}.pkr.hcl`,
    why: `\`make bundle\` writes the Packer template from mpimg.json now (dist/${c.slug}.pkr.hcl)`,
  },
];

/**
 * For each project file with no recorded hash that still holds exactly what an earlier release
 * generated (rendered with the answers it was generated with), that file's sha256.
 */
export function legacyRecord(dir: string, ctx: TemplateContext): Record<string, string> {
  const out: Record<string, string> = {};
  const consider = (rel: string, matches: (have: Buffer) => boolean) => {
    const abs = join(dir, rel);
    if (!existsSync(abs)) return;
    const have = readFileSync(abs);
    if (matches(have)) out[rel] = sha256(have);
  };
  for (const f of LEGACY) {
    const src = join(templatesDir(), 'legacy', f.version, f.template);
    const text = ejs.render(readFileSync(src, 'utf8'), ctx, { filename: src });
    consider(f.dest(ctx), (have) => have.equals(Buffer.from(text, 'utf8')));
  }
  for (const [rel, shas] of Object.entries(LEGACY_SCRIPT_SHAS)) consider(rel, (have) => shas.includes(sha256(have)));
  return out;
}
