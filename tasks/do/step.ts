/**
 * What a step on a fresh droplet (the build of `mpimg image`, the checks of `mpimg verify`) gets, and
 * its shape. Its own module: the pipelines and the droplet runner both use it, and neither imports the other.
 */
import type { Writable } from 'node:stream';
import type { Droplet } from './types.js';

/** A fresh droplet's address, where the step runs from, its output, and a way to stop (Ctrl-C). */
export interface DropletSession {
  ip: string;
  droplet: Droplet;
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
  signal?: AbortSignal;
}

/** What the build step gets: the fresh droplet's address and a way to stop (Ctrl-C). */
export interface BuildStepContext extends DropletSession {
  /**
   * A known_hosts file of this run alone (empty at the start, in a private temp dir removed afterwards):
   * the droplet is new and its IP may have belonged to another droplet, so ~/.ssh/known_hosts must not
   * be used (a changed key would fail the build, and the entry would be litter).
   */
  knownHostsFile?: string;
}

/** Runs the project's `build` task against the droplet; throws when the build failed. */
export type BuildStep = (ctx: BuildStepContext) => Promise<void>;
