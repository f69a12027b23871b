/**
 * Which template to import and where Packer ran. Given a folder, the template is its
 * template.json (droplet-1-clicks), marketplace-image.json (marketplace-partners), its *.pkr.hcl
 * files (read together, as Packer reads a folder), or the one other *.json with "builders". Paths
 * in a template are relative to where Packer ran: the template's folder (marketplace-partners) or
 * its parent (droplet-1-clicks: `<app>/files/...`, `common/scripts/...`); the one where more of the
 * named paths exist wins, and --base names it outright.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MpimgError } from '../../core/errors.js';

export interface Located {
  /** Absolute paths of the template file(s). */
  files: string[];
  /** The folder holding the template (the app folder). */
  dir: string;
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

function refuseLink(p: string): void {
  if (lstatOrNull(p)?.isSymbolicLink()) {
    throw new MpimgError(`${p} is a symbolic link: the import reads no file through a link`, {
      where: p,
      hint: 'name the file it points to, or copy the template project without links',
    });
  }
}

/** The template file(s) of a path given on the command line. */
export function locateTemplate(given: string): Located {
  const st = lstatOrNull(given);
  if (!st)
    throw new MpimgError(`no such file or folder: ${given}`, {
      where: given,
      hint: 'give the Packer template (template.json, marketplace-image.json, *.pkr.hcl) or the folder holding it',
    });
  if (st.isSymbolicLink()) refuseLink(given);
  if (st.isFile()) return { files: [path.resolve(given)], dir: path.dirname(path.resolve(given)) };
  if (!st.isDirectory()) throw new MpimgError(`${given} is neither a file nor a folder`, { where: given });
  const dir = fs.realpathSync(given);
  const names = fs.readdirSync(dir).sort();
  const pick = (n: string) => {
    const p = path.join(dir, n);
    refuseLink(p);
    return lstatOrNull(p)?.isFile() ? p : undefined;
  };
  for (const n of ['template.json', 'marketplace-image.json']) {
    const p = names.includes(n) ? pick(n) : undefined;
    if (p) return { files: [p], dir };
  }
  const hcl = names
    .filter((n) => n.endsWith('.pkr.hcl'))
    .map(pick)
    .filter((p): p is string => Boolean(p));
  if (hcl.length) return { files: hcl, dir };
  const json = names
    .filter((n) => n.endsWith('.json') && n !== 'package.json' && n !== 'package-lock.json')
    .map(pick)
    .filter((p): p is string => {
      if (!p) return false;
      try {
        const d = JSON.parse(fs.readFileSync(p, 'utf8')) as Record<string, unknown>;
        return Boolean(d && typeof d === 'object' && 'builders' in d);
      } catch {
        return false;
      }
    });
  if (json.length === 1) return { files: json, dir };
  if (json.length > 1)
    throw new MpimgError(
      `${given} holds ${json.length} Packer templates (${json.map((p) => path.basename(p)).join(', ')})`,
      { where: given, hint: 'name the one to import' },
    );
  throw new MpimgError(`no Packer template in ${given}`, {
    where: given,
    hint: 'give the template file itself, or a folder with template.json, marketplace-image.json or *.pkr.hcl',
  });
}

/**
 * Where Packer ran: `--base`, else the template's folder or its parent, whichever holds more of
 * the paths the template names (a tie: the template's folder).
 */
export function chooseBase(located: Located, referenced: string[], given?: string): { base: string; why: string } {
  if (given !== undefined) {
    const st = lstatOrNull(given);
    if (!st?.isDirectory())
      throw new MpimgError(`--base ${given} is not a folder`, {
        where: '--base',
        hint: 'name the folder Packer ran in (the paths of the template are relative to it)',
      });
    return { base: fs.realpathSync(given), why: 'given with --base' };
  }
  const relative = referenced.filter((r) => r !== '' && !r.startsWith('/') && !r.split('/').includes('..'));
  const count = (base: string) => relative.filter((r) => lstatOrNull(path.join(base, r)) !== null).length;
  const own = located.dir;
  const parent = path.dirname(own);
  const a = count(own);
  const b = parent !== own ? count(parent) : -1;
  if (b > a)
    return {
      base: parent,
      why: `the template's paths (e.g. ${relative[0]}) are relative to its parent folder, as in droplet-1-clicks`,
    };
  return {
    base: own,
    why:
      a > 0
        ? "the template's paths are relative to its own folder, as in marketplace-partners"
        : "none of the template's paths exist; its own folder was taken (--base names another)",
  };
}
