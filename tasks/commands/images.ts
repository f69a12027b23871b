/** `mpimg images`: the project's build records (images/), newest first. */
import { MpimgError } from '../../core/errors.js';
import { loadManifest } from '../do/project.js';
import { listingDistribution } from '../do/release.js';
import { listRecords, type StoredRecord } from '../record/store.js';
import { RECORDS_DIR } from '../record/types.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg images [--project DIR] [--json]

Lists the build records of the project (${RECORDS_DIR}/<id>/record.json, one per image a build made),
newest first: when, the snapshot (once \`mpimg snapshot\` or \`mpimg image\` made it), the distribution,
how many packages the image holds, the project's git commit (* = the tree had uncommitted changes)
and the image check's counts. Beside each record: sbom.cdx.json, the image's CycloneDX SBOM.

Options:
${projectHelp()}
  --json            print the list as JSON (one object per record, with its folder)
  --latest-snapshot print only the snapshot id of the newest record with a snapshot of the listing's
                    distribution ($.listing.distribution, else the build base); exit 1 when none
                    (the scheduled refresh of the generated workflow starts from it)
`;

/** What one line says of a record. */
export interface ImageLine {
  id: string;
  dir: string;
  createdAt: string;
  snapshot: { id: number; name: string } | null;
  distribution: string;
  packages: number;
  commit: string | null;
  dirty: boolean;
  check: { pass: number; warn: number; fail: number; skip: number } | null;
  freshenedAt: string | null;
}

export function imageLine(s: StoredRecord): ImageLine {
  const r = s.record;
  return {
    id: r.id,
    dir: `${RECORDS_DIR}/${r.id}`,
    createdAt: r.createdAt,
    snapshot: r.snapshot ? { id: r.snapshot.id, name: r.snapshot.name } : null,
    distribution: r.system.distribution,
    packages: r.packages.count,
    commit: r.project.git?.commit ?? null,
    dirty: r.project.git?.dirty ?? false,
    check: r.build.check,
    freshenedAt: r.build.freshen?.startedAt ?? null,
  };
}

// Names come from the API and the project: no terminal control characters in what is printed.
const printable = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');

function table(lines: ImageLine[]): string {
  const rows = lines.map((l) => [
    l.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    l.snapshot ? `${l.snapshot.id} ${printable(l.snapshot.name)}` : '(no snapshot)',
    printable(l.distribution),
    String(l.packages),
    l.commit ? `${l.commit.slice(0, 12)}${l.dirty ? '*' : ''}` : '-',
    l.check ? `${l.check.pass}/${l.check.warn}/${l.check.fail}` : '-',
    l.id,
  ]);
  const head = ['WHEN (UTC)', 'SNAPSHOT', 'DISTRIBUTION', 'PACKAGES', 'COMMIT', 'CHECK P/W/F', 'RECORD'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return `${[head, ...rows].map(fmt).join('\n')}\n`;
}

/** The snapshot id of the newest record of the listing's distribution that has one. */
function latestSnapshot(cwd: string, records: StoredRecord[]): number {
  const dist = listingDistribution(loadManifest(cwd));
  const found = records.find((s) => s.record.snapshot !== null && s.record.system.distribution === dist);
  if (!found)
    throw new MpimgError(`no build record in ${RECORDS_DIR}/ has a snapshot of ${dist}, the listing's distribution`, {
      where: `${RECORDS_DIR}/`,
      hint: 'build and snapshot an image (`mpimg image`), or bring the records of the released image into images/',
    });
  return found.record.snapshot!.id;
}

const command: Command = {
  name: 'images',
  summary: 'list the build records of this project (images/), newest first',
  usage,
  async run(argv, ctx) {
    const { values } = parseOptions(
      argv,
      { ...PROJECT_OPTION, json: { type: 'boolean' }, 'latest-snapshot': { type: 'boolean' } },
      { command: 'images', usage },
    );
    const { cwd } = inProject(ctx, values.project);
    const { records, problems } = listRecords(cwd);
    for (const p of problems) ctx.stderr.write(`warning: ${p.path}: ${p.message} (left out)\n`);
    if (values['latest-snapshot']) {
      ctx.stdout.write(`${latestSnapshot(cwd, records)}\n`);
      return 0;
    }
    const lines = records.map(imageLine);
    if (values.json) ctx.stdout.write(`${JSON.stringify(lines, null, 2)}\n`);
    else if (lines.length === 0)
      ctx.stdout.write(
        `No build records in ${RECORDS_DIR}/ yet: a build writes one (make build HOST=..., mpimg image).\n`,
      );
    else ctx.stdout.write(table(lines));
    return 0;
  },
};

export default command;
