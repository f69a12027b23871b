import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle, type BundleResult } from '../../tasks/bundle/write-bundle.js';
import { makeProject } from './project-fixture.js';
import { tempDir } from './temp.js';

/** Bundles the every-feature fixture project into a world-readable temp folder. */
export function bundledFixture(opts: Parameters<typeof makeProject>[0] = {}): BundleResult & { project: string } {
  const project = makeProject(opts);
  const out = tempDir('mpimg-dist-');
  fs.chmodSync(out, 0o755);
  return { ...writeBundle(loadProject(project), out), project };
}

/** A staged droplet root with a user's .bashrc and an sshd_config, as a fresh Debian has them. */
export function stagedRoot(bashrc = '# ~/.bashrc: user content\nalias ll="ls -l"\nexport EDITOR=vi\n'): string {
  const root = tempDir('mpimg-root-');
  fs.mkdirSync(path.join(root, 'root'), { mode: 0o700 });
  fs.mkdirSync(path.join(root, 'etc/ssh'), { recursive: true });
  fs.writeFileSync(path.join(root, 'root/.bashrc'), bashrc);
  fs.writeFileSync(
    path.join(root, 'etc/ssh/sshd_config'),
    'Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n',
  );
  return root;
}
