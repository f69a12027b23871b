/**
 * The project's files as the bundle reads them: names that must be UTF-8 and one line, regular files
 * where a file is expected, files/ walked without following a link, and nothing read through a link
 * that leads out of the project (the vendor's machine would be bundled silently).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONTROL_RE, type Problem } from '../../runtime/manifest.js';
import { PLACEHOLDER_NAMES } from './scripts-dir.js';

export interface ProjectFile {
  /** Path inside the project (POSIX separators). */
  rel: string;
  abs: string;
  mode: number;
}

/** A link in files/, laid down as a link (never followed when bundling). */
export interface ProjectLink {
  rel: string;
  target: string;
  /** The droplet path of the link. */
  path: string;
}

/** Bytes of a file name as printable ASCII for a message and a bash $'...' word: others as \xHH. */
function printableName(raw: Buffer): string {
  return [...raw]
    .map((b) =>
      b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x27
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

/**
 * The names in project folder `rel`, sorted. A name that is not UTF-8 is reported (with its bytes as
 * escapes) and left out: Node would read it back as another name, and no plan, script or
 * mpimg.json could name it.
 */
export function namesIn(dir: string, rel: string, out: Problem[]): string[] {
  const names: string[] = [];
  for (const raw of fs.readdirSync(path.join(dir, rel), { encoding: 'buffer' })) {
    const name = raw.toString('utf8');
    if (Buffer.from(name, 'utf8').equals(raw)) names.push(name);
    else {
      const shown = printableName(raw);
      out.push({
        path: `${rel}/${shown}`,
        message: 'file name is not UTF-8 text',
        hint: `rename it, e.g. mv ${rel}/$'${shown}' ${rel}/NEW-NAME (file names in a project are UTF-8)`,
      });
    }
  }
  return names.sort();
}

export function fileAt(dir: string, rel: string, at: string, out: Problem[]): ProjectFile | undefined {
  const abs = path.join(dir, rel);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    out.push({ path: at, message: `missing file ${rel}`, hint: `create ${rel} or change ${at}` });
    return undefined;
  }
  if (!st.isFile()) {
    out.push({
      path: at,
      message: `${rel} is not a regular file`,
      hint: 'point it at a regular file (not a folder or a symlink)',
    });
    return undefined;
  }
  // A regular file, but maybe through a linked folder (first-login -> /elsewhere).
  if (outsideProblem(dir, rel, out, at)) return undefined;
  return { rel, abs, mode: st.mode & 0o7777 };
}

/**
 * Files under files/, mirrored onto `/`. A symlink is never followed: it becomes a link on the
 * droplet, pointing where it points inside the image. A relative link that climbs above the top of
 * files/ (out of the image, into the vendor's machine) is refused, and so is any name with a
 * control character (it would break the scripts the plan is written into).
 */
export function walkFiles(
  dir: string,
  base: string,
  out: Problem[],
  acc: Array<ProjectFile & { target: string }>,
  links: ProjectLink[],
): void {
  const absBase = path.join(dir, base);
  const visit = (relInside: string) => {
    const abs = path.join(absBase, relInside);
    for (const name of namesIn(dir, relInside ? `${base}/${relInside}` : base, out)) {
      if (PLACEHOLDER_NAMES.has(name)) continue;
      const childRel = relInside ? `${relInside}/${name}` : name;
      const childAbs = path.join(abs, name);
      const st = fs.lstatSync(childAbs);
      const rel = `${base}/${childRel}`;
      const ctl = CONTROL_RE.exec(name);
      if (ctl) {
        out.push({
          path: JSON.stringify(rel),
          message: `file name holds a control or line-separator character (U+${ctl[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`,
          hint: 'rename it: droplet file names are one line of printable text',
        });
        continue;
      }
      if (st.isSymbolicLink()) {
        const target = fs.readlinkSync(childAbs);
        const unusable = CONTROL_RE.test(target) || target === '';
        // Where the link leads, from the link's own folder in the image (files/ is the image's `/`).
        const climbs = !target.startsWith('/') && escapes(`/${relInside}`, target);
        if (unusable)
          out.push({
            path: rel,
            message: 'link target is empty or holds a control character',
            hint: 'point the link at a plain path',
          });
        else if (climbs)
          out.push({
            path: rel,
            message: `link points outside files/ (${target})`,
            hint: 'links in files/ may point within the image only (e.g. ../sites-available/site); copy the real file instead',
          });
        else links.push({ rel, target, path: `/${childRel}` });
      } else if (st.isDirectory()) visit(childRel);
      else if (st.isFile()) acc.push({ rel, abs: childAbs, mode: st.mode & 0o7777, target: `/${childRel}` });
      else out.push({ path: rel, message: 'not a regular file', hint: 'remove it from files/' });
    }
  };
  visit('');
}

/** True when a relative link in droplet folder `from` climbs above `/` (out of files/). */
function escapes(from: string, target: string): boolean {
  let depth = from.split('/').filter(Boolean).length;
  for (const part of target.split('/')) {
    if (part === '..') depth--;
    else if (part !== '' && part !== '.') depth++;
    if (depth < 0) return true;
  }
  return false;
}

/**
 * Where project path `rel` really leads when a link on the way takes it outside the project (the
 * vendor's machine would be bundled silently), else null. A link to a place inside it is fine.
 */
export function outsideProject(dir: string, rel: string): string | null {
  let real: string;
  try {
    real = fs.realpathSync(path.join(dir, rel));
  } catch {
    return null;
  }
  const project = fs.realpathSync(dir);
  return real === project || real.startsWith(`${project}${path.sep}`) ? null : real;
}

/** The one rule for every project file and folder read: it may not lead outside the project. */
export function outsideMessage(rel: string, real: string): { message: string; hint: string } {
  return {
    message: `${rel} leads outside the project (${real})`,
    hint: `keep ${rel} inside the project folder (a link to a place inside it is fine)`,
  };
}

/** True (and a problem) when `rel` leads outside the project. */
export function outsideProblem(dir: string, rel: string, out: Problem[], at = rel): boolean {
  const real = outsideProject(dir, rel);
  if (real !== null) out.push({ path: at, ...outsideMessage(rel, real) });
  return real !== null;
}
