/**
 * dist/<slug>-build.sh: the catalog build steps of mpimg.json (repositories, users and directories,
 * owners of files/, services, firewall, ...) as ONE POSIX-sh script, rendered at bundle time. Both
 * build paths run it, the standard tasks over SSH and the Packer template, so they cannot differ.
 * It is assembled from the steps' units (tasks/steps/index.ts says how): the frame of
 * templates/droplet/build.sh.ejs with each step's fragment, rendered with the step's data.
 *
 * Per-distribution values are resolved here for every distribution of the manifest (plus each
 * family's lists for a release the manifest does not name); the script picks the branch of the
 * machine it runs on from that machine's os-release (distroCase). Data reaches the script only as
 * single-quoted words or base64 here-documents (key files), as in the sh installer.
 */
import { familyOf, type Family } from '../../runtime/distro.js';
import { DISTRO_SLUG_RE, forDistro, type Manifest, type PerDistro } from '../../runtime/manifest.js';
import {
  ancestorsOf,
  PRIVILEGED_GROUPS,
  rootRunPaths,
  shellPattern,
  SYSTEM_DIRS,
  TOOL_DIRS,
} from '../../runtime/policy.js';
import type { Project } from './project.js';
import { readDroplet, renderDroplet, renderFragment, sq } from './render.js';
import { OVERRIDES_LINE, VARIABLES_LINE } from './variables.js';

import { buildScriptName } from './dist-names.js';
import { BUILD_SCRIPT_STEPS, STEPS, type BuildScriptContext } from '../steps/index.js';

export { buildScriptName } from './dist-names.js';

/** The commands of the script: the steps that have one (tasks/steps/), in build order, then its own. */
export const BUILD_SCRIPT_HELP: ReadonlyArray<{ name: string; help: string }> = [
  ...BUILD_SCRIPT_STEPS,
  { name: 'variables', help: 'print the variables of this bundle as shell assignments' },
];

/** The distributions the script knows by name: the manifest's, and the build base when it is a slug. */
export function scriptDistributions(m: Manifest): string[] {
  const out = [...m.distributions];
  const image = m.droplet?.image;
  if (image && DISTRO_SLUG_RE.test(image) && !out.includes(image)) out.push(image);
  return out;
}

/** A `case` over the machine's distribution: its slug's branch, else its family's. Equal branches share one. */
function distroCase(m: Manifest, body: (slug: string | undefined, family: Family) => string[]): string {
  const groups = new Map<string, string[]>();
  for (const slug of scriptDistributions(m)) {
    const text = body(slug, familyOf(slug)).join('\n') || ':';
    groups.set(text, [...(groups.get(text) ?? []), slug]);
  }
  const indent = (t: string, n: string) =>
    t
      .split('\n')
      .map((l) => `${n}${l}`)
      .join('\n');
  const branches = [...groups].map(([text, slugs]) => `  ${slugs.join('|')})\n${indent(text, '    ')}\n    ;;`);
  const family = (f: Family) => `      ${f})\n${indent(body(undefined, f).join('\n') || ':', '        ')}\n        ;;`;
  return `case $DSLUG in\n${branches.join('\n')}\n  *)\n    case $DFAMILY in\n${family('apt')}\n${family('dnf')}\n    esac\n    ;;\nesac`;
}

/** The list of a per-distribution value; for a family branch, "all" plus the family's list. */
const listFor = <T>(v: PerDistro<T> | undefined, slug: string | undefined, family: Family): T[] =>
  forDistro(v, slug ?? `unknown-${family}-x64`, family);

/**
 * What the firewall step will need on a distribution and mpimg.json does not install: the firewall
 * step never installs packages (it must be in build.packages or the base image). DigitalOcean's
 * Ubuntu images have ufw; its Debian and RHEL-family images may not have ufw or firewalld.
 */
export function catalogWarnings(m: Manifest): string[] {
  if (!m.firewall) return [];
  const out: string[] = [];
  for (const slug of scriptDistributions(m)) {
    const family = familyOf(slug);
    const tool = family === 'apt' ? 'ufw' : 'firewalld';
    if (slug.startsWith('ubuntu-')) continue;
    const packages = forDistro(m.build?.packages, slug, family).map((p) => p.split(/[=:]/)[0]);
    if (!packages.includes(tool))
      out.push(
        `${slug}: the firewall step needs ${tool}, which build.packages does not install for it: add "${tool}" (e.g. "packages": {"${family}": ["${tool}"]}) unless the base image has it`,
      );
  }
  return out;
}

/** Every step's fragment (tasks/steps/), in build order, rendered for this bundle. */
function stepFragments(project: Project): string {
  const ctx: BuildScriptContext = {
    project,
    manifest: project.manifest,
    distroCase: (body) => distroCase(project.manifest, body),
    listFor,
  };
  return STEPS.flatMap((s) => {
    if (!s.buildScript) return [];
    const text = renderFragment(`${s.name} (tasks/steps/)`, s.buildScript.shell(), s.buildScript.data?.(ctx) ?? {});
    return [text.replace(/\s+$/, '')];
  }).join('\n\n');
}

export function renderBuildScript(
  project: Project,
  opts: { generator: string; variables: Record<string, string>; overrides: Record<string, string> },
): string {
  const m = project.manifest;
  const json = (v: Record<string, string>) =>
    JSON.stringify(Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))));
  return renderDroplet('build.sh.ejs', {
    name: m.name,
    slug: m.slug,
    version: m.version,
    generator: opts.generator,
    file: buildScriptName(m.slug),
    commands: BUILD_SCRIPT_HELP,
    variablesLine: `${VARIABLES_LINE}${json(opts.variables)}`,
    overridesLine: `${OVERRIDES_LINE}${json(opts.overrides)}`,
    variableLines: Object.entries(opts.variables)
      .map(([k, v]) => `${k}=${sq(v)}`)
      .join('\n'),
    distributions: scriptDistributions(m).join(' '),
    distroSlug: readDroplet('distro-slug.sh').trimEnd(),
    policy: {
      systemDirs: shellPattern(SYSTEM_DIRS, false),
      toolDirs: shellPattern(TOOL_DIRS, true),
      privilegedGroups: shellPattern(PRIVILEGED_GROUPS, false),
      rootRun: `${shellPattern(rootRunPaths(m.vendor, m.slug), true)}|${shellPattern(ancestorsOf(rootRunPaths(m.vendor, m.slug)), false)}`,
    },
    steps: stepFragments(project),
  });
}
