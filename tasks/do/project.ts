import type { Manifest } from '../../runtime/manifest.js';
import { readManifest } from '../../core/manifest-file.js';

/** Reads and validates <cwd>/mpimg.json (the same reader as `mpimg bundle`). */
export function loadManifest(cwd: string): Manifest {
  return readManifest(cwd);
}
