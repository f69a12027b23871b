// Writes the README's table of build steps from the list in tasks/steps/, after `npm run build`:
//   npm run build && node scripts/build-steps-table.mjs
// test/docs.test.ts fails while the committed README differs from the list.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STEP_TABLE_START, withStepTable } from '../lib/tasks/steps/table.js';

const file = fileURLToPath(new URL('../README.md', import.meta.url));
const text = readFileSync(file, 'utf8');
const next = withStepTable(text);
if (next === null) {
  console.error(`README.md has no build-steps markers (${STEP_TABLE_START} ...): put them back where the table goes`);
  process.exit(1);
}
if (next !== text) writeFileSync(file, next);
