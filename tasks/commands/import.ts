/**
 * `mpimg import <template file or app folder> <new project folder>`: an existing Packer image
 * project (DigitalOcean's marketplace-partners or droplet-1-clicks layout, JSON or HCL2) becomes a
 * new image project in one command, with a report of what became what (tasks/import/).
 */
import * as path from 'node:path';
import { UsageError } from '../../core/errors.js';
import { importTemplate } from '../import/importer.js';
import { renderReport } from '../import/report.js';
import { checkTarget, writeProject } from '../import/write.js';
import { parseOptions } from './options.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg import <template file or app folder> <new project folder> [options]

Brings a Packer image project over: the template (template.json, marketplace-image.json or
*.pkr.hcl, with a "digitalocean" builder) and the files and scripts it names. What it recognises
becomes mpimg.json (distribution, droplet, name, version, variables, packages, repositories,
firewall, services, login hold, credentials file, MOTD, first-boot steps); DigitalOcean's own
cleanup and image check are dropped (the package runs fixed versions); every other line is kept,
in order, as a build or first-boot script. The report (also IMPORT.md in the new project) lists
per original file what became which field, the shell lines absorbed and kept, and what needs a
person. Nothing of the template is run; links are not followed; paths stay inside --base.

Options:
  --base DIR        the folder Packer ran in (the template's paths are relative to it);
                    default: the template's folder or its parent, whichever holds the paths
  --dry-run         print the report and write nothing
  --json            print the report as JSON
  --fetch-keys      fetch repository signing keys named by URL and keep them in the project
                    (keys/), so the repositories become build.repositories (the report shows
                    each key's fingerprint to compare with the vendor's)
  --name <name>     display name (default: the template's application_name)
  --slug <slug>     slug (default: from the name)
  --vendor <name>   company folder under /opt (default: the first word of the slug)
  --link            link node_modules/generator-mpimg to this copy of generator-mpimg
  --package <spec>  where npm gets generator-mpimg for the project (as \`mpimg new --package\`)
`;

const command: Command = {
  name: 'import',
  summary: 'turn a Packer image project (DigitalOcean layouts) into a new image project',
  usage,
  async run(argv, ctx) {
    // The option parser every command shares: its own wording, a did-you-mean, never parseArgs' sentences.
    const { values, positionals } = parseOptions(
      argv,
      {
        base: { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        'fetch-keys': { type: 'boolean' },
        name: { type: 'string' },
        slug: { type: 'string' },
        vendor: { type: 'string' },
        link: { type: 'boolean' },
        package: { type: 'string' },
      },
      { command: 'import', usage, positionals: true },
    );
    const dry = values['dry-run'] === true;
    // --dry-run needs no project folder
    if (positionals.length > 2 || positionals.length < (dry ? 1 : 2)) {
      const what =
        positionals.length === 0
          ? 'missing <template file or app folder> and <new project folder>'
          : positionals.length === 1
            ? 'missing <new project folder>'
            : `at most two arguments, got ${positionals.length}: ${positionals.join(' ')}`;
      throw new UsageError(
        what,
        'e.g. `mpimg import droplet-1-clicks/wordpress-24-04 wordpress-image` (or --dry-run with the template alone)',
      );
    }
    const [source, target] = positionals;
    if (target !== undefined) checkTarget(path.resolve(ctx.cwd, target));
    const result = await importTemplate({
      source: path.resolve(ctx.cwd, source),
      base: typeof values.base === 'string' ? path.resolve(ctx.cwd, values.base) : undefined,
      name: values.name,
      slug: values.slug,
      vendor: values.vendor,
      options: { fetchKeys: values['fetch-keys'] === true },
    });
    if (!dry) await writeProject(target, result, ctx, { link: values.link === true, package: values.package });
    const report = { ...result.report, project: dry ? undefined : path.resolve(ctx.cwd, target) };
    if (values.json)
      ctx.stdout.write(`${JSON.stringify({ ...report, written: !dry, manifest: result.manifest }, null, 2)}\n`);
    else ctx.stdout.write(renderReport(report));
    if (!dry && !values.json) {
      const rel = path.relative(ctx.cwd, path.resolve(ctx.cwd, target));
      ctx.stdout.write(
        `\nThe project is in ${rel.startsWith('..') ? path.resolve(ctx.cwd, target) : rel || '.'} (the report is its IMPORT.md). Next there: \`npm install\` (or --link), \`mpimg validate\`, \`make bundle\`.\n`,
      );
    }
    return 0;
  },
};
export default command;
