import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateManifest } from '../runtime/manifest.js';
import { schemaDocument } from '../runtime/manifest-schema.js';
import { publishedSchema } from '../runtime/schema.js';
import { MOTD_PLACEHOLDERS } from '../core/motd-placeholders.js';
import { ALTERNATIVE_EXAMPLES, exampleIn, fields, manifestDoc } from '../tasks/docs/manifest-doc.js';
import { STEPS } from '../tasks/steps/index.js';
import { stepTable, withStepTable } from '../tasks/steps/table.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const schema = publishedSchema(schemaDocument()) as Parameters<typeof manifestDoc>[0];
const example = JSON.parse(readFileSync(`${root}docs/manifest-example.json`, 'utf8'));
const alternatives = ALTERNATIVE_EXAMPLES.map((n) =>
  JSON.parse(readFileSync(`${root}docs/manifest-example-${n}.json`, 'utf8')),
);

describe('docs/manifest.md, the mpimg.json reference the generated README links to', () => {
  it('is what `npm run build` writes from the schema today (run it after a schema change)', () => {
    expect(readFileSync(`${root}docs/manifest.md`, 'utf8')).toBe(manifestDoc(schema, example, alternatives));
  });

  it('its examples are manifests the schema accepts, with a value for every field among them', () => {
    expect(validateManifest(example).problems).toEqual([]);
    for (const [i, alt] of alternatives.entries())
      expect(validateManifest(alt).problems, ALTERNATIVE_EXAMPLES[i]).toEqual([]);
    const list = fields(schema);
    expect(list.length).toBeGreaterThan(60);
    expect(list.filter((f) => exampleIn([example, ...alternatives], f.path) === undefined).map((f) => f.path)).toEqual(
      [],
    );
    for (const f of list) expect(f.type, f.path).not.toBe('any value');
  });

  it('names each field with its type and example', () => {
    const doc = manifestDoc(schema, example, alternatives);
    expect(doc).toContain(
      '| `$.firewall.limit` | a list of strings | Ports let in with a rate limit on new connections (ufw limit), e.g. ["22/tcp"]. | `["22/tcp"]` |',
    );
    expect(doc).toContain('| `$.services[].firstBoot` | one of "restart", "start", "none" |');
    expect(doc).toContain('## `listing`');
  });

  it('$.motd.file names every placeholder the bundle fills in ({{credentials}} too)', () => {
    const row = manifestDoc(schema, example, alternatives)
      .split('\n')
      .find((l) => l.startsWith('| `$.motd.file`'))!;
    for (const p of MOTD_PLACEHOLDERS) expect(row, p).toContain(`{{${p}}}`);
  });
});

describe("the README's table of build steps", () => {
  it('is the table of the list of steps (tasks/steps/): every step, in build order', () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    expect(withStepTable(readme), 'README.md has the build-steps markers').not.toBeNull();
    expect(
      withStepTable(readme),
      'README.md is behind tasks/steps/: run `npm run build && node scripts/build-steps-table.mjs`',
    ).toBe(readme);
    const rows = [...stepTable().matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]);
    expect(rows).toEqual(STEPS.map((s) => s.name));
  });
});
