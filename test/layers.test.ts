// Arrows one way (scripts/layers.mjs says the layers): runtime/ < core/ < generators/ | tasks/ < the
// CLI; the two fronts never import each other, the API library never imports the CLI, and no import
// cycle anywhere.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { cycles, hiddenImports, importGraph, specifiers, upwardImports } from '../scripts/layers.mjs';

type Graph = Map<string, string[]>;
const graph = importGraph() as Graph;

describe('layers', () => {
  it('reads every kind of import (so the checks below cannot pass by not seeing one)', () => {
    const source = [
      "import type { A } from '../commands/types.js';",
      "import {\n  b,\n  type C,\n} from './b.js';",
      "export { d } from './d.js';",
      "export * as e from './e.js';",
      "import './side.js';",
      "const f = await import('../commands/run.js');",
      "type G = import('./g.js').G;",
      "// import { h } from './comment.js';",
      'const s = "from \'./string.js\'";',
    ].join('\n');
    expect(specifiers(source)).toEqual([
      '../commands/types.js',
      './b.js',
      './d.js',
      './e.js',
      './side.js',
      '../commands/run.js',
      './g.js',
    ]);
  });

  it('sees the package: every source folder and the arrows between them', () => {
    const files = [...graph.keys()];
    for (const top of ['runtime/', 'core/', 'generators/', 'tasks/do/', 'tasks/commands/'])
      expect(
        files.some((f) => f.startsWith(top)),
        top,
      ).toBe(true);
    expect(graph.get('tasks/commands/new.ts')).toContain('core/app-project.ts');
    expect(graph.get('generators/app/index.ts')).toContain('core/app-project.ts');
  });

  it('no arrow points up: generators/ and tasks/ never import each other, tasks/do/ never the CLI', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("imports only by relative path (never the package's own name, never createRequire)", () => {
    expect(hiddenImports()).toEqual([]);
  });

  describe('fails on what it forbids (a package planted in a temp dir)', () => {
    const root = mkdtempSync(join(tmpdir(), 'mpimg-layers-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const put = (rel: string, text: string) => {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), text);
    };
    put('runtime/r.ts', "import { c } from '../core/c.js';\nexport const r = c;\n");
    put('core/c.ts', "import { t } from '../tasks/t.js';\nexport const c = t;\n");
    put('core/ok.ts', "import { r } from '../runtime/r.js';\nexport const ok = r;\n");
    put('generators/g.ts', "import type { T } from '../tasks/t.js';\nexport type G = T;\n");
    put('tasks/t.ts', "export const t = () => import('../generators/g.js');\nexport type T = string;\n");
    put('tasks/do/api.ts', "export { run } from '../commands/run.js';\n");
    put('tasks/commands/run.ts', "import '../do/api.js';\nexport const run = 1;\n");
    put('tasks/a.ts', "import { b } from './b.js';\nexport const a = b;\n");
    put('tasks/b.ts', "import { a } from './a.js';\nexport const b = a;\n");
    put('tasks/self.ts', "import * as me from './self.js';\nexport const self = me;\n");
    put('tasks/a.test.ts', "import '../generators/g.js';\n");
    put('generators/own.ts', "import type { T } from 'generator-mpimg/tasks/t';\nexport type O = T;\n");
    put('generators/own2.ts', "export const o = () => import('generator-mpimg');\n");
    put(
      'tasks/req.ts',
      "import { createRequire } from 'node:module';\nexport const r = createRequire(import.meta.url)('../generators/g.js');\n",
    );
    const planted = importGraph(root) as Graph;

    it('an upward or sideways arrow of each kind', () => {
      expect(upwardImports(planted).map((u: string) => u.replace(/ \(.*/, ''))).toEqual(
        expect.arrayContaining([
          'runtime/r.ts -> core/c.ts',
          'core/c.ts -> tasks/t.ts',
          'generators/g.ts -> tasks/t.ts',
          'tasks/t.ts -> generators/g.ts',
          'tasks/do/api.ts -> tasks/commands/run.ts',
        ]),
      );
      expect(upwardImports(planted)).toHaveLength(5);
    });

    it("an import the graph cannot place: the package's own name, createRequire", () => {
      expect(hiddenImports(root)).toEqual([
        "generators/own.ts: 'generator-mpimg/tasks/t' (the package's own name)",
        "generators/own2.ts: 'generator-mpimg' (the package's own name)",
        'tasks/req.ts: createRequire (a require this check cannot follow)',
      ]);
    });

    it('a cycle within a folder, across folders (type imports and import() too) and of one file', () => {
      expect(cycles(planted).sort()).toEqual([
        ['generators/g.ts', 'tasks/t.ts'],
        ['tasks/a.ts', 'tasks/b.ts'],
        ['tasks/commands/run.ts', 'tasks/do/api.ts'],
        ['tasks/self.ts'],
      ]);
    });
  });
});
