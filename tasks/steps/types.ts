/**
 * A build step as one unit: its name and summary, the parts of mpimg.json it serves, its command of
 * dist/<slug>-build.sh (when it has one), the task that runs it over SSH, and the provisioners the
 * Packer template runs it with. The ordered list of units (./index.ts) generates the rest.
 */
import type { Task, TaskFn } from '../ssh/task.js';

/** What a unit's Packer part may use of the bundle being rendered (tasks/bundle/packer.ts). */
export interface PackerContext {
  slug: string;
  /** The build base's package manager family. */
  family: 'apt' | 'dnf';
  /** build.packages for the build base. */
  packages: string[];
  /** The build scripts `mpimg bundle` listed (tasks/bundle/scripts-dir.ts): path in the project, file name. */
  buildScripts: Array<{ rel: string; name: string }>;
  /** The environment of the build scripts (NAME=value). */
  env: string[];
  cleanupArgs: string[];
  /** An HCL string literal of text (everything from mpimg.json goes through it). */
  hcl(text: string): string;
  /** The inside of an HCL string literal of text. */
  hclInner(text: string): string;
  /** A POSIX single-quoted shell word. */
  sq(text: string): string;
}

/**
 * A provisioner of the Packer template. Every string is HCL text as it stands in the template:
 * string literals with their quotes (`"sh ${local.work}/x-build.sh users"`, or `hcl(text)`).
 */
export type PackerProvisioner =
  { type: 'shell'; env?: string[]; inline: string[] } | { type: 'file'; source: string; destination: string };

export interface BuildStepDef {
  /** The task's name; also the build script's command, when the step has one. */
  name: string;
  /** What it does, in one line: the task's description, `mpimg tasks` and the README's table. */
  summary: string;
  /** The parts of mpimg.json it carries out, as $-paths of the schema (none: it needs no settings). */
  sections: readonly string[];
  /** Its command of dist/<slug>-build.sh: the line build.sh's header shows for it. */
  buildScript?: { help: string };
  /** How it runs as a task over SSH (a step with nothing to do in mpimg.json says so and returns). */
  run: TaskFn;
  /**
   * How the Packer template runs it: its provisioners (none: nothing to do for this bundle). `boot`
   * steps run before the template prepares the droplet (droplet agent out, the bundle's files up).
   */
  packer: (p: PackerContext) => PackerProvisioner[];
  packerPhase?: 'boot';
  /** What `testbuild` runs in its place: another task's name, or null for nothing (default: itself). */
  testbuild?: string | null;
}

export interface BuildStep extends BuildStepDef {
  /** The standard task of the step (a vendor's task of the same name replaces it in the pipelines). */
  readonly task: Task;
}

/** `"sh ${local.work}/<slug>-<file> <args>"`: a command of the bundle's uploaded sh files, as HCL. */
export const bundleCommand = (p: PackerContext, file: 'install.sh' | 'build.sh', args: string): string =>
  `"sh \${local.work}/${p.slug}-${file} ${args}"`;
