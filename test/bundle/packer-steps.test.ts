/**
 * The Packer template's build block comes from the one list of build steps (tasks/steps/): each
 * step's provisioners, in build order, after the boot wait and the template's own preparation, and
 * the build script's commands exactly those the SSH tasks run. (Packer itself checks the template in
 * test/do/packer.test.ts and test/bundle/packer-template.test.ts.)
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { BUILD_SCRIPT_COMMANDS, buildOrder, STEPS } from '../../tasks/steps/index.js';
import { makeProject } from '../helpers/project-fixture.js';

const template = (manifest: Partial<Manifest> = {}): string =>
  readFileSync(writeBundle(loadProject(makeProject({ manifest }))).packer, 'utf8');
// Every step has a Packer part, the record step included (test/bundle/packer-record.test.ts runs it).
const packerOrder = (): string[] => buildOrder();
const stepsIn = (text: string): string[] => [...text.matchAll(/^ {2}# step ([a-z0-9-]+): (.*)$/gm)].map((m) => m[1]);

describe('the Packer template, from the list of build steps', () => {
  for (const image of ['debian-12-x64', 'rockylinux-9-x64']) {
    it(`runs every step in build order, each named with its summary (${image})`, () => {
      const text = template({ distributions: [image], build: { packages: ['jq'] } });
      expect(stepsIn(text)).toEqual(packerOrder());
      for (const s of STEPS) expect(text, s.name).toContain(`  # step ${s.name}: ${s.summary}\n  provisioner "`);
      // the boot wait, then the template's own preparation (droplet agent out, the bundle's files up), then the rest
      const prepare = text.indexOf('droplet-agent.service');
      expect(text.indexOf('# step wait-boot:')).toBeLessThan(prepare);
      expect(prepare).toBeLessThan(text.indexOf('# step upgrade:'));
      // the same commands of the build script as the SSH tasks, in the same order; the work folder goes last
      const calls = [...text.matchAll(/"sh \$\{local\.work\}\/acme-wiki-build\.sh ([a-z0-9-]+)"/g)].map((m) => m[1]);
      expect(calls).toEqual([...BUILD_SCRIPT_COMMANDS]);
      // the last provisioner; after it only the post-processors (the snapshot into the build record)
      const provisioners = text.slice(0, text.indexOf('\n  post-processors {'));
      const lines = provisioners.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
      expect(lines.slice(-2)[0]).toBe('    inline = ["cd / && rm -rf ${local.work}"]');
    });
  }

  it('leaves out what a step has nothing to do for: no packages, no build scripts', () => {
    const dir = makeProject({ manifest: { build: {} } });
    rmSync(join(dir, 'scripts/10-install.sh'));
    const text = readFileSync(writeBundle(loadProject(dir)).packer, 'utf8');
    expect(stepsIn(text)).toEqual(packerOrder().filter((n) => n !== 'packages' && n !== 'scripts'));
    expect(text).not.toContain('${local.work}/scripts');
  });
});
