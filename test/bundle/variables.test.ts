/**
 * $.variables at bundle time: `mpimg bundle --var NAME=VALUE` and MPIMG_VAR_<NAME> override the
 * defaults, the resolved values are embedded in the payload, the build script and the Packer
 * template, and `mpimg validate` compares dist/ with a bundle of the same values.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import bundleCommand from '../../tasks/commands/bundle.js';
import validateCommand from '../../tasks/commands/validate.js';
import type { CommandContext } from '../../tasks/commands/types.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { validateManifest } from '../../runtime/manifest.js';
import { makePayload } from '../../tasks/bundle/write-bundle.js';
import { makeProject } from '../helpers/project-fixture.js';
import { Capture } from '../tasks/helpers.js';
import { stagedRoot } from '../helpers/bundled.js';

const VARS = { APP_VERSION: '2.4.1', EDITION: { default: 'community', description: 'which edition' } };

function ctx(cwd: string, env: NodeJS.ProcessEnv = {}): CommandContext & { stdout: Capture; stderr: Capture } {
  return { cwd, env, stdout: new Capture(), stderr: new Capture(), isTTY: false, signal: new AbortController().signal };
}
const project = (variables: Record<string, unknown> = VARS) => makeProject({ manifest: { variables } as never });
const dist = (dir: string, f: string) => readFileSync(join(dir, 'dist', f), 'utf8');
/** The payload as the bundle embeds it: JSON inside a JS string literal in dist/<slug>.cjs. */
const embedded = (dir: string, v: Record<string, string>) =>
  dist(dir, 'acme-wiki.cjs').includes(JSON.stringify(`"variables":${JSON.stringify(v)}`).slice(1, -1));

describe('mpimg bundle --var / MPIMG_VAR_<NAME>', () => {
  it('the defaults, else the overrides (--var wins over the environment), in payload, build script and Packer template', async () => {
    const dir = project();
    const plain = ctx(dir);
    expect(await bundleCommand.run([], plain)).toBe(0);
    expect(plain.stdout.text).toContain('wrote dist/acme-wiki-build.sh (the build steps of mpimg.json)');
    expect(makePayload(loadProject(dir)).variables).toEqual({ APP_VERSION: '2.4.1', EDITION: 'community' });
    expect(embedded(dir, { APP_VERSION: '2.4.1', EDITION: 'community' })).toBe(true);

    const c = ctx(dir, { MPIMG_VAR_APP_VERSION: '2.6.0', MPIMG_VAR_EDITION: 'pro', PATH: process.env.PATH });
    expect(await bundleCommand.run(['--var', 'APP_VERSION=2.5.0'], c)).toBe(0);
    // names only: a value may be the vendor's secret to keep out of logs
    expect(c.stdout.text).toContain(
      "variables given for this bundle (instead of mpimg.json's defaults): APP_VERSION, EDITION",
    );
    expect(c.stdout.text).not.toContain('2.5.0');
    expect(embedded(dir, { APP_VERSION: '2.5.0', EDITION: 'pro' })).toBe(true);
    const script = dist(dir, 'acme-wiki-build.sh');
    expect(script).toContain(
      '# mpimg-variables: {"APP_VERSION":"2.5.0","EDITION":"pro"}\n# mpimg-overrides: {"APP_VERSION":"2.5.0","EDITION":"pro"}\n',
    );
    expect(script).toContain("APP_VERSION='2.5.0'\nEDITION='pro'\n");
    expect(dist(dir, 'acme-wiki.pkr.hcl')).toContain(
      'environment_vars = ["APP_VERSION=2.5.0", "EDITION=pro", "MPIMG_ROOT=/"',
    );
  });

  it('the same values reach the droplet: the MOTD placeholders and the helper library', async () => {
    const dir = project();
    writeFileSync(join(dir, 'motd.txt'), 'Acme {{APP_VERSION}} ({{EDITION}})\n');
    expect(await bundleCommand.run(['--var', 'APP_VERSION=2.5.0'], ctx(dir, { MPIMG_VAR_EDITION: 'pro' }))).toBe(0);
    const root = stagedRoot();
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    execFileSync(process.execPath, [join(dir, 'dist/acme-wiki.cjs'), 'install', '--root', root]);
    expect(readFileSync(join(root, 'etc/update-motd.d/99-acme-wiki'), 'utf8')).toContain('Acme 2.5.0 (pro)');
    expect(readFileSync(join(root, 'opt/acme/acme-wiki/lib.sh'), 'utf8')).toMatch(
      /APP_VERSION='2\.5\.0'[\s\S]*EDITION='pro'/,
    );
  });

  it('refuses an unknown name (from --var or the environment), a malformed --var and a control character', async () => {
    const dir = project();
    await expect(bundleCommand.run(['--var', 'APP_VERSON=1'], ctx(dir))).rejects.toMatchObject({
      message: '--var APP_VERSON: mpimg.json has no variable "APP_VERSON"',
      hint: 'the variables of mpimg.json are: APP_VERSION, EDITION',
      exitCode: 2,
    });
    await expect(bundleCommand.run([], ctx(dir, { MPIMG_VAR_NOPE: 'x' }))).rejects.toMatchObject({
      message: 'environment variable MPIMG_VAR_NOPE: mpimg.json has no variable "NOPE"',
      hint: expect.stringContaining('unset MPIMG_VAR_NOPE or add "NOPE"'),
    });
    await expect(bundleCommand.run(['--var', 'APP_VERSION'], ctx(dir))).rejects.toThrow(
      /--var "APP_VERSION": not NAME=VALUE/,
    );
    await expect(bundleCommand.run(['--var', 'app_version=1'], ctx(dir))).rejects.toThrow(/not NAME=VALUE/);
    await expect(bundleCommand.run(['--var', 'APP_VERSION=1\nrm -rf /'], ctx(dir))).rejects.toThrow(
      /--var APP_VERSION: the value of APP_VERSION holds a control or line-separator character \(U\+000A\)/,
    );
    const none = project({});
    await expect(bundleCommand.run(['--var', 'X=1'], ctx(none))).rejects.toMatchObject({
      hint: expect.stringContaining('mpimg.json has no "variables"'),
    });
  });

  it("refuses variable names that mean something in a build script's environment (a schema rule: validate and editors too)", async () => {
    const dir = project({ PATH: '/opt/bin', APP_VERSION: '1' });
    await expect(bundleCommand.run([], ctx(dir))).rejects.toThrow(
      /\$\.variables\.PATH: variable name "PATH" is reserved[\s\S]*fix: variables reach build scripts/,
    );
    expect(
      validateManifest({
        ...JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8')),
        variables: { LC_ALL: 'C', UID: '1', SSH_PORT: '22', HOSTNAME_SUFFIX: 'x' },
      }).problems.map((p) => p.path),
    ).toEqual(['$.variables.LC_ALL', '$.variables.UID', '$.variables.SSH_PORT']);
    const mp = project({ MPIMG_ROOT: '/x' });
    await expect(bundleCommand.run([], ctx(mp))).rejects.toThrow(/variable name "MPIMG_ROOT" is reserved/);
  });
});

describe("mpimg validate and the bundle's variables", () => {
  it('a bundle made with --var is not stale; a changed default, or a missing build script (an older bundle), is', async () => {
    const dir = project();
    expect(await bundleCommand.run(['--var', 'APP_VERSION=9.9.9'], ctx(dir))).toBe(0);
    const ok = ctx(dir);
    // --strict: a stale dist/ is an error (a warning without it)
    expect(await validateCommand.run(['--strict'], ok)).toBe(0);
    expect(ok.stdout.text).toContain(': ok (');

    const m = JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8'));
    m.variables.EDITION = 'enterprise';
    writeFileSync(join(dir, 'mpimg.json'), JSON.stringify(m));
    await expect(validateCommand.run(['--strict'], ctx(dir))).rejects.toThrow(
      /dist\/: \d file\(s\) bundled before the last change to the project[^\n]*: acme-wiki\.cjs, [^\n]*acme-wiki-build\.sh/,
    );
    expect(await bundleCommand.run(['--var', 'APP_VERSION=9.9.9'], ctx(dir))).toBe(0);
    expect(await validateCommand.run(['--strict'], ctx(dir))).toBe(0);

    rmSync(join(dir, 'dist/acme-wiki-build.sh'));
    // without the build script the --var values of that bundle are unknown: the rest differs too
    await expect(validateCommand.run(['--strict'], ctx(dir))).rejects.toThrow(
      /dist\/: 4 file\(s\) bundled before the last change [^\n]*: acme-wiki\.cjs, acme-wiki-install\.sh, acme-wiki-build\.sh \(missing\), acme-wiki\.pkr\.hcl\n {4}fix: run `make bundle`/,
    );
  });
});
