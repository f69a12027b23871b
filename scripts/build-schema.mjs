// Publishes the ONE rule source of mpimg.json (runtime/manifest-schema.ts, compiled by tsc just
// before) as mpimg.schema.json at the package root, for editors: generated projects point their
// "$schema" at node_modules/generator-mpimg/mpimg.schema.json.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { schemaDocument } from '../lib/runtime/manifest-schema.js';
import { publishedSchema } from '../lib/runtime/schema.js';

const root = fileURLToPath(new URL('..', import.meta.url));
writeFileSync(`${root}mpimg.schema.json`, `${JSON.stringify(publishedSchema(schemaDocument()), null, 2)}\n`);
