#!/usr/bin/env node
// The layers of this package, lowest first. A module imports from its own layer or a lower one:
//   runtime/      the on-droplet runtime, bundled alone: imports nothing of the others
//   core/         what both fronts share: mpimg.json and .yo-rc.json read in one place, the answers
//                 and their rules, the generator's project files and writers, errors, package paths
//   generators/   the Yeoman front (`yo mpimg`)      } two fronts on core/: neither imports the other
//   tasks/        the task library, bundler, API... } (`mpimg new/add/upgrade` call core/, not Yeoman)
//   entries       the mpimg CLI (tasks/commands/, tasks/cli.ts) and the package's public entry
//                 (tasks/library.ts, which also offers the CLI's `mpimg run` as a build step): on
//                 top; nothing else in tasks/ imports them (the API library tasks/do/ included)
// And no import cycle anywhere. Type-only imports and import() count: an arrow is an arrow.
// Sources import one another by relative path only (not by the package's name, not createRequire).
// `node scripts/layers.mjs` lists what breaks the rule (exit 1); test/layers.test.ts keeps it empty.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIRS = ['runtime', 'core', 'generators', 'tasks'];

/** Which layers each layer may import (its own included). */
const MAY_IMPORT = {
  runtime: ['runtime'],
  core: ['core', 'runtime'],
  generators: ['generators', 'core', 'runtime'],
  tasks: ['tasks', 'core', 'runtime'],
  entries: ['entries', 'tasks', 'core', 'runtime'],
};

/** The layer of a path relative to the package root (POSIX separators), or undefined outside them. */
export function layerOf(rel) {
  if (rel === 'tasks/cli.ts' || rel === 'tasks/library.ts' || rel.startsWith('tasks/commands/')) return 'entries';
  const top = rel.split('/')[0];
  return DIRS.includes(top) ? top : undefined;
}

/** Every module specifier a TypeScript source names: imports, re-exports, import(), import('x').T, require(). */
export function specifiers(text, file = 'x.ts') {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const out = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier)
      out.push(node.moduleSpecifier.text);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      out.push(node.moduleReference.expression.text);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) out.push(node.argument.literal.text);
    else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    )
      out.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function* sources(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts')) yield p;
  }
}

const posix = (p) => p.split(sep).join('/');

const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).name;

/**
 * Imports the graph cannot place: the package by its own name ('generator-mpimg/tasks/...', which its
 * exports map resolves to lib/) and createRequire() (a require under another name). Sources import
 * one another by relative path only, so every arrow is seen.
 */
export function hiddenImports(root = ROOT) {
  const out = [];
  for (const d of DIRS) {
    for (const file of sources(join(root, d))) {
      const rel = posix(relative(root, file));
      const text = readFileSync(file, 'utf8');
      for (const s of specifiers(text, file))
        if (s === PACKAGE || s.startsWith(`${PACKAGE}/`)) out.push(`${rel}: '${s}' (the package's own name)`);
      if (/\bcreateRequire\b/.test(text)) out.push(`${rel}: createRequire (a require this check cannot follow)`);
    }
  }
  return out;
}

/** The import graph of the source folders: file → files it imports (paths relative to `root`). */
export function importGraph(root = ROOT) {
  const graph = new Map();
  for (const d of DIRS) {
    for (const file of sources(join(root, d))) {
      const deps = specifiers(readFileSync(file, 'utf8'), file)
        .filter((s) => s.startsWith('.'))
        .map((s) => posix(relative(root, resolve(dirname(file), s))).replace(/\.js$/, '.ts'));
      graph.set(posix(relative(root, file)), [...new Set(deps)]);
    }
  }
  return graph;
}

/** Every arrow that points up (or sideways between the fronts): "from -> to (layer may not import layer)". */
export function upwardImports(graph) {
  const out = [];
  for (const [from, deps] of graph) {
    const a = layerOf(from);
    for (const to of deps) {
      const b = layerOf(to);
      if (a && !MAY_IMPORT[a].includes(b ?? 'outside'))
        out.push(`${from} -> ${to} (${a} may import ${MAY_IMPORT[a].join(', ')})`);
    }
  }
  return out;
}

/** The import cycles (strongly connected components of more than one file, or a file importing itself). */
export function cycles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  const connect = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const graph = importGraph();
  const up = upwardImports(graph);
  const loops = cycles(graph);
  const hidden = hiddenImports();
  for (const u of up) console.log(`upward import: ${u}`);
  for (const c of loops) console.log(`import cycle: ${c.join(' <-> ')}`);
  for (const h of hidden) console.log(`import by another way than a relative path: ${h}; import by a relative path`);
  process.exitCode = up.length || loops.length || hidden.length ? 1 : 0;
}
