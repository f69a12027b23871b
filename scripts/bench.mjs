// `npm run bench`: size and speed targets, measured on the built package (never in unit tests).
// Prints one line per measure with its target and PASS/MISS as it goes, then ends with one line per
// target (the SSH and image ones too) and exits 1 when any target was missed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const results = [];
const report = (name, value, target, ok) => {
  results.push({ name, value, target, ok });
  console.log(`${ok ? 'PASS' : 'MISS'}  ${name}: ${value}  (target ${target})`);
};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall time of `runs` runs of cmd, in ms (after two warm-up runs). */
function timeCmd(cmd, args, runs = 21, opts = {}) {
  for (let i = 0; i < 2; i++) spawnSync(cmd, args, opts);
  const t = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    const r = spawnSync(cmd, args, opts);
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  }
  return median(t);
}

if (!existsSync(join(root, 'lib/runtime/mpimg-runtime.cjs')))
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });

// 1. runtime size without payload
const runtimeBytes = statSync(join(root, 'lib/runtime/mpimg-runtime.cjs')).size;
report('runtime bundle size without payload', `${runtimeBytes} bytes`, '< 65536 bytes', runtimeBytes < 65536);

// 2. startup of a real bundle (generated project) against bare node
const work = mkdtempSync(join(tmpdir(), 'mpimg-bench-'));
try {
  const mpimg = join(root, 'bin/mpimg.js');
  const project = join(work, 'bench-app');
  execFileSync(process.execPath, [mpimg, 'new', project, '--yes', '--name', 'Bench App'], { stdio: 'ignore' });
  execFileSync(process.execPath, [mpimg, 'bundle'], { cwd: project, stdio: 'ignore' });
  const bundle = join(project, 'dist/bench-app.cjs');
  const bare = timeCmd(process.execPath, ['-e', '0']);
  const ours = timeCmd(process.execPath, [bundle, '--version']);
  const ratio = ours / bare;
  report(
    'startup `node bundle --version` / `node -e 0`',
    `${ratio.toFixed(2)} (${ours.toFixed(1)} ms vs ${bare.toFixed(1)} ms)`,
    '< 1.5',
    ratio < 1.5,
  );

  // 3. non-interactive generation against a trivial generator through the same yeoman-environment
  const gen = spawnSync(process.execPath, [join(root, 'scripts/bench-generate.mjs')], { encoding: 'utf8' });
  if (gen.status === 0) {
    const { ours: g, trivial } = JSON.parse(gen.stdout);
    const r = g / trivial;
    report(
      'generation `mpimg new --yes` / trivial generator',
      `${r.toFixed(2)} (${g.toFixed(0)} ms vs ${trivial.toFixed(0)} ms)`,
      '< 1.5',
      r < 1.5,
    );
  } else {
    report(
      'generation `mpimg new --yes` / trivial generator',
      `failed: ${gen.stderr.trim().split('\n').pop()}`,
      '< 1.5',
      false,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

// 3b. what an image project installs: `npm install` in a new project that got this package the way
// `mpimg new` gives it (a packed copy in vendor/), from the npm cache where it can. Before the
// scaffolding moved out of the package's dependencies this was about 360 packages.
{
  const dir = mkdtempSync(join(tmpdir(), 'mpimg-bench-install-'));
  try {
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], {
      cwd: root,
      stdio: 'ignore',
    });
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    const project = join(dir, 'light-app');
    execFileSync(process.execPath, [join(root, 'bin/mpimg.js'), 'new', project, '--yes', '--package', join(dir, tgz)], {
      stdio: 'ignore',
    });
    const started = process.hrtime.bigint();
    const r = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: project,
      encoding: 'utf8',
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.status !== 0) throw new Error(r.stderr);
    const ls = spawnSync('npm', ['ls', '--all', '--parseable'], { cwd: project, encoding: 'utf8' });
    const count = new Set(ls.stdout.split('\n').filter(Boolean)).size - 1;
    report(
      'packages an image project installs (npm install of generator-mpimg)',
      `${count} packages, ${seconds.toFixed(1)} s`,
      '<= 25 packages',
      count <= 25,
    );
  } catch (e) {
    report(
      'packages an image project installs (npm install of generator-mpimg)',
      `failed: ${String(e.message ?? e)
        .trim()
        .split('\n')
        .pop()}`,
      '<= 25 packages',
      false,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// 4. the SSH task library against plain ssh and Fabric 2 (starts its own sshd on 127.0.0.1),
// 5. `mpimg image --all` against one distribution (the API double on 127.0.0.1), and
// 6. the unit test lane and the image check it runs most: each writes its targets as JSON lines,
// which count here like the others.
const scratch = mkdtempSync(join(tmpdir(), 'mpimg-bench-results-'));
try {
  for (const [script, what] of [
    ['bench-ssh.mjs', 'ssh benchmark'],
    ['bench-image.mjs', 'image benchmark'],
    ['bench-unit.mjs', 'unit lane benchmark'],
  ]) {
    const file = join(scratch, `${script}.jsonl`);
    const child = spawnSync(process.execPath, [join(root, 'scripts', script), '--results', file], { stdio: 'inherit' });
    const lines = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
    results.push(...lines);
    if (child.status !== 0 || lines.length === 0)
      results.push({
        name: what,
        value: `exited ${child.status}${lines.length ? '' : ', no targets measured'}`,
        target: 'runs',
        ok: false,
      });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const missed = results.filter((r) => !r.ok).length;
console.log('\nTargets:');
for (const r of results) console.log(`${r.ok ? 'PASS' : 'MISS'}  ${r.name}: ${r.value}  (target ${r.target})`);
console.log(`${results.length - missed} of ${results.length} targets met`);
process.exitCode = missed ? 1 : 0;
