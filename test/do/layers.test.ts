// The API library (tasks/do/) sits below the CLI layer (tasks/commands/, tasks/cli.ts): it never imports
// from there, and its modules form no import cycle (type-only imports and dynamic import() count too).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DO = join(ROOT, 'tasks', 'do');

/** Every module specifier of a TypeScript source: static imports and re-exports, import(). */
function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

/** The .ts file a relative specifier names (the code imports `./x.js` for `./x.ts`). */
function target(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return resolve(dirname(from), spec).replace(/\.js$/, '.ts');
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of readdirSync(DO)
    .filter((n) => n.endsWith('.ts'))
    .map((n) => join(DO, n))) {
    g.set(
      f,
      specifiers(readFileSync(f, 'utf8'))
        .map((s) => target(f, s))
        .filter((t): t is string => t !== undefined),
    );
  }
  return g;
}

/** The first cycle found, as a list of files (first = last), or undefined. */
function findCycle(g: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of g.get(n) ?? []) {
      if (!g.has(m)) continue;
      if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of g.keys()) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

describe('tasks/do: the API library', () => {
  it('reads every kind of import (so the checks below cannot pass by not seeing one)', () => {
    expect(
      specifiers(
        "import type { A } from '../commands/types.js';\nexport { b } from './b.js';\nconst c = await import('../commands/run.js');\nimport './side.js';",
      ),
    ).toEqual(['../commands/types.js', './b.js', './side.js', '../commands/run.js']);
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', []],
    ]);
    expect(findCycle(g)).toEqual(['a', 'b', 'c', 'a']);
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toBeUndefined();
  });

  it('imports nothing of the CLI layer (tasks/commands/, tasks/cli.ts)', () => {
    const up: string[] = [];
    for (const [file, deps] of graph()) {
      for (const d of deps) {
        const rel = relative(join(ROOT, 'tasks'), d);
        if (rel.startsWith('commands/') || rel === 'cli.ts') up.push(`${relative(ROOT, file)} -> ${relative(ROOT, d)}`);
      }
    }
    expect(up).toEqual([]);
  });

  it('has no import cycle', () => {
    const c = findCycle(graph());
    expect(c?.map((f) => relative(ROOT, f))).toBeUndefined();
  });
});
