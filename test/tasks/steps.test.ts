/**
 * The one list of build steps (tasks/steps/index.ts): what must hold of the order whatever is added,
 * that each unit is whole, and that the pipelines and the task listing follow the list.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { build, BUILD_STEPS, standardTasks, testbuild } from '../../tasks/standard/index.js';
import { BUILD_SCRIPT_COMMANDS, buildOrder, STEPS, testbuildOrder } from '../../tasks/steps/index.js';
import { isStandard } from '../../tasks/ssh/task.js';
import { REPO } from './fixture-project.js';

const schema = JSON.parse(readFileSync(join(REPO, 'mpimg.schema.json'), 'utf8')) as SchemaNode;
interface SchemaNode {
  properties?: Record<string, SchemaNode>;
}

/** The schema node of a $-path of mpimg.json ($.build.repositories), or undefined. */
const nodeAt = (p: string): SchemaNode | undefined =>
  p
    .replace(/^\$\./, '')
    .split('.')
    .reduce<SchemaNode | undefined>((n, k) => n?.properties?.[k], schema);

describe('the build steps, one list', () => {
  const at = (n: string) => buildOrder().indexOf(n);

  it('keeps what the order is for: boot first, sources before packages, files/ before owners and scripts, the review-day upgrade, cleanup, check, then the record', () => {
    expect(at('wait-boot')).toBe(0);
    expect(at('upgrade')).toBeLessThan(at('repositories'));
    expect(at('repositories')).toBeLessThan(at('packages'));
    expect(at('users')).toBeLessThan(at('files'));
    expect(at('files')).toBeLessThan(at('owners'));
    expect(at('owners')).toBeLessThan(at('scripts'));
    expect(at('scripts')).toBeLessThan(at('install'));
    expect(at('install')).toBeLessThan(at('services'));
    expect(buildOrder().slice(-4)).toEqual(['freshen', 'cleanup', 'check', 'record']);
    expect(new Set(buildOrder()).size).toBe(STEPS.length);
  });

  it('each unit is whole: its standard task, a summary, the parts of mpimg.json it serves as they are in the schema', () => {
    for (const s of STEPS) {
      expect(s.task.taskName, s.name).toBe(s.name);
      expect(s.task.description, s.name).toBe(s.summary);
      expect(isStandard(s.task), s.name).toBe(true);
      for (const p of s.sections) expect(nodeAt(p), `${s.name}: ${p} is in mpimg.schema.json`).toBeDefined();
    }
    expect(BUILD_SCRIPT_COMMANDS).toEqual(STEPS.filter((s) => s.buildScript).map((s) => s.name));
  });

  it('the pipelines and the task listing come from the list', () => {
    expect(build.steps).toEqual(buildOrder());
    expect(testbuild.steps).toEqual(testbuildOrder());
    // testbuild: no cleanup, and the check that only reports in the check's place
    expect(testbuildOrder()).not.toContain('cleanup');
    expect(testbuildOrder().at(-1)).toBe('check-report');
    expect(testbuildOrder()).not.toContain('freshen');
    expect(testbuildOrder()).not.toContain('record');
    expect([...BUILD_STEPS, 'freshen', 'cleanup', 'check', 'record']).toEqual(buildOrder());
    expect([...standardTasks().keys()].slice(0, STEPS.length)).toEqual(buildOrder());
    expect(build.description).toBe(`full build (${buildOrder().join(' → ')})`);
  });
});
