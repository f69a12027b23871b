// `mpimg bundle --out DIR`: the Packer template written elsewhere still finds the project and the
// bundle's files, proven with the real `packer validate` (whose file provisioners check that every
// source exists) started from other folders, with the project's own dist/ gone.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOKEN } from '../do/support.js';
import { runPacker } from '../helpers/packer-run.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const mpimg = (args: string[], cwd: string) =>
  spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

let packerHome: string;

/** The real packer, offline, with a throwaway HOME, from `cwd`. */
function packerValidate(cwd: string, template: string) {
  return runPacker(cwd, ['validate', template], {
    home: packerHome,
    timeout: 60_000,
    env: { PACKER_PLUGIN_PATH: path.join(packerHome, 'plugins'), DIGITALOCEAN_TOKEN: TOKEN },
  });
}

/**
 * This machine's packer is Debian's 1.6.6, older than the template's target: what it cannot parse
 * (the packer block with required_version and required_plugins, droplet_agent) are taken out of a copy next to the
 * template.
 */
function oldPackerCopy(template: string): string {
  const text = fs.readFileSync(template, 'utf8');
  const stripped = text.replace(/^packer \{\n[\s\S]*?\n\}\n/m, '').replace(/^ {2}droplet_agent += false\n/m, '');
  expect(stripped.length).toBeLessThan(text.length - 100);
  const copy = path.join(path.dirname(template), 'check.pkr.hcl');
  fs.writeFileSync(copy, stripped);
  return copy;
}

beforeAll(() => {
  try {
    execFileSync('packer', ['version'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      'packer is not installed, so the template cannot be checked: install it (Debian: `apt-get install packer`; .ci/run installs it)',
    );
  }
  packerHome = tempDir('mpimg-packer-home-');
  fs.mkdirSync(path.join(packerHome, 'plugins'));
});

describe('mpimg bundle --out DIR', () => {
  it('writes a template that finds the project and its own files from wherever packer starts', () => {
    const top = tempDir('mpimg-out-');
    const project = makeProject({ dir: path.join(top, 'repo', 'images', 'wiki $(touch pwned) "q"') });
    // the output folder is reached through a link, in another tree
    fs.mkdirSync(path.join(top, 'elsewhere', 'real'), { recursive: true });
    fs.symlinkSync(path.join(top, 'elsewhere', 'real'), path.join(top, 'out-link'));
    const r = mpimg(['bundle', '--project', project, '--out', 'out-link/packer'], top);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote out-link/packer/acme-wiki.pkr.hcl');
    expect(fs.existsSync(path.join(project, 'dist'))).toBe(false);
    const template = path.join(top, 'out-link/packer/acme-wiki.pkr.hcl');
    const text = fs.readFileSync(template, 'utf8');
    expect(text).toContain('project       = "${path.root}/../../../repo/images/wiki $(touch pwned) \\"q\\""');
    expect(text).toContain('source      = "${path.root}/acme-wiki-install.sh"');
    expect(text).toContain('source      = "${path.root}/acme-wiki-build.sh"');
    // the fixture's build step, uploaded from the project folder
    expect(text).toContain('source      = "${local.project}/scripts/10-install.sh"');

    const check = oldPackerCopy(template);
    const runs: Array<[string, string]> = [
      [path.dirname(template), 'check.pkr.hcl'],
      [top, 'out-link/packer/check.pkr.hcl'],
      ['/', check],
      [project, path.relative(project, check)],
    ];
    for (const [cwd, file] of runs) {
      const v = packerValidate(cwd, file);
      expect(v.stdout + v.stderr, `packer validate ${file} in ${cwd}`).not.toMatch(/Error|Bad source/);
      expect(v.status).toBe(0);
    }
    expect(fs.existsSync(path.join(top, 'pwned'))).toBe(false);

    // a build script the template names but that is not there is what packer validate refuses
    fs.renameSync(path.join(project, 'scripts'), path.join(project, 'scripts-moved'));
    const missing = packerValidate('/', check);
    expect(missing.status).not.toBe(0);
    expect(missing.stdout + missing.stderr).toMatch(/scripts/);
  });

  it('the default dist/ keeps the template as it was: the project is the folder above it', () => {
    const project = makeProject();
    expect(mpimg(['bundle'], project).status).toBe(0);
    const text = fs.readFileSync(path.join(project, 'dist/acme-wiki.pkr.hcl'), 'utf8');
    expect(text).toContain('project       = "${path.root}/.."');
    const v = packerValidate(
      project,
      path.relative(project, oldPackerCopy(path.join(project, 'dist/acme-wiki.pkr.hcl'))),
    );
    expect(v.stdout + v.stderr).not.toMatch(/Error/);
    expect(v.status).toBe(0);
    // --out the project folder itself
    expect(mpimg(['bundle', '--out', '.'], project).status).toBe(0);
    expect(fs.readFileSync(path.join(project, 'acme-wiki.pkr.hcl'), 'utf8')).toContain(
      'project       = "${path.root}"',
    );
  });

  it('--out that is a file: exit 2, nothing written', () => {
    const project = makeProject();
    fs.writeFileSync(path.join(project, 'out.txt'), 'keep\n');
    const r = mpimg(['bundle', '--out', 'out.txt'], project);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: --out "out\.txt" is a file, not a folder\n/);
    expect(fs.readFileSync(path.join(project, 'out.txt'), 'utf8')).toBe('keep\n');
    expect(fs.existsSync(path.join(project, 'dist'))).toBe(false);
  });
});
