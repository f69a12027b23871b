/** Paths of this package for the generators; the package root itself is found by tasks/paths.ts. */
import { join } from 'node:path';
import { packageVersion, templatesDir } from '../../tasks/paths.js';

/** templates/project/: the image project skeleton. */
export function projectTemplates(): string {
  return join(templatesDir(), 'project');
}

export const generatorVersion = packageVersion;
