// docs/manifest.md from the published schema and docs/manifest-example*.json (run by `npm run build`
// after tsc and build-schema.mjs; test/docs.test.ts checks the committed page is current).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ALTERNATIVE_EXAMPLES, manifestDoc } from '../lib/tasks/docs/manifest-doc.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const schema = JSON.parse(readFileSync(`${root}mpimg.schema.json`, 'utf8'));
const example = JSON.parse(readFileSync(`${root}docs/manifest-example.json`, 'utf8'));
const alternatives = ALTERNATIVE_EXAMPLES.map((n) =>
  JSON.parse(readFileSync(`${root}docs/manifest-example-${n}.json`, 'utf8')),
);
writeFileSync(`${root}docs/manifest.md`, manifestDoc(schema, example, alternatives));
