/** Sub-generators only add to an existing image project: find it or explain what is wrong. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../runtime/manifest.js';
import { readProjectManifest } from './manifest-file.js';
import { MpimgError } from './errors.js';

export function loadProject(dir: string, generatorName: string): Manifest {
  const file = join(dir, 'mpimg.json');
  if (!existsSync(file)) {
    throw new MpimgError(`${dir} is not an image project (no mpimg.json)`, {
      where: dir,
      hint: `run \`mpimg add ${generatorName}\` (or \`yo mpimg:${generatorName}\`) inside a project made by \`mpimg new <dir>\` or \`yo mpimg\``,
    });
  }
  return readProjectManifest(file).manifest;
}
