/** Sub-generators only add to an existing image project: find it or explain what is wrong. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblems, validateManifest, type Manifest } from '../../runtime/manifest.js';
import { readManifestText } from '../../tasks/bundle/project.js';
import { MpimgError } from '../../tasks/errors.js';

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
