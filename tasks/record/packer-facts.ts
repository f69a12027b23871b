/**
 * The build record of a Packer build. The template's record step gathers on the droplet what the SSH
 * record step reads over SSH (the same commands: ./machine.ts, ./packages.ts) with what the template
 * noted of the build (its start, the freshen step's time, the check's output) into one facts file,
 * Packer downloads it beside the template, and `mpimg record --from-packer` writes the record and its
 * SBOM from it on the vendor's machine. The snapshot's id comes after the build, from Packer's
 * manifest post-processor (`mpimg record --packer-manifest`).
 */
import { readFileSync } from 'node:fs';
import { MpimgError } from '../../core/errors.js';
import { readManifest } from '../../core/manifest-file.js';
import { bundledVariables } from '../standard/build-script-run.js';
import { assembleRecord, recordBase } from './build-record.js';
import { parseCheckSummary } from './check-summary.js';
import { factsOf } from './machine.js';
import { listRecords, rewriteRecord, type StoredRecord } from './store.js';
import type { BuildRecord } from './types.js';

import { SECTIONS, type Section } from './packer-scripts.js';

function badFacts(file: string, what: string): MpimgError {
  return new MpimgError(`${file} is not a facts file of the Packer template's record step: ${what}`, {
    where: file,
    hint: 'build again with `packer build` of a template written by this generator-mpimg (`make bundle`)',
  });
}

/** The sections of a facts file (bytes exactly as the droplet wrote them, read as UTF-8). */
export function parseFacts(data: Buffer, file = 'the facts file'): Record<Section, string> {
  const out = {} as Record<Section, string>;
  let at = 0;
  for (const name of SECTIONS) {
    const nl = data.indexOf(0x0a, at);
    const head = nl < 0 ? '' : data.subarray(at, nl).toString('utf8');
    const m = /^mpimg-record ([a-z.-]+) (\d{1,12})$/.exec(head);
    if (!m || m[1] !== name) throw badFacts(file, `section ${name} expected at byte ${at}`);
    const end = nl + 1 + Number(m[2]);
    if (end > data.length) throw badFacts(file, `section ${name} is cut short`);
    out[name] = data.subarray(nl + 1, end).toString('utf8');
    at = end;
  }
  if (at !== data.length) throw badFacts(file, `${data.length - at} bytes after the last section`);
  return out;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** The record of a Packer build from its facts file (nothing written). `note`: what the record lacks. */
export function recordFromPacker(
  project: string,
  file: string,
  env: NodeJS.ProcessEnv,
  note: (line: string) => void,
  now: Date = new Date(),
): BuildRecord {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new MpimgError(`cannot read the Packer build's facts: ${(err as Error).message}`, {
      where: file,
      hint: 'run `packer build` of the bundle again: its record step downloads this file',
    });
  }
  const f = parseFacts(data, file);
  const m = readManifest(project);
  const machine = factsOf(
    { osRelease: f['os-release'], kernel: f.kernel, packageListing: f.packages, dropletId: f['droplet-id'] },
    recordBase(m).fallback,
    note,
  );
  const started = f.started.trim();
  const fStart = f['freshen-started'].trim();
  const fSeconds = f['freshen-seconds'].trim();
  const run = env.PACKER_RUN_UUID ?? '';
  return assembleRecord(
    project,
    m,
    bundledVariables({ project }, m),
    machine,
    {
      target: 'packer',
      host: '',
      root: '/',
      startedAt: ISO.test(started) ? started : undefined,
      // Packer times no step of its own: the template notes only the freshen step's.
      steps: [],
      freshen:
        ISO.test(fStart) && /^\d{1,9}$/.test(fSeconds) ? { startedAt: fStart, ms: Number(fSeconds) * 1000 } : null,
      check: f['check.out'] === '' ? null : parseCheckSummary(f['check.out']),
      ...(/^[0-9a-f-]{8,64}$/i.test(run) ? { packerRun: run } : {}),
    },
    now,
  );
}

interface PackerManifest {
  last_run_uuid?: unknown;
  builds?: Array<{ packer_run_uuid?: unknown; artifact_id?: unknown; custom_data?: { snapshot_name?: unknown } }>;
}

/**
 * The snapshot of a Packer run (its manifest's build of that run: artifact_id "region:id", the name in
 * custom_data) into the run's record. The record updated, or null when the project has none of the run.
 */
export function attachPackerSnapshot(
  project: string,
  file: string,
  runUuid: string | undefined,
  now: Date = new Date(),
): { stored: StoredRecord; snapshot: { id: number; name: string } } | null {
  let manifest: PackerManifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as PackerManifest;
  } catch (err) {
    throw new MpimgError(`cannot read Packer's manifest: ${(err as Error).message}`, {
      where: file,
      hint: "the template's manifest post-processor writes it; build again",
    });
  }
  const run = runUuid || (typeof manifest.last_run_uuid === 'string' ? manifest.last_run_uuid : '');
  const build = (manifest.builds ?? []).filter((b) => b?.packer_run_uuid === run).at(-1);
  const id = typeof build?.artifact_id === 'string' ? /^[a-z0-9]+:([1-9]\d{0,15})$/.exec(build.artifact_id) : null;
  if (!run || !build || !id)
    throw new MpimgError(`no DigitalOcean snapshot of Packer run ${run || '(none)'} in the manifest`, {
      where: `${file}: $.builds`,
      hint: 'the snapshot exists only when `packer build` finished; find it with `doctl compute snapshot list`',
    });
  const name = typeof build.custom_data?.snapshot_name === 'string' ? build.custom_data.snapshot_name : '';
  const found = listRecords(project).records.find(
    (s) => s.record.snapshot === null && s.record.build.packerRun === run,
  );
  if (!found) return null;
  found.record.snapshot = { id: Number(id[1]), name, at: now.toISOString() };
  rewriteRecord(found);
  return { stored: found, snapshot: { id: Number(id[1]), name } };
}
