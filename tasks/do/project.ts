import type { Manifest } from '../../runtime/manifest.js';
import { readManifest } from '../bundle/project.js';

/** Reads and validates <cwd>/mpimg.json (the same reader as `mpimg bundle`). */
export function loadManifest(cwd: string): Manifest {
  return readManifest(cwd);
}
