/**
 * THE build order: one unit per step (./<name>.ts), in the order a build runs them. From this list
 * come the standard tasks' `build` and `testbuild` pipelines and `mpimg tasks`' listing, the commands
 * and header of dist/<slug>-build.sh, the Packer template's provisioners and the README's step table.
 *
 * A unit holds everything of its step but its manifest section (runtime/sections/<key>.ts, since
 * runtime/ never imports tasks/): summary, task, Packer provisioners and, when the step is a command
 * of dist/<slug>-build.sh, that command's fragment of the script (`buildScript`):
 * - `shell`: the fragment, EJS defining the sh function named as the step. A long one is a file of
 *   its own, templates/droplet/build/<name>.sh.ejs (`fragmentFile(name)`); a short one may be its
 *   text in the unit, written without `${` and backslashes so that it reads as the shell it is.
 * - `data`: what of mpimg.json the fragment is rendered with (single-quoted words: `sq`).
 * The script is assembled in tasks/bundle/build-script.ts: templates/droplet/build.sh.ejs holds its
 * header, the helpers every fragment shares (say/die, at/walk/real, the policy's is_* functions,
 * put, quiet, in_root, ...) and the dispatch; the fragments go between, in this order.
 *
 * A new capability: its section (schema and docs), its unit, and its line here.
 */
import type { BuildStep } from './types.js';
import waitBoot from './wait-boot.js';
import upgrade from './upgrade.js';
import repositories from './repositories.js';
import debconf from './debconf.js';
import packages from './packages.js';
import remove from './remove.js';
import users from './users.js';
import files from './files.js';
import owners from './owners.js';
import scripts from './scripts.js';
import install from './install.js';
import containers from './containers.js';
import services from './services.js';
import firewall from './firewall.js';
import fail2ban from './fail2ban.js';
import autoupdates from './autoupdates.js';
import caddy from './caddy.js';
import configtest from './configtest.js';
import cleanup from './cleanup.js';
import check from './check.js';
import freshen from './freshen.js';
import record from './record.js';

export type { BuildScriptContext, BuildStep, PackerContext, PackerProvisioner } from './types.js';

export const STEPS: readonly BuildStep[] = Object.freeze([
  waitBoot,
  upgrade,
  repositories,
  debconf,
  packages,
  remove,
  users,
  files,
  owners,
  scripts,
  install,
  containers,
  services,
  firewall,
  fail2ban,
  autoupdates,
  caddy,
  configtest,
  freshen,
  cleanup,
  check,
  record,
]);

/** The task names `build` runs, in order. */
export const buildOrder = (): string[] => STEPS.map((s) => s.name);

/** The task names `testbuild` runs, in order: the build without cleanup, with a check that only reports. */
export const testbuildOrder = (): string[] =>
  STEPS.flatMap((s) => (s.testbuild === null ? [] : [s.testbuild ?? s.name]));

/** The commands of dist/<slug>-build.sh that are steps, in build order, with their header lines. */
export const BUILD_SCRIPT_STEPS: ReadonlyArray<{ name: string; help: string }> = STEPS.flatMap((s) =>
  s.buildScript ? [{ name: s.name, help: s.buildScript.help }] : [],
);
export const BUILD_SCRIPT_COMMANDS: readonly string[] = BUILD_SCRIPT_STEPS.map((s) => s.name);
