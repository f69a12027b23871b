/**
 * mpimg.json, read in one place for the generator, the CLI and the task library: its text (or an
 * error saying why there is none), then parsed and validated by the one schema in runtime/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatProblems, validateManifest, type Manifest } from '../runtime/manifest.js';
import { MpimgError } from './errors.js';

/**
 * The text of mpimg.json, or an error that says why there is none: missing, not a file (a folder of
 * that name), or starting with a UTF-8 byte order mark (JSON.parse would only say "Unexpected token").
 */
export function readManifestText(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new MpimgError('no mpimg.json in this folder', {
      where: file,
      hint: 'run this inside an image project (create one with `mpimg new <dir>`)',
    });
  }
  if (!st.isFile()) {
    throw new MpimgError(`mpimg.json is not a file (it is a ${st.isDirectory() ? 'folder' : 'special file'})`, {
      where: file,
      hint: "the project's manifest must be a JSON file named mpimg.json: move that away (e.g. `mv mpimg.json mpimg.json.old`) and put the manifest file there",
    });
  }
  const text = fs.readFileSync(file, 'utf8');
  if (text.startsWith('\uFEFF')) {
    throw new MpimgError(
      'mpimg.json starts with a byte order mark (BOM, the bytes EF BB BF), which JSON does not allow',
      {
        where: `${file}:1:1`,
        hint: "remove it: `sed -i '1s/^\\xEF\\xBB\\xBF//' mpimg.json`, or save the file as UTF-8 without BOM in your editor",
      },
    );
  }
  return text;
}

function readManifestJson(file: string): unknown {
  const text = readManifestText(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let where = file;
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      where = `${file}:${line}:${before.length - before.lastIndexOf('\n')}`;
    }
    throw new MpimgError(`mpimg.json is not valid JSON: ${msg}`, {
      where,
      hint: 'fix the JSON syntax (a trailing comma or a missing quote is common)',
    });
  }
}

/** <dir>/mpimg.json, parsed and validated by the one schema; every problem at once. */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'mpimg.json');
  const { manifest, problems } = validateManifest(readManifestJson(file));
  if (!manifest)
    throw new MpimgError(formatProblems(problems, file), { hint: 'fix the fields above and run again', problems });
  return manifest;
}

/** mpimg.json of an existing project, parsed and validated by the one schema; its raw object too. */
export function readProjectManifest(file: string): { raw: Record<string, unknown>; manifest: Manifest } {
  return parseProjectManifest(readManifestText(file), file);
}

/** The same for the text of mpimg.json already read (`file` names it in errors). */
export function parseProjectManifest(text: string, file: string): { raw: Record<string, unknown>; manifest: Manifest } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new MpimgError(`mpimg.json is not valid JSON: ${(err as Error).message}`, {
      where: file,
      hint: 'fix the JSON syntax, then run again; nothing was written',
    });
  }
  const { manifest, problems } = validateManifest(data);
  if (!manifest) {
    throw new MpimgError(`mpimg.json is not valid\n${formatProblems(problems, file)}`, {
      where: file,
      hint: 'fix the listed fields, then run again; nothing was written',
    });
  }
  return { raw: data as Record<string, unknown>, manifest };
}
