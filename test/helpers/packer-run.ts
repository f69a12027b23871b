/**
 * Runs provisioners of a generated Packer template for real: a run.pkr.hcl with the null builder
 * over the test sshd, the template's `local.project` and `local.work` (and any other locals) pointed
 * at folders of the test, and the work folder made first as the template's own first step makes it.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sshd } from './sshd.js';
import { tempDir } from './temp.js';

/**
 * The real `packer` in `cwd`: checkpoint calls off, HOME a throwaway folder of the test (its plugins,
 * its config), and of this process's environment only PATH, plus `env`.
 */
export function runPacker(
  cwd: string,
  args: string[],
  opts: { home: string; env?: NodeJS.ProcessEnv; timeout?: number; input?: string },
) {
  return spawnSync('packer', args, {
    cwd,
    encoding: 'utf8',
    timeout: opts.timeout ?? 180_000,
    input: opts.input,
    env: { PATH: process.env.PATH, HOME: opts.home, CHECKPOINT_DISABLE: '1', ...opts.env },
  });
}

/** A string as an HCL string literal, with `${` kept as text (Packer would evaluate it). */
export const hclString = (s: string): string => JSON.stringify(s).replace(/\$\{/g, '$${');

export interface NullBuild {
  /** Locals as HCL expressions; `work` (a folder of the test) is required by every step. */
  locals: Record<string, string> & { work: string };
  /** The provisioners (and post-processors) to run, as template text. */
  body: string;
  /** Blocks before `locals` (e.g. the template's `variable "build_secret_*"` blocks). */
  head?: string;
  /** More HCL strings for the first provisioner, after the work folder is made. */
  prepare?: string[];
}

/** Writes the run file into a new temp folder and returns that folder (run `packer build run.pkr.hcl` there). */
export function nullBuildDir(sshd: Sshd, b: NullBuild): string {
  const dir = tempDir('mpimg-packer-run-');
  const locals = Object.entries(b.locals)
    .map(([k, v]) => `  ${k} = ${v}`)
    .join('\n');
  const first = ['"rm -rf ${local.work}"', '"mkdir -m 0700 ${local.work}"', ...(b.prepare ?? [])].join(', ');
  writeFileSync(
    join(dir, 'run.pkr.hcl'),
    `${b.head ?? ''}
locals {
${locals}
}

source "null" "sshd" {
  communicator         = "ssh"
  ssh_host             = "${sshd.host}"
  ssh_port             = ${sshd.port}
  ssh_username         = "${sshd.user}"
  ssh_private_key_file = ${hclString(sshd.identityFile)}
}

build {
  sources = ["source.null.sshd"]

  provisioner "shell" {
    inline = [${first}]
  }
${b.body}
}
`,
  );
  return dir;
}
