import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages, UNIT_PACKAGES } from './debian-packages.js';

// Tests run the real `mpimg` bin and the real runtime bundle, so build them once per run.
export default function setup(): void {
  ensureDebianPackages(UNIT_PACKAGES, 'unit tests');
  if (process.env.MPIMG_SKIP_BUILD === '1') return;
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}
