/**
 * The new project's mpimg.json: the scaffold's answers, with what the import mapped filled in and the
 * scaffold's defaults that the template decides taken out, in the schema's key order, validated.
 */
import { validateManifest, DEFAULTS, type Manifest } from '../../runtime/manifest.js';
import { MANIFEST_SCHEMA } from '../../runtime/manifest-schema.js';
import type { Answers } from '../../core/options.js';
import { manifestFromAnswers, MANIFEST_SCHEMA_REF } from '../../core/project.js';
import { MpimgError } from '../../core/errors.js';
import { snapshotName, type BuilderMapping } from './builder.js';
import type { ImportState, PersonNote } from './state.js';
import type { Template } from './template.js';
import { fieldText, type Variables } from './values.js';
import { foundSecrets } from './recognizers/secrets.js';

export interface ManifestInput {
  answers: Answers;
  version: string;
  mapping: BuilderMapping;
  motd?: { target: string; text: string };
  /** Whether the project has anything in files/. */
  hasFiles: boolean;
  state: ImportState;
  vars: Variables;
  tmpl: Template;
  /** Template variables the scripts get from mpimg.json (application_name → MPIMG_NAME). */
  special: Map<string, string>;
  /** The template file, for the error of a manifest that does not validate. */
  tfile: string;
}

/** The manifest; or the items the rules refuse only in a whole manifest (the import runs again without). */
export function newManifest(o: ManifestInput): { manifest: Manifest } | { refused: Set<string> } {
  const { state } = o;
  const m = filledIn(o);
  const order = Object.keys(MANIFEST_SCHEMA.properties ?? {});
  const ordered = Object.fromEntries(
    Object.entries(m).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)),
  ) as Manifest & Record<string, unknown>;
  const { problems } = validateManifest(ordered);
  // An item the rules refuse only in the whole manifest: not taken; its line stays as script.
  const refusedNow = new Set<string>();
  for (const p of problems) {
    const at = /^\$\.(users|directories|services|build\.packages)\[(\d+)\]/.exec(p.path);
    if (!at) continue;
    const i = Number(at[2]);
    if (at[1] === 'users') refusedNow.add(`user:${state.users[i]?.name}`);
    if (at[1] === 'directories') refusedNow.add(`dir:${state.directories[i]?.path}`);
    if (at[1] === 'services') refusedNow.add(`service:${state.services[i]}`);
    if (at[1] === 'build.packages') refusedNow.add(`package:${state.packages[i]}`);
  }
  if (refusedNow.size && [...refusedNow].some((x) => !state.refused.has(x))) {
    for (const p of problems)
      state.info.push({ where: p.path, what: `not taken into mpimg.json: ${p.message} (its line stays as script)` });
    return { refused: refusedNow };
  }
  if (problems.length) {
    throw new MpimgError(
      `the import made an mpimg.json that does not validate (a bug of mpimg import; please report it with the template):\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
      { where: o.tfile },
    );
  }
  return { manifest: ordered };
}

function filledIn(o: ManifestInput): Manifest & Record<string, unknown> {
  const { state, vars, mapping } = o;
  const info: PersonNote[] = state.info;
  const m = manifestFromAnswers(o.answers) as Manifest & Record<string, unknown>;
  m.$schema = MANIFEST_SCHEMA_REF;
  // The scaffold's empty sections and its default firewall: what the template did decides them here
  // (a firewall it did not have, or not as $.firewall, would change the image or delete its rules).
  for (const k of ['variables', 'users', 'directories', 'services', 'firewall'] as const) delete m[k];
  m.version = o.version;
  m.distributions = [mapping.distro];
  m.firstLogin = null;
  m.motd = o.motd ? { file: 'motd.txt' } : null;
  if (!o.hasFiles) delete m.files;
  m.loginHold = state.loginHold ?? false;
  if (vars.used.size) m.variables = Object.fromEntries([...vars.used].map(([k, v]) => [k, v.value]));
  if (state.users.length) m.users = state.users;
  if (state.directories.length) m.directories = state.directories;
  if (state.services.length) m.services = state.services.map((name) => ({ name, firstBoot: 'none' as const }));
  if (state.firewallMode === 'map')
    m.firewall = {
      ...(state.firewall.limit.length ? { limit: state.firewall.limit } : {}),
      ...(state.firewall.allow.length ? { allow: state.firewall.allow } : {}),
    };
  if (state.credentialsFile) m.credentials = { file: state.credentialsFile };
  if (foundSecrets(state).length) m.secrets = foundSecrets(state);
  m.build = {
    packages: state.packages,
    ...(state.repositories.length ? { repositories: state.repositories.map((r) => r.repo) } : {}),
    scriptsDir: DEFAULTS.scriptsDir,
  };
  if (mapping.dropletImage) m.droplet = { ...m.droplet, image: mapping.dropletImage };
  if (mapping.tags.length) m.droplet = { ...m.droplet, tags: mapping.tags };
  const builder = mapping.builder;
  m.snapshot = { name: snapshotName(fieldText(builder.fields.snapshot_name), o.tmpl, o.special, info, builder.at) };
  return m;
}
