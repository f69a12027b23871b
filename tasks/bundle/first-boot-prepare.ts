/**
 * $.secrets, $.files.templates (runtime/sections/secrets.ts) and $.regenerate (sections/regenerate.ts)
 * at bundle time: the templates' placeholders checked against what fills them in, and the plan's
 * part: the prepare step that makes the secrets, makes anew what packages made at build time and
 * fills in the templates at first boot, before every other step.
 */
import * as fs from 'node:fs';
import { fileOp } from './file-op.js';
import type { Op } from '../../runtime/plan.js';
import type { Manifest, Problem } from '../../runtime/manifest.js';
import {
  alphabetChars,
  DEFAULT_SECRET_LENGTH,
  reservedPlaceholder,
  TEMPLATE_PLACEHOLDER_RE,
  trSet,
} from '../../runtime/sections/secrets.js';
import { closest } from '../../runtime/schema.js';
import { PACKAGE_SECRETS, type RegenerateEntry } from '../../runtime/sections/regenerate.js';
import { firstBootReady } from '../../runtime/sections/services.js';
import { templatesDir } from '../../runtime/first-boot-records.js';
import { renderDroplet } from './render.js';
import { globToRegExp } from './glob.js';
import { heldBackTemplates } from './held-back.js';

/** What of a project (./project.ts) this module reads: typed here, as project.ts calls templateProblems. */
interface ProjectFile {
  target: string;
  abs: string;
  rel: string;
  mode: number;
}
interface PreparedProject {
  manifest: Manifest;
  files: readonly ProjectFile[];
  variables: Record<string, string>;
}

export const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';

/**
 * The mode $.files.owners gives `target` (a later entry overrides an earlier one), as a number, or
 * undefined when no entry gives one: git keeps no mode but 0644 and 0755, so this is how a file that
 * holds a secret gets 0640 on the droplet.
 */
export function declaredMode(m: Manifest, target: string): number | undefined {
  let mode: number | undefined;
  for (const o of m.files?.owners ?? [])
    if (typeof o.mode === 'string' && /^0?[0-7]{3,4}$/.test(o.mode) && globToRegExp(o.path).test(target))
      mode = parseInt(o.mode, 8);
  return mode;
}

/** Owner and group $.files.owners gives `target` (in order: a later entry overrides what it names). */
function declaredOwner(m: Manifest, target: string): { owner: string; group: string } {
  let owner = '';
  let group = '';
  for (const o of m.files?.owners ?? []) {
    if (!globToRegExp(o.path).test(target)) continue;
    if (o.owner) owner = o.owner;
    if (o.group) group = o.group;
  }
  return { owner, group };
}

/** The record the prepare step leaves when it made every secret and filled in every template. */
export const preparedRecord = (state: string): string => `${state}/prepared`;

/** The placeholders a template of this manifest may hold. */
function knownPlaceholders(m: Manifest, variables: Record<string, string>): string[] {
  return ['ip', 'hostname', ...Object.keys(variables), ...(m.secrets ?? []).map((s) => `secret.${s.name}`)];
}

/**
 * Each $.files.templates entry is a regular file of files/, UTF-8 text, whose placeholders of
 * mpimg's form are all known (file and line named), and which is not readable by everyone when it
 * is to hold a secret.
 */
export function templateProblems(
  m: Manifest,
  files: readonly ProjectFile[],
  variables: Record<string, string>,
  out: Problem[],
): void {
  const known = knownPlaceholders(m, variables);
  (m.files?.templates ?? []).forEach((target, i) => {
    const f = files.find((x) => x.target === target);
    if (!f) {
      out.push({
        path: `$.files.templates[${i}]`,
        message: `${target} is not a regular file of ${m.files?.dir ?? 'files'}/`,
        hint: `put the template at ${m.files?.dir ?? 'files'}${target}, or remove it from the list`,
      });
      return;
    }
    const owner = ownedFolder(m, target);
    if (owner)
      out.push({
        path: `$.files.templates[${i}]`,
        message: `${target} is inside ${owner[0]}, which belongs to "${owner[1]}": root fills it in at first boot, and that user could put a link in its place`,
        hint: "keep templates in a folder of root's (e.g. /etc/<app>/) and give the file to the service with $.files.owners",
      });
    const buf = fs.readFileSync(f.abs);
    const text = buf.toString('utf8');
    if (buf.includes(0) || !Buffer.from(text, 'utf8').equals(buf)) {
      out.push({
        path: f.rel,
        message: 'a template must be UTF-8 text',
        hint: 'templates are config files, not binaries',
      });
      return;
    }
    text.split('\n').forEach((line, n) => {
      for (const [, key] of line.matchAll(TEMPLATE_PLACEHOLDER_RE)) {
        if (!reservedPlaceholder(key) || known.includes(key)) {
          if (key.startsWith('secret.') && known.includes(key) && f.mode & 0o004 && !closedFolder(m, target))
            out.push({
              path: `${f.rel}:${n + 1}`,
              message: `{{${key}}} would be readable by every user: the file is mode ${(f.mode & 0o777).toString(8).padStart(4, '0')}`,
              hint: `give it a mode without other read in $.files.owners, e.g. {"path": "${target}", "group": "<the service's group>", "mode": "0640"} (git keeps no mode but 0644 and 0755), or keep it in a folder of $.directories that others may not enter (e.g. mode "0750")`,
            });
          continue;
        }
        const near = closest(key, known);
        out.push({
          path: `${f.rel}:${n + 1}`,
          message: `unknown placeholder {{${key}}}`,
          hint: `${near ? `did you mean {{${near}}}? ` : ''}use one of ${known.map((k) => `{{${k}}}`).join(', ')} (declare secrets in $.secrets, variables in $.variables)`,
        });
      }
    });
  });
}

/**
 * The folder of $.directories that holds `p` and lets others not in (no o+x): a file there is not
 * readable by everyone, whatever its own mode (git checks files out 0644).
 */
function closedFolder(m: Manifest, p: string): string | undefined {
  return (m.directories ?? []).find((d) => d.mode && !(parseInt(d.mode, 8) & 0o001) && p.startsWith(`${d.path}/`))
    ?.path;
}

/** The folder of $.directories or home of $.users, owned by another user than root, that holds `p`. */
function ownedFolder(m: Manifest, p: string): [string, string] | undefined {
  const owned: Array<[string, string]> = [
    ...(m.directories ?? [])
      .filter((d) => d.owner && d.owner !== 'root')
      .map((d) => [d.path, d.owner!] as [string, string]),
    ...(m.users ?? []).filter((u) => u.home).map((u) => [u.home!, u.name] as [string, string]),
  ];
  return owned.find(([d]) => p.startsWith(`${d}/`));
}

/** What prepare.sh.ejs makes of a $.regenerate entry: a known one's fixed command, or the vendor's. */
function regenerateEntry(e: RegenerateEntry) {
  if (typeof e === 'string') {
    const k = PACKAGE_SECRETS[e];
    return { id: e, tool: k.tool, command: k.command, files: k.files };
  }
  const files = [{ path: e.path, owner: e.owner ?? '', group: e.group ?? '', mode: e.mode ?? '' }];
  return { id: e.path, tool: '', command: e.command, files };
}

/**
 * The prepare step (0-<slug>-prepare sorts before every NN- step) and each template's copy in the
 * root-only templates folder of the home (the file in place is filled in; the copy is what a second
 * run starts from; a template that holds a secret is only there: see heldBackTemplates).
 * A later first boot (a droplet made from a snapshot, cloud-init run again) finds the earlier one's
 * first-boot-ready record: the step takes it away while it runs and gives it back only when it did it
 * all, so a failed run holds the units marked afterFirstBoot (stopped by the services step, not started
 * at a reboot) rather than letting them run on configs it did not finish; the customer sees the failed
 * step at login. A temporary file of a template (it holds secrets) never outlives the run.
 */
export function prepareOps(
  project: PreparedProject,
  common: { name: string; slug: string; home: string; state: string; timeout: number },
): Op[] {
  const m = project.manifest;
  const secrets = (m.secrets ?? []).map((s) => ({
    name: s.name,
    length: s.length ?? DEFAULT_SECRET_LENGTH,
    set: trSet(alphabetChars(s)),
  }));
  const held = heldBackTemplates(project);
  const templates = (m.files?.templates ?? []).flatMap((target) => {
    const f = project.files.find((x) => x.target === target);
    if (!f) return [];
    const place = held.has(target) ? { ...declaredOwner(m, target), mode: (f.mode & 0o777).toString(8) } : undefined;
    return [{ target, copy: `${templatesDir(common.home)}${target}`, bytes: fs.readFileSync(f.abs), place }];
  });
  const regenerate = (m.regenerate ?? []).map(regenerateEntry);
  if (!secrets.length && !templates.length && !regenerate.length) return [];
  const usesIp = templates.some((t) => t.bytes.toString('utf8').includes('{{ip}}'));
  const script = `${common.home}/prepare`;
  return [
    fileOp(
      script,
      0o755,
      renderDroplet('prepare.sh.ejs', {
        ...common,
        secrets,
        regenerate,
        templates: templates.map((t) => ({ ...t, nl: t.bytes.at(-1) === 0x0a })),
        variables: Object.keys(project.variables),
        known: knownPlaceholders(m, project.variables),
        usesIp,
        prepared: preparedRecord(common.state),
        ready: firstBootReady(common.state),
      }),
    ),
    fileOp(
      `${PER_INSTANCE}/0-${common.slug}-prepare`,
      0o755,
      renderDroplet('first-boot-wrapper.sh.ejs', { ...common, id: 'prepare', script, timeout: common.timeout }),
    ),
    ...(templates.length ? [{ kind: 'dir' as const, path: templatesDir(common.home), mode: 0o700 }] : []),
    ...templates.map((t) => fileOp(t.copy, 0o600, t.bytes)),
  ];
}
