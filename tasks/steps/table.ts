/**
 * The README's table of build steps, from the list: scripts/build-steps-table.mjs writes it between
 * its markers, test/docs.test.ts fails while the committed README differs.
 */
import { STEPS } from './index.js';

export const STEP_TABLE_START =
  '<!-- build-steps:start (generated from tasks/steps/: node scripts/build-steps-table.mjs) -->';
export const STEP_TABLE_END = '<!-- build-steps:end -->';

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The table: every step in build order, what it does, what of mpimg.json it carries out, its build.sh command. */
export function stepTable(): string {
  const rows = STEPS.map((s) => {
    const testbuild =
      s.testbuild === null ? ' (`build` only)' : s.testbuild ? ` (\`testbuild\` runs \`${s.testbuild}\`)` : '';
    const sections = s.sections.length ? s.sections.map((p) => `\`${p}\``).join(', ') : '—';
    return `| \`${s.name}\` | ${cell(s.summary)}${testbuild} | ${sections} | ${s.buildScript ? `\`${s.name}\`` : '—'} |`;
  });
  return [
    '| Step | What it does | From mpimg.json | `<slug>-build.sh` command |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** `readme` with the table between its markers; null when the markers are missing. */
export function withStepTable(readme: string): string | null {
  const a = readme.indexOf(STEP_TABLE_START);
  const b = readme.indexOf(STEP_TABLE_END);
  if (a < 0 || b < a) return null;
  return `${readme.slice(0, a + STEP_TABLE_START.length)}\n${stepTable()}\n${readme.slice(b)}`;
}
