#!/usr/bin/env node
// Lists source files over 500 lines and functions over 80 lines in core/, generators/, runtime/ and tasks/
// (TypeScript only: templates and shell scripts are out of scope). Exit 1 when there is any.
// `node scripts/module-sizes.mjs`; test/structure.test.ts keeps the list empty.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const MAX_FILE_LINES = 500;
export const MAX_FUNCTION_LINES = 80;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIRS = ['core', 'generators', 'runtime', 'tasks'];

function* sources(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts')) yield p;
  }
}

/** The name a function is known by: its own, its variable's, its property's, or its class member's. */
function nameOf(node, sf) {
  if (node.name) return node.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name)
    return p.name.getText(sf);
  return '(anonymous)';
}

/** Every file and function over its limit, as { file, line, name?, lines }. */
export function oversized(root = ROOT) {
  const out = [];
  for (const d of DIRS) {
    for (const file of sources(join(root, d))) {
      const text = readFileSync(file, 'utf8');
      const rel = relative(root, file);
      const fileLines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
      if (fileLines > MAX_FILE_LINES) out.push({ file: rel, line: 1, lines: fileLines });
      const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
      const visit = (node) => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
          const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
          if (last - first + 1 > MAX_FUNCTION_LINES)
            out.push({ file: rel, line: first + 1, name: nameOf(node, sf), lines: last - first + 1 });
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const found = oversized();
  for (const f of found) {
    console.log(
      f.name === undefined
        ? `${f.file}: ${f.lines} lines (limit ${MAX_FILE_LINES})`
        : `${f.file}:${f.line}: ${f.name}: ${f.lines} lines (limit ${MAX_FUNCTION_LINES})`,
    );
  }
  process.exitCode = found.length ? 1 : 0;
}
