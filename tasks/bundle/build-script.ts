/**
 * dist/<slug>-build.sh: the catalog build steps of mpimg.json (repositories, users and directories,
 * owners of files/, services, firewall) as ONE POSIX-sh script, rendered at bundle time. Both build
 * paths run it, the standard tasks over SSH and the Packer template, so they cannot differ.
 *
 * Per-distribution values are resolved here for every distribution of the manifest (plus each
 * family's lists for a release the manifest does not name); the script picks the branch of the
 * machine it runs on from that machine's os-release. Data reaches the script only as single-quoted
 * words or base64 here-documents (key files), as in the sh installer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { familyOf, type Family } from '../../runtime/distro.js';
import { DISTRO_SLUG_RE, forDistro, type Manifest, type PerDistro } from '../../runtime/manifest.js';
import {
  ancestorsOf,
  PRIVILEGED_GROUPS,
  ROOT_ACCOUNTS,
  rootRunOf,
  rootRunPaths,
  shellPattern,
  SYSTEM_DIRS,
  TOOL_DIRS,
} from '../../runtime/policy.js';
import type { Repository } from '../../runtime/sections/build.js';
import { firewallRules } from '../../runtime/sections/firewall.js';
import { serviceOf, type Service } from '../../runtime/sections/services.js';
import { MpimgError } from '../../core/errors.js';
import {
  LIMIT_BURST,
  LIMIT_FILE,
  LIMIT_MARK,
  LIMIT_RATE,
  LIMIT_UNIT,
  limitRuleset,
  limitUnit,
} from './firewall-limit.js';
import { globToRegExp } from './glob.js';
import type { Project } from './project.js';
import { renderDroplet, sq } from './render.js';
import { OVERRIDES_LINE, VARIABLES_LINE } from './variables.js';

import { buildScriptName } from './dist-names.js';
import { BUILD_SCRIPT_STEPS } from '../steps/index.js';

export { buildScriptName } from './dist-names.js';

/** The commands of the script: the steps that have one (tasks/steps/), in build order, then its own. */
export const BUILD_SCRIPT_HELP: ReadonlyArray<{ name: string; help: string }> = [
  ...BUILD_SCRIPT_STEPS,
  { name: 'variables', help: 'print the variables of this bundle as shell assignments' },
];

const b64Lines = (b64: string): string => (b64.match(/.{1,76}/g) ?? []).join('\n');

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

/** Where a repository entry is in mpimg.json, for bundle-time errors. */
function repositoryWhere(v: PerDistro<Repository> | undefined, r: Repository): string {
  if (Array.isArray(v)) return `$.build.repositories[${v.indexOf(r)}]`;
  for (const [k, list] of Object.entries(v ?? {})) {
    const i = list?.indexOf(r) ?? -1;
    if (i >= 0) return `$.build.repositories.${k}[${i}]`;
  }
  return '$.build.repositories';
}

/** Key files shipped in the project, read once each (base64 here-documents of the script). */
function keyFiles(project: Project): { functions: string; index: Map<string, number> } {
  const m = project.manifest;
  const index = new Map<string, number>();
  const out: string[] = [];
  const all = Array.isArray(m.build?.repositories)
    ? m.build.repositories
    : Object.values(m.build?.repositories ?? {}).flat();
  for (const r of all) {
    const rel = r?.key?.file;
    if (!rel || index.has(rel)) continue;
    const abs = path.join(project.dir, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      throw new MpimgError(`the signing key ${rel} of repository "${r.name}" is missing`, {
        where: `${repositoryWhere(m.build?.repositories, r)}.key.file`,
        hint: `put the vendor's key at ${rel} (e.g. curl -fsSL <key URL> -o ${rel}) or give "url" and "fingerprint" instead`,
      });
    }
    if (!st.isFile())
      throw new MpimgError(`the signing key ${rel} of repository "${r.name}" is not a regular file`, {
        where: `${repositoryWhere(m.build?.repositories, r)}.key.file`,
        hint: 'point key.file at the key file itself (not a folder or a link)',
      });
    const n = index.size + 1;
    index.set(rel, n);
    out.push(
      `# ${rel}\nmpimg_keyfile_${n}() {\n  cat <<'MPIMG_B64'\n${b64Lines(fs.readFileSync(abs).toString('base64'))}\nMPIMG_B64\n}`,
    );
  }
  return { functions: out.join('\n\n'), index };
}

function repositoryLines(
  project: Project,
  keys: Map<string, number>,
  slug: string | undefined,
  family: Family,
): string[] {
  const m = project.manifest;
  const list = listFor(m.build?.repositories, slug, family);
  const seen = new Set<string>();
  return list.map((r) => {
    if (seen.has(r.name)) {
      throw new MpimgError(`two repositories named "${r.name}" for ${slug ?? `the ${family} family`}`, {
        where: repositoryWhere(m.build?.repositories, r),
        hint: 'give each repository its own name: it is the name of its file on the droplet',
      });
    }
    seen.add(r.name);
    const kind = r.ppa !== undefined ? 'ppa' : r.uris !== undefined ? 'apt' : 'dnf';
    const source = r.ppa ?? r.uris ?? r.baseurl ?? '';
    const keySource = r.key?.file ? 'file' : r.key?.url ? 'url' : 'none';
    const keyArg = r.key?.file ? `mpimg_keyfile_${keys.get(r.key.file)}` : (r.key?.url ?? '');
    const keyShown = r.key?.file ?? r.key?.url ?? '';
    return `mpimg_repo ${[r.name, kind, source, (r.suites ?? []).join(' '), (r.components ?? []).join(' '), keySource, keyArg, keyShown, (r.key?.fingerprint ?? '').toUpperCase()].map(sq).join(' ')}`;
  });
}

function serviceLines(m: Manifest, slug: string | undefined, family: Family): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of listFor<string | Service>(m.services, slug, family)) {
    const { name } = serviceOf(s);
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(`mpimg_service ${sq(name)}`);
  }
  return out;
}

/**
 * $.files.owners resolved against what files/ lays down (files and links; folders come from
 * $.directories): the concrete droplet paths, in manifest order. A glob matching nothing is an error.
 */
export function ownedPaths(project: Project): Array<{ path: string; owner?: string; group?: string }> {
  const paths = [...project.files.map((f) => f.target), ...project.links.map((l) => l.path)].sort();
  const modes = new Map(project.files.map((f) => [f.target, f.mode]));
  const rootRun = rootRunPaths(project.manifest.vendor, project.manifest.slug);
  const out: Array<{ path: string; owner?: string; group?: string }> = [];
  (project.manifest.files?.owners ?? []).forEach((o, i) => {
    if (!o.owner && !o.group)
      throw new MpimgError(`$.files.owners[${i}] names neither an owner nor a group`, {
        where: `$.files.owners[${i}]`,
        hint: 'give "owner", "group" or both',
      });
    const re = globToRegExp(o.path);
    const hits = paths.filter((p) => re.test(p));
    if (hits.length === 0) {
      throw new MpimgError(
        `$.files.owners[${i}].path "${o.path}" matches nothing in ${project.manifest.files?.dir ?? 'files'}/`,
        {
          where: `$.files.owners[${i}].path`,
          hint: `use a droplet path of a file under ${project.manifest.files?.dir ?? 'files'}/ (* is one level, ** any depth, e.g. "/etc/app/**"); folders are owned through "directories"`,
        },
      );
    }
    for (const p of hits) {
      // The policy on what the glob really matched: root's files stay root's (runtime/policy.ts).
      const r = rootRunOf(p, rootRun);
      if (r && o.owner && !ROOT_ACCOUNTS.includes(o.owner)) {
        throw new MpimgError(
          `$.files.owners[${i}] makes "${o.owner}" the owner of ${p}, in ${r}, where root runs code from`,
          {
            where: `$.files.owners[${i}].path`,
            hint: "narrow the glob to the app's own files, or leave those to root",
          },
        );
      }
      if (r && o.group && !ROOT_ACCOUNTS.includes(o.group) && (modes.get(p) ?? 0) & 0o020) {
        throw new MpimgError(
          `$.files.owners[${i}] gives group "${o.group}" write access to ${p}, in ${r}, where root runs code from`,
          {
            where: `$.files.owners[${i}].group`,
            hint: `take the group write bit off files${p}, or leave its group to root`,
          },
        );
      }
      out.push({ path: p, owner: o.owner, group: o.group });
    }
  });
  return out;
}

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

export function renderBuildScript(
  project: Project,
  opts: { generator: string; variables: Record<string, string>; overrides: Record<string, string> },
): string {
  const m = project.manifest;
  const keys = keyFiles(project);
  const users = (m.users ?? []).map(
    (u) =>
      `mpimg_user ${[u.name, u.system === false ? '0' : '1', u.home ?? '', u.shell ?? '', (u.groups ?? []).join(','), u.comment ?? ''].map(sq).join(' ')}`,
  );
  const directories = (m.directories ?? []).map(
    (d) => `mpimg_directory ${[d.path, d.owner ?? '', d.group ?? '', d.mode ?? ''].map(sq).join(' ')}`,
  );
  const owners = ownedPaths(project).map(
    (o) => `mpimg_owner ${[o.path, o.owner ?? '', o.group ?? ''].map(sq).join(' ')}`,
  );
  const rules = m.firewall
    ? firewallRules(m.firewall).map((r) => `mpimg_rule ${r.action} ${sq(r.ports)} ${r.proto}`)
    : [];
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
    keyFunctions: keys.functions,
    repositoriesCase: distroCase(m, (slug, family) => repositoryLines(project, keys.index, slug, family)),
    servicesCase: distroCase(m, (slug, family) => serviceLines(m, slug, family)),
    usersBody: users.join('\n') || ':',
    directoriesBody: directories.join('\n') || ':',
    ownersBody: owners.join('\n') || ':',
    rulesBody: rules.join('\n') || ':',
    hasFirewall: Boolean(m.firewall),
    policy: {
      systemDirs: shellPattern(SYSTEM_DIRS, false),
      toolDirs: shellPattern(TOOL_DIRS, true),
      privilegedGroups: shellPattern(PRIVILEGED_GROUPS, false),
      rootRun: `${shellPattern(rootRunPaths(m.vendor, m.slug), true)}|${shellPattern(ancestorsOf(rootRunPaths(m.vendor, m.slug)), false)}`,
    },
    limitRuleset: limitRuleset(m.firewall),
    limitUnit: limitUnit(),
    limitFile: LIMIT_FILE,
    limitUnitName: LIMIT_UNIT,
    limitMark: LIMIT_MARK,
    limitRate: `a source's new connections beyond ${LIMIT_BURST}, then ${LIMIT_RATE}, are dropped`,
    limitRules: m.firewall
      ? firewallRules(m.firewall)
          .filter((r) => r.action === 'limit')
          .map((r) => `${r.ports}${r.proto === 'any' ? '' : `/${r.proto}`}`)
          .join(', ')
      : '',
  });
}
