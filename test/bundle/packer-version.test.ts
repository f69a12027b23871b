/**
 * `mpimg validate` and the Packer on PATH: the template needs Packer 1.7.0 or newer (its
 * required_version); an older packer is named with how to fix it, a new one or none says nothing.
 * This machine's packer is Debian's 1.6.6: the real one is the "older" case.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import validate from '../../tasks/commands/validate.js';
import type { CommandContext } from '../../tasks/commands/types.js';
import { versionBelow } from '../../tasks/bundle/packer-version.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { Capture } from '../tasks/helpers.js';

/** `mpimg validate` in a bundled project, with this PATH (and a throwaway HOME). */
async function validateWith(path: string): Promise<{ code: number; out: string; err: string }> {
  const dir = makeProject();
  writeBundle(loadProject(dir));
  const ctx: CommandContext & { stdout: Capture; stderr: Capture } = {
    cwd: dir,
    env: { PATH: path, HOME: tempDir('mpimg-home-') },
    stdout: new Capture(),
    stderr: new Capture(),
    isTTY: false,
    signal: new AbortController().signal,
  };
  const code = await validate.run([], ctx);
  return { code, out: ctx.stdout.text, err: ctx.stderr.text };
}

/** A folder holding only a `packer` that prints `text` for `packer version`. */
function fakePacker(text: string): string {
  const bin = tempDir('mpimg-fake-packer-');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'packer'), `#!/bin/sh\n[ "$1" = version ] || exit 9\nprintf '%s\\n' '${text}'\n`);
  chmodSync(join(bin, 'packer'), 0o755);
  return bin;
}

const SYSTEM = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('mpimg validate: the Packer on PATH', () => {
  it("an older packer (this machine's real 1.6.6) is a warning that names both versions and the fix; validate still passes", async () => {
    const r = await validateWith(SYSTEM);
    expect(r.err).toContain(
      'warning: the packer on PATH is 1.6.6, older than the 1.7.0 that dist/acme-wiki.pkr.hcl needs (its required_version; packer refuses it): install Packer 1.7.0 or newer (https://developer.hashicorp.com/packer/install), or build with `make image`, which needs no Packer\n',
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('mpimg.json: ok');
  });

  it('a new enough packer (current output, with its update note) or none on PATH: nothing said', async () => {
    for (const text of [
      'Packer v1.7.0',
      'Packer v1.11.2\\n\\nYour version of Packer is out of date! The latest version\\nis 1.12.0.',
    ]) {
      const r = await validateWith(`${fakePacker(text)}:${SYSTEM}`);
      expect(r.err).not.toContain('packer');
      expect(r.code).toBe(0);
    }
    const none = await validateWith(tempDir('mpimg-empty-path-'));
    expect(none.err).not.toContain('packer');
    expect(none.code).toBe(0);
  });

  it('a packer that does not say its version is named too', async () => {
    const r = await validateWith(`${fakePacker('something else')}:${SYSTEM}`);
    expect(r.err).toContain(
      'warning: `packer version` did not say which Packer is on PATH; dist/acme-wiki.pkr.hcl needs Packer 1.7.0 or newer',
    );
  });

  it('compares versions by number, not as text', () => {
    expect(versionBelow('1.6.6', '1.7.0')).toBe(true);
    expect(versionBelow('1.10.0', '1.7.0')).toBe(false);
    expect(versionBelow('1.7.0', '1.7.0')).toBe(false);
    expect(versionBelow('0.12.3', '1.7.0')).toBe(true);
  });
});
