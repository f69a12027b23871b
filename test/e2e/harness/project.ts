import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run, type RunResult } from './exec.js';
import type { Suite } from './rootfs.js';

/** The image project every scenario builds: what a vendor gets from `mpimg new`, plus a few edits. */
export const PROJECT = { name: 'E2E Wiki', slug: 'e2e-wiki', vendor: 'acme', version: '1.0.0' } as const;
export const MOTD_LINE = 'Welcome to {{name}} {{version}} at {{ip}}';
export const DISTRO: Record<Suite, string> = { bookworm: 'debian-12-x64', trixie: 'debian-13-x64' };
/** A flag file that makes first-boot/30-flaky.sh fail, for the failing-script scenario. */
export const FAIL_FLAG = '/etc/e2e-fail-first-boot';
/** Where the e2e first-boot scripts record each run: "<script> <instance-id>". */
export const RUNS_FILE = '/var/lib/e2e-first-boot/runs';
export const FIRST_BOOT = ['10-setup', '20-record', '30-flaky', '40-last'] as const;

export interface Project {
  dir: string;
  slug: string;
  cjs: string;
  sh: string;
  /** Output of `mpimg new` and `make bundle`. */
  log: string;
}

/** The environment `mpimg` gets on this machine: no npm network access, a known locale. */
export function hostEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    // npx must never reach for the network: the package is linked below.
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

function write(file: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}

const record = (name: string) => `mkdir -p ${dirname(RUNS_FILE)}
echo "${name} $(cat /var/lib/cloud/data/instance-id)" >> ${RUNS_FILE}`;

/**
 * `mpimg new <dir> --yes --first-login --login-hold ...`, the vendor's edits (three more first-boot
 * scripts, files/ content), generator-mpimg linked into node_modules as `npm install` would, then
 * `make bundle`.
 */
export async function createProject(opts: {
  dir: string;
  repoRoot: string;
  suite: Suite;
  packages: string[];
}): Promise<Project> {
  const { dir, repoRoot } = opts;
  const gen = await run(
    'node',
    [
      join(repoRoot, 'bin/mpimg.js'),
      'new',
      dir,
      '--yes',
      '--first-login',
      '--login-hold',
      '--name',
      PROJECT.name,
      '--slug',
      PROJECT.slug,
      '--vendor',
      PROJECT.vendor,
      '--distro',
      DISTRO[opts.suite],
      '--packages',
      opts.packages.join(','),
      '--motd',
      MOTD_LINE,
    ],
    { env: hostEnv(), timeoutMs: 120_000, input: '' },
  );

  // generator-mpimg as a devDependency: the package under test (MPIMG_E2E_PACKAGE overrides the repository).
  const pkg = process.env.MPIMG_E2E_PACKAGE || repoRoot;
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync(pkg, join(dir, 'node_modules/generator-mpimg'));
  symlinkSync('../generator-mpimg/bin/mpimg.js', join(dir, 'node_modules/.bin/mpimg'));

  const slug = PROJECT.slug;
  write(join(dir, 'first-boot/20-record.sh'), `#!/bin/sh\nset -eu\n${record('20-record')}\necho recorded\n`, 0o755);
  write(
    join(dir, 'first-boot/30-flaky.sh'),
    `#!/bin/sh
set -eu
${record('30-flaky')}
if [ -e ${FAIL_FLAG} ]; then
  echo "e2e: 30-flaky fails on purpose (${FAIL_FLAG} exists)" >&2
  exit 3
fi
echo flaky-ok
`,
    0o755,
  );
  write(join(dir, 'first-boot/40-last.sh'), `#!/bin/sh\nset -eu\n${record('40-last')}\necho last\n`, 0o755);
  write(join(dir, `files/etc/${slug}/e2e.conf`), 'listen = 127.0.0.1:8080\n', 0o640);
  write(join(dir, `files/usr/local/bin/${slug}-hello`), `#!/bin/sh\necho "hello from ${slug}"\n`, 0o755);
  // A build script that edits a files/ config and gives it to a service user: both must survive the build.
  write(
    join(dir, 'scripts/20-own-config.sh'),
    `#!/bin/sh
set -eu
root=\${MPIMG_ROOT:-/}
echo 'workers = 4' >> "\${root%/}/etc/${slug}/e2e.conf"
chown nobody:nogroup "\${root%/}/etc/${slug}/e2e.conf"
`,
    0o755,
  );

  const bundle = await run('make', ['bundle'], { cwd: dir, env: hostEnv(), timeoutMs: 120_000 });
  return {
    dir,
    slug,
    cjs: join(dir, `dist/${slug}.cjs`),
    sh: join(dir, `dist/${slug}-install.sh`),
    log: `${gen.stdout}${gen.stderr}${bundle.stdout}${bundle.stderr}`,
  };
}

/** `mpimg run <task>` of the project against the droplet's sshd, as `make build` does. */
export function runTask(
  p: Project,
  task: string,
  ssh: { port: number; key: string; knownHosts: string },
  env: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  return run(
    join(p.dir, 'node_modules/.bin/mpimg'),
    [
      'run',
      task,
      '--host',
      '127.0.0.1',
      '--port',
      String(ssh.port),
      '--user',
      'root',
      '--identity',
      ssh.key,
      '--known-hosts',
      ssh.knownHosts,
    ],
    {
      cwd: p.dir,
      // The bed's build droplet is not a DigitalOcean droplet: the cleanup refuses those unless told.
      env: hostEnv({ MPIMG_BUILD_DROPLET: 'yes', ...env }),
      allowFail: true,
      timeoutMs: 20 * 60_000,
    },
  );
}
