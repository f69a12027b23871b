import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Tests run the real `mpimg` bin and the real runtime bundle, so build them once per run.
export default function setup(): void {
  if (process.env.MPIMG_SKIP_BUILD === '1') return;
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}
