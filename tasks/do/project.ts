import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblems, validateManifest, type Manifest } from '../../runtime/manifest.js';
import { MpimgError } from '../errors.js';

/** Reads and validates <cwd>/mpimg.json through the one schema (runtime/manifest.ts). */
export function loadManifest(cwd: string): Manifest {
  const file = join(cwd, 'mpimg.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new MpimgError('no mpimg.json in this folder', { where: file, hint: 'run the command in an image project (`mpimg new <dir>` makes one)' });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new MpimgError(`mpimg.json is not valid JSON: ${(err as Error).message}`, { where: file, hint: 'fix the JSON syntax' });
  }
  const { manifest, problems } = validateManifest(data);
  if (!manifest) throw new MpimgError(formatProblems(problems, file), { where: file, hint: 'fix the listed keys, then run `mpimg validate`' });
  return manifest;
}
