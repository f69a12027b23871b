/**
 * `mpimg record` (not in `mpimg --help`: the Packer template calls it): the build record of a Packer
 * build on the vendor's machine, from the facts its record step downloaded (--from-packer), and the
 * snapshot added from Packer's manifest when the build made one (--packer-manifest).
 */
import { rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { attachPackerSnapshot, recordFromPacker } from '../record/packer-facts.js';
import { sbomOf } from '../record/sbom.js';
import { recordsFolder, writeRecord } from '../record/store.js';
import { RECORDS_DIR } from '../record/types.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg record --from-packer FILE [--project DIR]
       mpimg record --packer-manifest FILE [--project DIR]

The build record of a \`packer build\` of the bundle's template (dist/<slug>.pkr.hcl), which runs this
command itself: --from-packer writes ${RECORDS_DIR}/<id>/ (record.json and sbom.cdx.json) from the facts
the template's record step downloaded, then deletes that file; --packer-manifest adds the snapshot of
the same Packer run (PACKER_RUN_UUID, else the manifest's last run) to its record.

Options:
${projectHelp()}
`;

const command: Command = {
  name: 'record',
  summary: "write the build record of a Packer build (run by the bundle's Packer template)",
  usage,
  async run(argv, ctx) {
    const { values } = parseOptions(
      argv,
      { ...PROJECT_OPTION, 'from-packer': { type: 'string' }, 'packer-manifest': { type: 'string' } },
      { command: 'record', usage },
    );
    const from = values['from-packer'];
    const manifest = values['packer-manifest'];
    if ((from === undefined) === (manifest === undefined))
      throw new UsageError('give one of --from-packer FILE and --packer-manifest FILE', 'see `mpimg record --help`');
    const { cwd } = inProject(ctx, values.project);
    if (manifest !== undefined) {
      // The snapshot exists by now: a record that cannot be found or written is a warning, not a failure.
      let done: ReturnType<typeof attachPackerSnapshot>;
      try {
        done = attachPackerSnapshot(cwd, resolve(ctx.cwd, manifest), ctx.env.PACKER_RUN_UUID);
      } catch (err) {
        ctx.stderr.write(`warning: the snapshot could not be added to its build record: ${(err as Error).message}\n`);
        return 0;
      }
      ctx.stderr.write(
        done
          ? `build record ${RECORDS_DIR}/${done.stored.record.id}: snapshot ${done.snapshot.id} ${JSON.stringify(done.snapshot.name)} added\n`
          : `note: no build record of this Packer run in ${RECORDS_DIR}/: the snapshot has none\n`,
      );
      return 0;
    }
    const file = resolve(ctx.cwd, from!);
    recordsFolder(cwd, 'check');
    const record = recordFromPacker(cwd, file, ctx.env, (line) => ctx.stderr.write(`note: ${line}\n`));
    if (record.packages.database === null)
      ctx.stderr.write('note: no package database (dpkg or rpm) on the build machine: the record lists no packages\n');
    const dir = writeRecord(cwd, record, sbomOf(record));
    rmSync(file, { force: true });
    ctx.stdout.write(
      `build record ${relative(cwd, dir)}/: ${record.system.distribution}, ${record.packages.count} packages, ${record.project.git ? `commit ${record.project.git.commit.slice(0, 12)}${record.project.git.dirty ? ' (dirty)' : ''}` : 'no git repository'}\n`,
    );
    return 0;
  },
};

export default command;
