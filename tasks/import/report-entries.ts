/**
 * The report's two tables from what the import did: each manifest field and where it came from, and
 * each file or provisioner of the template and what it became.
 */
import type { Manifest } from '../../runtime/manifest.js';
import type { ScriptResult } from './analyze.js';
import type { FilesTree, FirstBootScript } from './layout.js';
import type { Step } from './provisioners.js';
import type { Field, FileEntry } from './report.js';
import type { ScriptInfo } from './script-inputs.js';
import type { ImportState } from './state.js';
import type { Variables } from './values.js';

export interface ReportInput {
  manifest: Manifest;
  state: ImportState;
  vars: Variables;
  motd?: { target: string; text: string };
  /** The builder block (for snapshot.name's origin). */
  builderAt: string;
  steps: Step[];
  scripts: ScriptInfo[];
  results: Map<ScriptInfo, ScriptResult>;
  keptAs: Map<ScriptInfo, string>;
  firstBoot: FirstBootScript[];
  fbResults: Map<FirstBootScript, ScriptResult>;
  tree: FilesTree;
}

/** The manifest fields the import filled in, and from what. */
export function reportFields(o: ReportInput): Field[] {
  const { state, manifest: m } = o;
  const fields: Field[] = [];
  if (state.packages.length)
    fields.push({ field: 'build.packages', value: state.packages.join(' '), from: 'apt install lines' });
  for (const r of state.repositories)
    fields.push({
      field: 'build.repositories',
      value: `"${r.repo.name}"`,
      from: `${r.origin}:${r.units.map((u) => u.start).join(',')}`,
    });
  if (m.firewall) fields.push({ field: 'firewall', value: JSON.stringify(m.firewall), from: 'ufw lines' });
  if (state.services.length)
    fields.push({ field: 'services', value: state.services.join(' '), from: 'systemctl enable lines' });
  if (state.loginHold)
    fields.push({
      field: 'loginHold',
      value: JSON.stringify(state.loginHold),
      from: 'the sshd_config ForceCommand "please wait"',
    });
  if (state.credentialsFile)
    fields.push({
      field: 'credentials.file',
      value: state.credentialsFile,
      from: 'the first-boot script that writes it',
    });
  for (const { secret: s, from } of state.secrets)
    fields.push({ field: `secrets.${s.name}`, value: `${s.length} ${s.alphabet}`, from });
  for (const [k, v] of o.vars.used)
    fields.push({ field: `variables.${k}`, value: JSON.stringify(v.value), from: v.from });
  if (o.motd) fields.push({ field: 'motd.file', value: 'motd.txt', from: o.motd.target });
  fields.push({ field: 'snapshot.name', value: m.snapshot!.name!, from: `${o.builderAt} snapshot_name` });
  if (o.firstBoot.length)
    fields.push({
      field: 'first-boot/',
      value: o.firstBoot.map((f) => f.rel).join(', '),
      from: 'per-instance scripts',
    });
  return fields;
}

/** Each provisioner, per-instance script and the MOTD: what it became, lines absorbed and kept. */
export function fileEntries(o: ReportInput): FileEntry[] {
  const { state } = o;
  const entries: FileEntry[] = [];
  for (const s of o.steps) {
    if (s.kind === 'files') {
      entries.push(filesEntry(s, state));
      continue;
    }
    const si = o.scripts.find((x) => x.step === s)!;
    if (si.doScript) {
      entries.push(doScriptEntry(si, state));
      continue;
    }
    const r = o.results.get(si)!;
    const became = dedupe([...r.hits.values()].map((h) => h.became));
    if (s.shebangAdded && r.keptText) became.push('#!/bin/sh added (the script had none)');
    entries.push({
      origin: s.origin,
      role: s.role,
      became,
      keptAs: o.keptAs.get(si),
      absorbed: r.absorbed,
      kept: r.kept,
    });
  }
  for (const f of o.firstBoot) {
    const r = o.fbResults.get(f)!;
    entries.push({
      origin: f.origin,
      role: `per-instance script ${f.target}`,
      became: dedupe([`first-boot step ${f.rel}`, ...[...r.hits.values()].map((h) => h.became)]),
      keptAs: f.rel,
      absorbed: r.absorbed,
      kept: r.kept,
    });
  }
  if (o.motd)
    entries.push({
      origin: o.tree.get(o.motd.target)!.origin,
      role: `MOTD script ${o.motd.target}`,
      became: [`motd.txt${o.motd.text.includes('{{ip}}') ? " ({{ip}} where it printed the droplet's address)" : ''}`],
      keptAs: 'motd.txt',
      absorbed: 0,
      kept: 0,
    });
  return entries;
}

function filesEntry(s: Extract<Step, { kind: 'files' }>, state: ImportState): FileEntry {
  const kept = s.entries.filter((e) => !state.moved.has(e.target));
  const moved = s.entries.filter((e) => state.moved.has(e.target));
  return {
    origin: s.origin,
    role: 'file provisioner',
    absorbed: 0,
    kept: 0,
    became: [
      ...(kept.length
        ? [
            `files/: ${kept.length} file(s) (${[...new Set(kept.map((e) => e.target.split('/').slice(0, 3).join('/')))].join(', ')})`,
          ]
        : []),
      ...moved.map((e) => `${e.target} → ${state.moved.get(e.target)}`),
    ],
  };
}

/** DigitalOcean's cleanup or image check: dropped, the package's own runs; added lines are named. */
function doScriptEntry(si: ScriptInfo, state: ImportState): FileEntry {
  const s = si.step;
  const d = si.doScript!;
  const lines = s.text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).length;
  const what = d.kind === 'cleanup' ? "DigitalOcean's cleanup" : "DigitalOcean's image check";
  const own = d.kind === 'cleanup' ? 'cleanup' : 'check';
  const became = d.version
    ? [`dropped: ${what} as published (${d.version.where}, ${d.version.date}); the package's ${own} runs instead`]
    : d.added.length
      ? [
          `dropped: a modified copy of ${what}; the package's ${own} runs instead`,
          'lines no DigitalOcean version has (not carried over):',
          ...d.added.map((l) => `+ ${l.line}: ${l.text}`),
        ]
      : [
          `dropped: ${what}, cut down or reordered (every line of it is DigitalOcean's, but it matches no published version); the package's ${own} runs instead`,
        ];
  if (!d.version && d.added.length)
    state.person.push({
      where: s.origin,
      what: `a modified copy of ${what}: ${d.added.length} line(s) of it are not DigitalOcean's and were not carried over (listed above); if they are needed, put them into a build script (or \`mpimg add ${own}-script\` to own the whole ${d.kind})`,
    });
  return {
    origin: s.origin,
    role: d.kind === 'cleanup' ? 'cleanup script' : 'image check script',
    became,
    absorbed: lines,
    kept: 0,
  };
}

const dedupe = (xs: string[]): string[] => [...new Set(xs)];
