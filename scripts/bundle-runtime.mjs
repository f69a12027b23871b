// Bundles the on-droplet runtime into ONE dependency-free CommonJS file (Node 18+).
// `mpimg bundle` later copies this file and fills in the project's payload.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const root = fileURLToPath(new URL('..', import.meta.url));
const result = await build({
  absWorkingDir: root,
  entryPoints: ['runtime/main.ts'],
  outfile: 'lib/runtime/mpimg-runtime.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  // Whitespace only (names and syntax stay as written): the file is read on droplets, and kept small.
  minifyWhitespace: true,
  legalComments: 'none',
  banner: {
    js: '#!/usr/bin/env node\n// mpimg-runtime: installs a DigitalOcean Marketplace image payload (generator-mpimg)',
  },
  metafile: true,
  define: { MPIMG_VERSION: JSON.stringify(JSON.parse(readFileSync(root + 'package.json', 'utf8')).version) },
  logLevel: 'warning',
});
// Only Node built-ins may stay external: the file must run from an empty folder.
const bad = Object.values(result.metafile.outputs)
  .flatMap((o) => o.imports)
  .filter((i) => i.external && !i.path.startsWith('node:'));
if (bad.length) {
  console.error(`runtime bundle imports non-builtin modules: ${bad.map((i) => i.path).join(', ')}`);
  process.exit(1);
}
