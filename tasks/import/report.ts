/**
 * The import report: what each original file became (manifest fields, kept scripts), how many of
 * its shell lines were absorbed and how many kept, and what needs a person. Printed by `mpimg
 * import`, written into the new project as IMPORT.md, and given as JSON with --json.
 */
import type { PersonNote } from './state.js';

export interface FileEntry {
  /** The original file (relative to where Packer ran) or provisioner ("template.json provisioners[3]"). */
  origin: string;
  /** What it is in the template. */
  role: string;
  /** What its parts became, in order. */
  became: string[];
  /** Where what was kept is in the new project. */
  keptAs?: string;
  /** Shell lines (not blank, not comments) absorbed into the manifest or dropped, and kept. */
  absorbed: number;
  kept: number;
}

export interface Field {
  field: string;
  value: string;
  from: string;
}

export interface Report {
  template: string[];
  base: string;
  baseWhy: string;
  project?: string;
  fields: Field[];
  files: FileEntry[];
  person: PersonNote[];
  info: PersonNote[];
  totals: { absorbed: number; kept: number; files: number };
}

export function totals(files: FileEntry[]): Report['totals'] {
  return {
    absorbed: files.reduce((n, f) => n + f.absorbed, 0),
    kept: files.reduce((n, f) => n + f.kept, 0),
    files: files.length,
  };
}

const pct = (a: number, b: number): string => (a + b === 0 ? '-' : `${Math.round((100 * a) / (a + b))}%`);

/** The report as text (also IMPORT.md: it reads as Markdown). */
export function renderReport(r: Report): string {
  const out: string[] = [];
  out.push(`# mpimg import`, '');
  out.push(`Template: ${r.template.join(', ')}`);
  out.push(`Paths read relative to: ${r.base} (${r.baseWhy})`);
  if (r.project) out.push(`New project: ${r.project}`);
  out.push('', '## Mapped onto mpimg.json', '');
  for (const f of r.fields) out.push(`- \`${f.field}\`: ${f.value} (from ${f.from})`);
  out.push('', '## Per original file', '');
  for (const f of r.files) {
    const counts = f.absorbed + f.kept ? `: ${f.absorbed} shell line(s) absorbed, ${f.kept} kept` : '';
    out.push(`- ${f.origin} (${f.role})${counts}${f.keptAs ? `; kept as ${f.keptAs}` : ''}`);
    for (const b of f.became) out.push(`  - ${b}`);
  }
  out.push(
    '',
    `Shell lines: ${r.totals.absorbed} absorbed, ${r.totals.kept} kept (${pct(r.totals.absorbed, r.totals.kept)} absorbed).`,
  );
  out.push('', '## Needs a person', '');
  if (r.person.length === 0) out.push('Nothing.');
  for (const p of r.person) out.push(`- ${p.where}: ${p.what}`);
  if (r.info.length) {
    out.push('', '## Notes', '');
    for (const p of r.info) out.push(`- ${p.where}: ${p.what}`);
  }
  return `${out.join('\n')}\n`;
}
