#!/usr/bin/env node
// Runs `mpimg import` on every app of Packer image projects in DigitalOcean's public layouts and
// tallies the result: imported, validates (`mpimg validate`), bundles (`mpimg bundle`), and the
// shell lines absorbed into mpimg.json vs kept as script. The corpus is not part of this repository:
//
//   git clone https://github.com/digitalocean/droplet-1-clicks /tmp/corpus/droplet-1-clicks
//   git clone https://github.com/digitalocean/marketplace-partners /tmp/corpus/marketplace-partners
//   npm run build && node scripts/import-corpus.mjs /tmp/corpus/droplet-1-clicks /tmp/corpus/marketplace-partners
//
// Each folder is either one app (a template in it: marketplace-partners) or a folder of apps
// (droplet-1-clicks: <app>/template.json, <app>/*.pkr.hcl). Options:
//   --out DIR          keep the imported projects there (default: a temp folder, removed)
//   --readme FILE      replace the tally between the import-corpus markers of FILE (README.md)
//   --fetch-keys       pass --fetch-keys to the import (needs the network)
//   --jobs N           imports at once (default 2)
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const mpimg = join(root, 'bin/mpimg.js');

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
};
const outArg = opt('--out');
const readme = opt('--readme');
const jobs = Number(opt('--jobs') ?? 2);
const fetchKeys = flag('--fetch-keys');
if (args.length === 0) {
  console.error(
    'usage: node scripts/import-corpus.mjs CORPUS_FOLDER... [--out DIR] [--readme README.md] [--fetch-keys] [--jobs N]',
  );
  process.exit(2);
}
if (!existsSync(join(root, 'lib/tasks/cli.js'))) {
  console.error('run `npm run build` first');
  process.exit(2);
}

const isTemplateDir = (d) =>
  existsSync(join(d, 'template.json')) ||
  existsSync(join(d, 'marketplace-image.json')) ||
  readdirSync(d).some((n) => n.endsWith('.pkr.hcl'));
const apps = [];
for (const c of args.map((a) => resolve(a))) {
  if (isTemplateDir(c)) apps.push({ name: basename(c), dir: c });
  else
    for (const n of readdirSync(c).sort()) {
      const d = join(c, n);
      if (n.startsWith('.') || n.startsWith('_') || !statSync(d).isDirectory()) continue;
      if (isTemplateDir(d)) apps.push({ name: n, dir: d });
    }
}

const out = outArg ? resolve(outArg) : mkdtempSync(join(tmpdir(), 'mpimg-import-corpus-'));
const node = async (argv, opts = {}) => {
  try {
    const r = await run(process.execPath, [mpimg, ...argv], { maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...opts });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(e) };
  }
};

async function one(app) {
  const dir = join(out, app.name);
  rmSync(dir, { recursive: true, force: true });
  const r = {
    app: app.name,
    imported: false,
    validates: false,
    bundles: false,
    absorbed: 0,
    kept: 0,
    person: 0,
    error: '',
  };
  const imp = await node(['import', app.dir, dir, '--json', ...(fetchKeys ? ['--fetch-keys'] : [])]);
  if (imp.code !== 0) {
    r.error = `import: ${(imp.stderr || imp.stdout).split('\n').slice(0, 4).join(' ')}`;
    return r;
  }
  const report = JSON.parse(imp.stdout);
  r.imported = true;
  r.absorbed = report.totals.absorbed;
  r.kept = report.totals.kept;
  r.person = report.person.length;
  const v = await node(['validate', dir]);
  r.validates = v.code === 0;
  if (!r.validates) r.error = `validate: ${(v.stderr || v.stdout).split('\n').slice(0, 6).join(' ')}`;
  const b = await node(['bundle', '--project', dir]);
  r.bundles = b.code === 0;
  if (!r.bundles && !r.error) r.error = `bundle: ${(b.stderr || b.stdout).split('\n').slice(0, 6).join(' ')}`;
  return r;
}

const results = [];
let next = 0;
await Promise.all(
  Array.from({ length: Math.max(1, jobs) }, async () => {
    while (next < apps.length) {
      const app = apps[next++];
      const r = await one(app);
      results.push(r);
      process.stderr.write(
        `${r.imported ? (r.validates && r.bundles ? 'ok  ' : 'FAIL') : 'FAIL'} ${r.app}: ${r.absorbed} absorbed, ${r.kept} kept${r.error ? ` (${r.error})` : ''}\n`,
      );
    }
  }),
);
results.sort((a, b) => a.app.localeCompare(b.app));

const n = results.length;
const count = (k) => results.filter((r) => r[k]).length;
const absorbed = results.reduce((s, r) => s + r.absorbed, 0);
const kept = results.reduce((s, r) => s + r.kept, 0);
const pct = (a, b) => (b === 0 ? 0 : Math.round((100 * a) / b));
const mostly = results.filter((r) => r.absorbed > r.kept).length;
const summary = [
  `| apps | imported | validate | bundle | shell lines absorbed | kept | absorbed share | apps mostly absorbed |`,
  `| --- | --- | --- | --- | --- | --- | --- | --- |`,
  `| ${n} | ${count('imported')} | ${count('validates')} | ${count('bundles')} | ${absorbed} | ${kept} | ${pct(absorbed, absorbed + kept)}% | ${mostly} |`,
].join('\n');
const table = [
  '| app | imported | validate | bundle | absorbed | kept | for a person |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...results.map(
    (r) =>
      `| ${r.app} | ${r.imported ? 'yes' : 'no'} | ${r.validates ? 'yes' : 'no'} | ${r.bundles ? 'yes' : 'no'} | ${r.absorbed} | ${r.kept} | ${r.person} |`,
  ),
].join('\n');
process.stdout.write(`${summary}\n\n${table}\n`);
for (const r of results.filter((x) => x.error)) process.stdout.write(`\n${r.app}: ${r.error}\n`);

if (readme) {
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- import-corpus:start -->';
  const end = '<!-- import-corpus:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    console.error(`${readme} has no ${start} ... ${end} markers`);
    process.exit(1);
  }
  // which snapshot of each corpus the tally is of (a clone's commit and date), so it can be re-run
  const at = (d) => {
    try {
      const { stdout } = spawnSync('git', ['-C', d, 'log', '-1', '--format=%h %cs'], { encoding: 'utf8' });
      const [h, date] = stdout.trim().split(' ');
      return h ? ` at ${h} of ${date}` : '';
    } catch {
      return '';
    }
  };
  const corpora = args.map((x) => `${basename(resolve(x))}${at(resolve(x))}`).join(', ');
  writeFileSync(
    readme,
    `${text.slice(0, a + start.length)}\n${summary}\n\n(${corpora}; \`node scripts/import-corpus.mjs\`, ${fetchKeys ? 'with' : 'without'} --fetch-keys)\n${text.slice(b)}`,
  );
}
if (!outArg) rmSync(out, { recursive: true, force: true });
process.exit(results.every((r) => r.imported && r.validates && r.bundles) ? 0 : 1);
