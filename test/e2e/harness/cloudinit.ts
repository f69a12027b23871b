import type { RunResult } from './exec.js';
import type { Droplet } from './droplet.js';

export interface Seed {
  instanceId: string;
  /** OpenSSH public key line root should get (DigitalOcean puts the account's keys there). */
  publicKey: string;
  hostname?: string;
}

/**
 * Keeps cloud-init off this machine: only the NoCloud seed (then nothing), no network config, no disk
 * growing, and no default user, so root gets the seed's key as on a DigitalOcean droplet.
 */
export const DROP_IN_PATH = 'etc/cloud/cloud.cfg.d/01-mpimg-e2e.cfg';
export const DROP_IN = `# mpimg e2e test bed: a NoCloud "droplet" that never touches the host
datasource_list: [NoCloud, None]
network:
  config: disabled
growpart:
  mode: "off"
resize_rootfs: false
disable_root: false
users: []
apt:
  preserve_sources_list: true
`;

export const STAGES = ['init --local', 'init', 'modules --mode=config', 'modules --mode=final'] as const;

/** Writes the NoCloud seed of a (new or same) instance and the config drop-in. */
export function writeSeed(d: Droplet, seed: Seed): void {
  const host =
    seed.hostname ??
    `droplet-${seed.instanceId
      .replace(/[^a-z0-9-]/gi, '')
      .slice(-12)
      .toLowerCase()}`;
  d.write(DROP_IN_PATH, DROP_IN);
  d.write(
    'var/lib/cloud/seed/nocloud/meta-data',
    `instance-id: ${seed.instanceId}\nlocal-hostname: ${host}\npublic-keys:\n  - ${seed.publicKey.trim()}\n`,
  );
  d.write('var/lib/cloud/seed/nocloud/user-data', '#cloud-config\n{}\n');
}

export interface BootResult {
  /** Exit code of each stage, in order. */
  stages: Array<{ stage: (typeof STAGES)[number]; code: number }>;
  result: RunResult;
}

/** Runs cloud-init stages in order within the current boot; each stage's exit code is kept. */
export async function runStages(
  d: Droplet,
  stages: ReadonlyArray<(typeof STAGES)[number]> = STAGES,
): Promise<BootResult> {
  const script = stages.map((s) => `echo "@@stage ${s}"; cloud-init ${s} </dev/null; echo "@@code $?"`).join('\n');
  const result = await d.exec(script, { timeoutMs: 8 * 60_000, allowFail: true });
  const codes = [...result.stdout.matchAll(/^@@code (\d+)$/gm)].map((m) => Number(m[1]));
  if (codes.length !== stages.length) {
    throw new Error(`cloud-init did not run all stages (exit ${result.code})\n${result.stdout}\n${result.stderr}`);
  }
  return { stages: stages.map((stage, i) => ({ stage, code: codes[i] })), result };
}

/**
 * One boot: a fresh /run (otherwise cloud-init trusts its cache and ignores a new instance-id),
 * then the four cloud-init stages in order, as systemd would run them.
 */
export async function cloudInitBoot(d: Droplet): Promise<BootResult> {
  await d.boot();
  return runStages(d);
}

/** Seeds a new instance and boots it. */
export async function bootNewInstance(d: Droplet, seed: Seed): Promise<BootResult> {
  writeSeed(d, seed);
  return cloudInitBoot(d);
}
