/** Assembles the build record of the image on the connected machine and writes it, with its SBOM, under images/. */
import { relative } from 'node:path';
import type { Connection } from '../ssh/connection.js';
import type { TaskTiming } from '../ssh/output.js';
import { bundledVariables } from '../standard/build-script-run.js';
import { manifestOf, targetRoot } from '../standard/project.js';
import { checkSummaryOf } from './check-summary.js';
import { machineFacts, type MachineFacts } from './machine.js';
import { generatorVersion, gitState, secretNames } from './project-facts.js';
import { sbomOf } from './sbom.js';
import { newRecordId, recordsFolder, writeRecord } from './store.js';
import { RECORD_FORMAT, type BuildRecord, type CheckSummary, type StepTiming } from './types.js';
import type { Manifest } from '../../runtime/manifest.js';

/**
 * The steps run before this one in the same pipeline: the earlier timings of the running task's depth,
 * back to its parent (the `build` task). The running task's own entry is the last one (task() adds it
 * when it starts).
 */
export function pipelineTimings(timings: readonly TaskTiming[]): { parent?: TaskTiming; steps: StepTiming[] } {
  const self = timings.at(-1);
  if (!self) return { steps: [] };
  const steps: StepTiming[] = [];
  let parent: TaskTiming | undefined;
  for (let i = timings.length - 2; i >= 0; i--) {
    const t = timings[i];
    if (t.depth < self.depth) {
      parent = t;
      break;
    }
    if (t.depth === self.depth)
      steps.unshift({
        name: t.name,
        ...(t.startedAt ? { startedAt: t.startedAt } : {}),
        ms: Math.round(t.ms),
        ok: t.ok,
      });
  }
  return { parent, steps };
}

/** What a build tells of itself, besides the machine: how it ran and where. */
export interface BuildFacts {
  target: string;
  host: string;
  root: string;
  startedAt: string | undefined;
  steps: StepTiming[];
  freshen: BuildRecord['build']['freshen'];
  check: CheckSummary | null;
  /** The Packer run (PACKER_RUN_UUID) of a Packer build: its snapshot finds the record by it. */
  packerRun?: string;
}

/** The base slug of a manifest, and the distribution a machine without os-release is recorded as. */
export function recordBase(m: Manifest): { base: string; fallback: string } {
  const base = m.droplet?.image ?? m.distributions[0];
  return { base, fallback: /^\d+$/.test(base) ? m.distributions[0] : base };
}

/** The record of one build, from the project, the machine's facts and the build's own (both kinds of build). */
export function assembleRecord(
  project: string,
  m: Manifest,
  variables: Record<string, string>,
  machine: MachineFacts,
  b: BuildFacts,
  created: Date,
): BuildRecord {
  const { base } = recordBase(m);
  return {
    format: RECORD_FORMAT,
    id: newRecordId(created, machine.system.distribution),
    createdAt: created.toISOString(),
    project: { name: m.name, slug: m.slug, version: m.version, variables, ...secretNames(m), git: gitState(project) },
    generator: { name: 'generator-mpimg', version: generatorVersion() },
    build: {
      target: b.target,
      host: b.host,
      ...(b.root === '/' ? {} : { root: b.root }),
      ...(b.packerRun ? { packerRun: b.packerRun } : {}),
      dropletId: machine.dropletId,
      startedAt: b.startedAt ?? created.toISOString(),
      finishedAt: created.toISOString(),
      steps: b.steps,
      freshen: b.freshen,
      check: b.check,
    },
    // The build base: a custom image id of droplet.image, else the distribution the machine runs
    // (`mpimg image --all` builds each distribution from its own slug).
    base: /^\d+$/.test(base)
      ? { image: base, imageId: Number(base) }
      : { image: machine.system.distribution, imageId: null },
    system: machine.system,
    packages: machine.packages,
    snapshot: null,
  };
}

/** The record of the image on `c` (nothing written). */
export async function makeRecord(c: Connection, now: () => Date = () => new Date()): Promise<BuildRecord> {
  const m = manifestOf(c);
  const { parent, steps } = pipelineTimings(c.timings);
  const variables = bundledVariables(c, m);
  const machine = await machineFacts(c, recordBase(m).fallback);
  const fresh = steps.find((s) => s.name === 'freshen' && s.ok);
  const created = now();
  return assembleRecord(
    c.project,
    m,
    variables,
    machine,
    {
      target: c.target,
      host: c.host,
      root: targetRoot(),
      startedAt: parent?.startedAt ?? steps[0]?.startedAt ?? c.timings.at(-1)?.startedAt,
      steps,
      freshen: fresh ? { ...(fresh.startedAt ? { startedAt: fresh.startedAt } : {}), ms: fresh.ms } : null,
      check: steps.some((s) => s.name === 'check' || s.name === 'check-report') ? checkSummaryOf(c) : null,
    },
    created,
  );
}

/** The record step: checks the records folder first (a bad one fails before anything is read), then writes. */
export async function recordBuild(c: Connection): Promise<string> {
  recordsFolder(c.project, 'check');
  const record = await makeRecord(c);
  if (record.packages.database === null)
    c.log(
      `no package database (dpkg or rpm) on ${c.target}${record.build.root ? ` in ${record.build.root}` : ''}: the record lists no packages`,
    );
  const dir = writeRecord(c.project, record, sbomOf(record));
  const rel = relative(c.project, dir);
  c.log(
    `build record ${rel}/: ${record.system.distribution}, ${record.packages.count} packages, ${record.project.git ? `commit ${record.project.git.commit.slice(0, 12)}${record.project.git.dirty ? ' (dirty)' : ''}` : 'no git repository'}`,
  );
  return dir;
}
