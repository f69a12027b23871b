import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadProject, readManifest } from '../bundle/project.js';
import { catalogWarnings } from '../bundle/build-script.js';
import { shellcheckWarnings } from '../bundle/script-check.js';
import { writeBundle } from '../bundle/write-bundle.js';
import { variableOverrides } from '../bundle/variables.js';
import { UsageError } from '../errors.js';
import type { Command } from './types.js';

const command: Command = {
  name: 'bundle',
  summary: 'build dist/<slug>.cjs and dist/<slug>-install.sh from this image project',
  usage: `Usage: mpimg bundle [--project DIR] [--out DIR] [--var NAME=VALUE]...

Validates mpimg.json and the project folders, then writes:
  dist/<slug>.cjs         the runtime with this project's payload (run with node 18+)
  dist/<slug>-install.sh  the same plan as a POSIX-sh installer (droplets without Node)
  dist/<slug>-build.sh    the catalog build steps (repositories, users, owners, services, firewall)
  dist/<slug>.pkr.hcl     the Packer template of the same build (generated: never edit it)

Options:
  --project DIR     the image project (default: the current folder)
  --out DIR         output folder (default: <project>/dist)
  --var NAME=VALUE  give a variable of mpimg.json ("variables") this value for this bundle
                    (repeatable; MPIMG_VAR_<NAME>=VALUE in the environment does the same, --var wins)
`,
  async run(argv, ctx) {
    let values: { project?: string; out?: string; var?: string[] };
    try {
      ({ values } = parseArgs({ args: argv, options: { project: { type: 'string' }, out: { type: 'string' }, var: { type: 'string', multiple: true } }, strict: true }));
    } catch (e) {
      throw new UsageError((e as Error).message, 'see `mpimg bundle --help`');
    }
    const dir = path.resolve(ctx.cwd, values.project ?? '.');
    const overrides = variableOverrides(readManifest(dir), values.var ?? [], ctx.env);
    const project = loadProject(dir, { overrides });
    for (const w of [...shellcheckWarnings(project.scripts, dir), ...catalogWarnings(project.manifest)]) ctx.stderr.write(`warning: ${w}\n`);
    const r = writeBundle(project, values.out ? path.resolve(ctx.cwd, values.out) : undefined);
    const rel = (p: string) => path.relative(ctx.cwd, p) || p;
    ctx.stdout.write(`wrote ${rel(r.cjs)} (${r.runtimeBytes + r.payloadBytes} bytes: runtime ${r.runtimeBytes}, payload ${r.payloadBytes})\n`);
    ctx.stdout.write(`wrote ${rel(r.sh)}\n`);
    ctx.stdout.write(`wrote ${rel(r.build)} (the build steps of mpimg.json)\n`);
    // Names only: a value is the vendor's to show (it may be a licence key).
    const given = Object.keys(overrides).sort();
    if (given.length) ctx.stdout.write(`variables given for this bundle (instead of mpimg.json's defaults): ${given.join(', ')}\n`);
    ctx.stdout.write(`wrote ${rel(r.packer)} (the Packer template, from mpimg.json)\n`);
    return 0;
  },
};
export default command;
