/**
 * The Packer template's shell: the provisioner lines `mpimg bundle` renders are RUN by the real
 * packer of this machine (a `null` source with the ssh communicator, against the test sshd on
 * 127.0.0.1; every path they touch is in temp folders), with hostile folder and script names, and
 * they must run exactly the build scripts the SSH task `scripts` runs. Also: the template states the
 * oldest Packer it needs, and that Packer (Debian's 1.6.6 here) refuses it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { PACKER_MIN_VERSION } from '../../tasks/bundle/packer.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { scripts } from '../../tasks/standard/index.js';
import { makeProject } from '../helpers/project-fixture.js';
import { hclString, nullBuildDir, runPacker } from '../helpers/packer-run.js';
import { sshdPerFile } from '../helpers/sshd-run.js';
import { tempDir } from '../helpers/temp.js';
import { connectTo } from '../tasks/helpers.js';

const sshd = sshdPerFile();
let packerHome: string;

beforeAll(async () => {
  if (spawnSync('packer', ['version'], { encoding: 'utf8' }).status !== 0) {
    throw new Error(
      'packer is not installed, so the generated Packer template cannot be run: install it (Debian: `apt-get install packer`; .ci/run installs it)',
    );
  }
  packerHome = tempDir('mpimg-packer-home-');
});

/** Packer with no network, no checkpoint calls and a throwaway HOME. */
const packer = (cwd: string, args: string[]) =>
  runPacker(cwd, args, { home: packerHome, env: { PACKER_PLUGIN_PATH: join(packerHome, 'plugins') } });

/** A folder name and a script name a careless vendor (or an attacker's pull request) could commit. */
const HOSTILE_DIR =
  'build steps; touch PWNED-a $(touch PWNED-b) `touch PWNED-c` \'q\' "dq" & <x> ${var.do_token} %{if} tab-free.';
const HOSTILE_STEP = '20-it\'s $(touch PWNED-d); a&b <c> "$HOME".sh';
/** Values the scripts get in their environment: Packer's own quoting must carry them verbatim. */
const NAME = 'Acme\'s "Wiki" $(touch PWNED-e) & <b>';
const EDITION = "it's `touch PWNED-f` ${HOME} $PATH \\ %s";

/**
 * A project whose build scripts folder holds two build steps, the project's own cleanup and check
 * under custom names ($.cleanup.script, $.check.script), the conventional names, and a .gitkeep.
 * Every script appends its own name to `log` when it runs.
 */
function hostileProject(log: string, folder = HOSTILE_DIR): { dir: string; text: string } {
  const dir = makeProject({
    manifest: {
      name: NAME,
      variables: { EDITION: EDITION },
      build: { packages: ['jq'], scriptsDir: folder },
      cleanup: { script: `${folder}/80-our-cleanup.sh` },
      check: { script: `./${folder}//85-our-check.sh` },
    } as Partial<Manifest>,
  });
  const at = join(dir, folder);
  mkdirSync(at, { recursive: true });
  // each records its name, and (once) the values it got, to compare with mpimg.json's
  const body = (shell: string) =>
    `#!/bin/${shell}\nset -eu\nbasename "$0" >> '${log}'\nprintf '%s|%s' "$MPIMG_NAME" "$EDITION" > '${log}.env'\n`;
  for (const name of ['10-first.sh', HOSTILE_STEP]) writeFileSync(join(at, name), body('sh'), { mode: 0o755 });
  for (const name of ['80-our-cleanup.sh', '85-our-check.sh', '90-cleanup.sh', '99-img-check.sh'])
    writeFileSync(join(at, name), body('bash'), { mode: 0o755 });
  writeFileSync(join(at, '.gitkeep'), '');
  return { dir, text: readFileSync(writeBundle(loadProject(dir)).packer, 'utf8') };
}

/**
 * The template's build-scripts step (from its "# step scripts:" to the next step), run by packer against the test sshd.
 */
function runScriptsStep(text: string, project: string, work: string): ReturnType<typeof packer> {
  const from = text.indexOf('\n  # step scripts: ');
  const to = text.indexOf('\n  # step ', from + 1);
  expect(from, 'the template has its build scripts step').toBeGreaterThan(0);
  const runDir = nullBuildDir(sshd, {
    locals: { project: hclString(project), work: hclString(work) },
    body: text.slice(from, to),
  });
  return packer(runDir, ['build', '-color=false', 'run.pkr.hcl']);
}

const ran = (log: string): string[] =>
  existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
const pwned = (...dirs: string[]): string[] => dirs.flatMap((d) => readdirSync(d).filter((n) => n.startsWith('PWNED')));

describe("the Packer template's build scripts step, run by real packer", () => {
  it('hostile folder and script names stay one shell word each: the scripts run in order, nothing else runs', () => {
    const log = join(tempDir('mpimg-packer-log-'), 'ran');
    const { dir, text } = hostileProject(log);
    // the folder's name reaches no shell at all: only Packer's source paths (HCL text)
    const shell = text.split('\n').filter((l) => l.trimStart().startsWith('"') && !l.includes('source'));
    expect(shell.some((l) => l.includes('build steps'))).toBe(false);
    const work = join(tempDir('mpimg-packer-work-'), 'work');
    const r = runScriptsStep(text, dir, work);
    expect(r.stdout + r.stderr, 'packer build').not.toMatch(/Error|error/);
    expect(r.status).toBe(0);
    expect(ran(log)).toEqual(['10-first.sh', HOSTILE_STEP]);
    expect(readFileSync(`${log}.env`, 'utf8')).toBe(`${NAME}|${EDITION}`);
    expect(r.stdout).toContain(`--- ${HOSTILE_STEP}`);
    expect(pwned(dir, join(dir, HOSTILE_DIR), work, join(work, 'scripts'), '/tmp')).toEqual([]);

    // The whole template, as packer reads it: formatted, and valid once what Packer 1.6.6 cannot
    // parse is taken out (the packer {} block, droplet_agent; see test/do/packer.test.ts).
    const fmt = packer(dir, ['fmt', '-check', '-diff', 'dist/acme-wiki.pkr.hcl']);
    expect(fmt.stdout + fmt.stderr, 'packer fmt -check').toBe('');
    const old = text.replace(/^packer \{\n[\s\S]*?\n\}\n/m, '').replace(/^ {2}droplet_agent += false\n/m, '');
    writeFileSync(join(dir, 'dist/check.pkr.hcl'), old);
    const v = runPacker(dir, ['validate', 'dist/check.pkr.hcl'], {
      home: packerHome,
      timeout: 60_000,
      env: { DIGITALOCEAN_TOKEN: 'dop_v1_not-a-real-token' },
    });
    expect(v.stdout + v.stderr, 'packer validate').not.toMatch(/Error/);
    expect(v.status).toBe(0);
  }, 240_000);

  it('runs the scripts when the work folder is noexec, as /run is on a Debian or Ubuntu droplet (the initramfs mounts it so)', () => {
    const log = join(tempDir('mpimg-packer-log-'), 'ran');
    const { dir, text } = hostileProject(log, 'steps');
    const mnt = tempDir('mpimg-packer-noexec-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'noexec,nosuid,nodev,size=16m', 'mpimg-noexec', mnt]);
    try {
      // the mount really refuses to run what is in it
      writeFileSync(join(mnt, 'probe.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      expect(spawnSync(join(mnt, 'probe.sh')).error).toMatchObject({ code: 'EACCES' });
      const before = readdirSync('/var/tmp').filter((n) => n.startsWith('acme-wiki-scripts.'));
      const r = runScriptsStep(text, dir, join(mnt, 'work'));
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(ran(log)).toEqual(['10-first.sh', HOSTILE_STEP]);
      // the copy the scripts ran from is gone
      expect(readdirSync('/var/tmp').filter((n) => n.startsWith('acme-wiki-scripts.'))).toEqual(before);
    } finally {
      execFileSync('umount', [mnt]);
    }
  }, 240_000);

  for (const folder of ['steps', HOSTILE_DIR]) {
    it(`runs exactly the scripts the SSH task \`scripts\` runs: a custom-named cleanup or check is no build step (${folder === 'steps' ? 'steps/' : 'hostile folder name'})`, async () => {
      const packerLog = join(tempDir('mpimg-packer-log-'), 'ran');
      const { dir, text } = hostileProject(packerLog, folder);
      const r = runScriptsStep(text, dir, join(tempDir('mpimg-packer-work-'), 'work'));
      expect(r.status, r.stdout + r.stderr).toBe(0);

      // The same project over SSH: the standard task, against the same sshd, into a temp root.
      const sshLog = join(tempDir('mpimg-ssh-log-'), 'ran');
      for (const name of readdirSync(join(dir, folder)).filter((n) => n.endsWith('.sh'))) {
        const p = join(dir, folder, name);
        writeFileSync(p, readFileSync(p, 'utf8').replaceAll(packerLog, sshLog));
      }
      const saved = process.env.MPIMG_TARGET_ROOT;
      process.env.MPIMG_TARGET_ROOT = tempDir('mpimg-ssh-root-');
      const { c, err } = connectTo(sshd, { project: dir });
      try {
        await scripts(c);
      } finally {
        c.close();
        if (saved === undefined) delete process.env.MPIMG_TARGET_ROOT;
        else process.env.MPIMG_TARGET_ROOT = saved;
      }
      expect(err.text).not.toMatch(/error|FAILED/);
      expect(ran(sshLog)).toEqual(['10-first.sh', HOSTILE_STEP]);
      expect(ran(packerLog)).toEqual(ran(sshLog));
      expect(readFileSync(`${packerLog}.env`, 'utf8')).toBe(readFileSync(`${sshLog}.env`, 'utf8'));
    }, 240_000);
  }

  it('apt package names reach the shell as single-quoted words', () => {
    const dir = makeProject({
      manifest: { build: { packages: ['nginx=1.24.0-1~bookworm', 'php8.3-fpm'] } } as Partial<Manifest>,
    });
    const text = readFileSync(writeBundle(loadProject(dir)).packer, 'utf8');
    expect(text).toContain("install 'nginx=1.24.0-1~bookworm' 'php8.3-fpm'\",");
  });
});

describe('the Packer version the template needs', () => {
  it(`states it (required_version ">= ${PACKER_MIN_VERSION}"), and an older packer refuses the template as written`, () => {
    const dir = makeProject();
    const file = writeBundle(loadProject(dir)).packer;
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`required_version = ">= ${PACKER_MIN_VERSION}"`);
    const version = /Packer v(\d+\.\d+\.\d+)/.exec(packer(dir, ['version']).stdout)?.[1];
    expect(version, "this machine's packer is Debian's 1.6.6, older than the template needs").toBe('1.6.6');
    const v = packer(dir, ['validate', file]);
    expect(v.status).not.toBe(0);
    expect(v.stdout + v.stderr).toContain('Unsupported Packer Core version');
    expect(v.stdout + v.stderr).toContain(`This configuration does not support Packer version ${version}`);
  });
});
