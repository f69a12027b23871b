/**
 * A build step as one unit: its name and summary, the parts of mpimg.json it serves, its command of
 * dist/<slug>-build.sh (when it has one), the task that runs it over SSH, and the provisioners the
 * Packer template runs it with. The ordered list of units (./index.ts) generates the rest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Family } from '../../runtime/distro.js';
import type { Manifest, PerDistro } from '../../runtime/manifest.js';
import type { Repository } from '../../runtime/sections/build.js';
import type { Project } from '../bundle/project.js';
import { templatesDir } from '../../core/paths.js';
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
  /** Names of $.build.secrets: Packer variables build_secret_<NAME>, sensitive, from the environment. */
  buildSecrets: string[];
  /** build.repositories for the build base. */
  repositories: Repository[];
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
  | {
      type: 'shell';
      env?: string[];
      /**
       * use_env_var_file: the environment goes in a file Packer sources, not on the command line
       * (deleted once sourced: see the template's envFileCommand).
       */
      envFile?: boolean;
      inline: string[];
    }
  | { type: 'file'; source: string; destination: string; direction?: 'download' }
  /** A command run on the vendor's machine (Packer's shell-local). */
  | { type: 'shell-local'; env?: string[]; inline: string[] };

/** What a unit's build.sh fragment may use of the bundle being rendered (tasks/bundle/build-script.ts). */
export interface BuildScriptContext {
  project: Project;
  manifest: Manifest;
  /**
   * A `case` over the machine's distribution, its branches from `body` (the lines of one
   * distribution, or of a family for a release mpimg.json does not name); equal branches share one.
   */
  distroCase(body: (slug: string | undefined, family: Family) => string[]): string;
  /** The list of a per-distribution value on a branch of distroCase. */
  listFor<T>(v: PerDistro<T> | undefined, slug: string | undefined, family: Family): T[];
}

/** A unit's command of dist/<slug>-build.sh. */
export interface BuildScriptPart {
  /** The line build.sh's header shows for it. */
  help: string;
  /**
   * Its fragment of build.sh: EJS (`<%- %>` only, with `sq` for shell words) defining the function
   * named as the step, which the script's dispatch calls. See ./index.ts for where it lives.
   */
  shell: () => string;
  /** What the fragment is rendered with, besides `sq` (none: it needs nothing of mpimg.json). */
  data?: (ctx: BuildScriptContext) => Record<string, unknown>;
}

/** A fragment kept as its own file, templates/droplet/build/<name>.sh.ejs (read when rendered). */
export const fragmentFile =
  (name: string): (() => string) =>
  () =>
    fs.readFileSync(path.join(templatesDir(), 'droplet', 'build', `${name}.sh.ejs`), 'utf8');

export interface BuildStepDef {
  /** The task's name; also the build script's command, when the step has one. */
  name: string;
  /** What it does, in one line: the task's description, `mpimg tasks` and the README's table. */
  summary: string;
  /** The parts of mpimg.json it carries out, as $-paths of the schema (none: it needs no settings). */
  sections: readonly string[];
  /** Its command of dist/<slug>-build.sh and the fragment defining it. */
  buildScript?: BuildScriptPart;
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
