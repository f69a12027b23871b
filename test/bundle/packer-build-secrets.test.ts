/**
 * Build secrets in the Packer template: a sensitive variable per secret whose value comes from the
 * environment (never from the template or dist/), and the build scripts step run by the real packer
 * against the test sshd: the script gets the value, Packer's output masks it, no command line has it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { makeProject } from '../helpers/project-fixture.js';
import { hclString, nullBuildDir, runPacker } from '../helpers/packer-run.js';
import { sshdPerFile } from '../helpers/sshd-run.js';
import { tempDir } from '../helpers/temp.js';

const VALUE = 'PKR-LIC-5e6f7a8b9c0d-acme';
const sshd = sshdPerFile();
const home = tempDir('mpimg-packer-home-');

const packer = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) => runPacker(cwd, args, { home, env });

function project(log: string): { dir: string; text: string } {
  const dir = makeProject({
    manifest: { build: { packages: ['jq'], secrets: [{ name: 'LICENSE_KEY' }] } } as Partial<Manifest>,
  });
  writeFileSync(
    join(dir, 'scripts/15-licence.sh'),
    `#!/bin/sh\nset -eu\necho "licence: $LICENSE_KEY"\nprintf '%s' "$LICENSE_KEY" > '${log}'\nfor f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null || true; echo; done > '${log}.cmdlines'\n`,
    { mode: 0o755 },
  );
  // a value in the environment while bundling must not reach dist/
  process.env.MPIMG_BUILD_SECRET_LICENSE_KEY = VALUE;
  try {
    return { dir, text: readFileSync(writeBundle(loadProject(dir)).packer, 'utf8') };
  } finally {
    delete process.env.MPIMG_BUILD_SECRET_LICENSE_KEY;
  }
}

describe('build secrets in the Packer template', () => {
  it('a sensitive variable from the environment; nothing of the value in dist/; validate needs it', () => {
    const log = join(tempDir('mpimg-packer-secret-'), 'seen');
    const { dir, text } = project(log);
    expect(text).toContain(
      'variable "build_secret_LICENSE_KEY" {\n  type      = string\n  default   = env("MPIMG_BUILD_SECRET_LICENSE_KEY")\n  sensitive = true\n',
    );
    expect(text).toMatch(
      /environment_vars = \[.*"LICENSE_KEY=\$\{var\.build_secret_LICENSE_KEY\}"\]\n {4}use_env_var_file = true\n/,
    );
    const grep = spawnSync('grep', ['-rlaF', VALUE, join(dir, 'dist')], { encoding: 'utf8' });
    expect([grep.status, grep.stdout]).toEqual([1, '']);
    // Packer 1.6.6 here: without what it cannot parse (see packer-template.test.ts)
    const old = text.replace(/^packer \{\n[\s\S]*?\n\}\n/m, '').replace(/^ {2}droplet_agent += false\n/m, '');
    writeFileSync(join(dir, 'dist/check.pkr.hcl'), old);
    const base = { DIGITALOCEAN_TOKEN: 'dop_v1_not-a-real-token' };
    const without = packer(dir, ['validate', 'dist/check.pkr.hcl'], base);
    expect(without.status).not.toBe(0);
    expect(without.stdout + without.stderr).toContain('The build secret LICENSE_KEY has no value');
    for (const env of [{ MPIMG_BUILD_SECRET_LICENSE_KEY: VALUE }, { PKR_VAR_build_secret_LICENSE_KEY: VALUE }]) {
      const ok = packer(dir, ['validate', 'dist/check.pkr.hcl'], { ...base, ...env });
      expect(ok.stdout + ok.stderr).not.toMatch(/Error/);
      expect(ok.status).toBe(0);
    }
  });

  it('the build scripts step run by packer: the script gets the value, on no command line, masked in the output', () => {
    const log = join(tempDir('mpimg-packer-secret-'), 'seen');
    const { dir, text } = project(log);
    const from = text.indexOf('\n  # step scripts: ');
    const to = text.indexOf('\n  # step ', from + 1);
    const variable = /^variable "build_secret_LICENSE_KEY" \{\n[\s\S]*?\n\}\n/m.exec(text)![0];
    const work = join(tempDir('mpimg-packer-work-'), 'work');
    const runDir = nullBuildDir(sshd, {
      head: variable,
      locals: { project: hclString(dir), work: hclString(work) },
      body: text.slice(from, to),
    });
    const r = packer(runDir, ['build', '-color=false', 'run.pkr.hcl'], { MPIMG_BUILD_SECRET_LICENSE_KEY: VALUE });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe(VALUE);
    expect(readFileSync(`${log}.cmdlines`, 'utf8')).toContain('15-licence.sh');
    expect(readFileSync(`${log}.cmdlines`, 'utf8')).not.toContain(VALUE);
    expect(r.stdout).toContain('licence: <sensitive>');
    expect(r.stdout + r.stderr).not.toContain(VALUE);
  }, 240_000);
});
