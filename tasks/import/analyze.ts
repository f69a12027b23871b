/**
 * One script of the template, unit by unit: each recognizer may take a unit (it becomes a manifest
 * field, or is dropped because the package does it); every other unit is kept byte for byte, in
 * its place, with a comment where an absorbed one was. Counts shell lines absorbed and kept.
 */
import { comment } from './recognizers/util.js';
import { RECOGNIZERS } from './recognizers/index.js';
import { readShell, shellLines, ShellReadError, type Unit } from './shell.js';
import type { Hit, ImportState, Role, ScriptView } from './state.js';

export interface ScriptInput {
  role: Role;
  /** For the report: the file as the template names it, or the inline provisioner. */
  origin: string;
  text: string;
  env: Map<string, string | undefined>;
  envVars: Map<string, string>;
}

export interface ScriptResult {
  input: ScriptInput;
  units: Unit[];
  hits: Map<Unit, Hit>;
  absorbed: number;
  kept: number;
  /** The script with absorbed units replaced, or undefined when nothing is left to run. */
  keptText?: string;
  /** Set when the text could not be read as shell: it is kept whole. */
  readError?: string;
}

/** A kept unit after which a package line may not move before the build scripts. */
const APT_AFFECTING =
  /\b(apt-get|apt|aptitude|dpkg|add-apt-repository|apt-key|debconf-set-selections|debconf-communicate|gdebi|snap)\b|sources\.list|\/keyrings\/|trusted\.gpg|\|\s*(sudo\s+(-\S+\s+)*)?(ba|da|z)?sh\b|(^|[;&|]\s*|\bsudo\s+)(ba|da)?sh\s+[^-\s]|(^|[;&|]\s*)(source|\.)\s+\S|(^|[;&|]\s*)\.?\/[\w./-]+\.sh\b/m;

/** A kept `apt-get install` of package names (from the archive): it changes no source, so it is no barrier. */
const APT_INSTALL_NAMES =
  /^\s*(sudo\s+)?([A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(apt|apt-get)\s+((-o\s+\S+|-\S+)\s+)*install(\s+(-o\s+\S+|-\S+|'[A-Za-z0-9][A-Za-z0-9.+_:=~^-]*'|[A-Za-z0-9][A-Za-z0-9.+_:=~^-]*))+\s*$/;

const barrier = (text: string): boolean => APT_AFFECTING.test(text) && !APT_INSTALL_NAMES.test(text);

/** Kept lines with nothing to do once the rest is gone. */
const TRIVIAL =
  /^\s*(set\s+[-+][A-Za-z]+(\s+[a-z]+)?|set\s+-o\s+\w+|:|true|exit(\s+0)?|sleep\s+\d+|echo(\s+("[^"$`]*"|'[^']*'|[^\s;&|<>$`"']+))*|export\s+[A-Za-z_][A-Za-z0-9_]*(=("[^"`$]*"|'[^']*'|[^\s;&|<>$`"']*))?)\s*$/;

const PERSON: Array<[RegExp, string, Role?]> = [
  [
    /^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_]*=["']?\$\(\s*(openssl\s+rand|pwgen|head\s+-c\s*\d*\s*\/dev\/urandom|tr\s[^)]*\/dev\/urandom|uuidgen)/m,
    'makes a secret at build time: every droplet made from the image gets the same one; make it at first boot instead (a first-boot script)',
    'build',
  ],
  [
    /(curl|wget)\b[^\n|;]*\|\s*(sudo\s+(-\S+\s+)*)?(ba|da|z)?sh\b|(ba)?sh\s+(-c\s+)?["']?\$\((curl|wget)|(ba)?sh\s+<\((curl|wget)/,
    'runs a script fetched from the network at build time: review what it installs and pin its version',
  ],
  [
    /(>>?|tee(\s+-a)?)\s*\/root\/\.(bashrc|bash_profile|profile)\b|\/etc\/skel\/\.bashrc/,
    "an interactive first-login hook in root's shell profile: make it a first-login script (`mpimg add first-login`), which runs once, only in a terminal, and retries when it fails",
  ],
  [
    /\bapt-key\s+(add|adv)\b/,
    'apt-key is deprecated and trusts the key for every repository: give the repository and its key in build.repositories',
  ],
];

export async function analyzeScript(input: ScriptInput, state: ImportState): Promise<ScriptResult> {
  let units: Unit[];
  try {
    units = readShell(input.text);
  } catch (e) {
    if (!(e instanceof ShellReadError)) throw e;
    return unreadable(input, state, e);
  }
  const view: ScriptView = {
    role: input.role,
    origin: input.origin,
    units,
    index: 0,
    env: input.env,
    envVars: input.envVars,
    state,
    claimed: new Map(),
  };
  const mine = RECOGNIZERS.filter((r) => r.roles.includes(input.role));
  for (const r of mine) await r.prepare?.(view);

  const hits = new Map<Unit, Hit>();
  let absorbed = 0;
  let kept = 0;
  const keptUnits: Unit[] = [];
  units.forEach((u, i) => {
    if (u.kind === 'blank' || u.kind === 'comment') return;
    view.index = i;
    let hit = view.claimed.get(u);
    if (!hit) {
      for (const r of mine) {
        hit = r.match(u, view);
        if (hit) break;
      }
    }
    if (hit) {
      hits.set(u, hit);
      if (hit.person) state.person.push({ where: `${input.origin}:${u.start}`, what: hit.person });
      if (hit.kept) {
        kept += shellLines(u);
        keptUnits.push(u);
        if (input.role === 'build' && !state.aptBarrier && barrier(hit.replace ?? u.text))
          state.aptBarrier = `${input.origin}:${u.start}`;
      } else absorbed += shellLines(u);
      return;
    }
    kept += shellLines(u);
    keptUnits.push(u);
    if (input.role === 'build' && !state.aptBarrier && barrier(u.text)) state.aptBarrier = `${input.origin}:${u.start}`;
    for (const [re, what, role] of PERSON)
      if ((!role || role === input.role) && re.test(u.text))
        state.person.push({ where: `${input.origin}:${u.start}`, what });
  });

  if (input.role === 'build')
    for (const u of units) if (u.kind === 'command' || u.kind === 'compound') state.buildTexts.push(u.text);

  // Only `set -e`, echo and the like left: nothing to run.
  const meaningful = keptUnits.filter((u) => !(u.kind === 'command' && !hits.get(u) && TRIVIAL.test(u.text)));
  if (meaningful.length === 0 && units.some((u) => u.kind === 'command' || u.kind === 'compound')) {
    for (const u of keptUnits) {
      if (hits.get(u)) continue;
      kept -= shellLines(u);
      absorbed += shellLines(u);
      hits.set(u, { became: 'dropped (nothing else of this script is left to run)' });
    }
    return { input, units, hits, absorbed, kept, keptText: undefined };
  }
  const out = units.map((u) => {
    const h = hits.get(u);
    if (!h) return u.text;
    return h.replace ?? comment(u, h.became);
  });
  return { input, units, hits, absorbed, kept, keptText: `${out.join('\n')}\n` };
}

/** A script that is not shell the reader can follow: kept whole, and later package lines stay too. */
function unreadable(input: ScriptInput, state: ImportState, e: ShellReadError): ScriptResult {
  const lines = input.text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).length;
  state.person.push({
    where: `${input.origin}:${e.line}`,
    what: `could not be read as shell (${e.message}): kept whole, nothing in it was mapped`,
  });
  state.aptBarrier ??= `${input.origin} (not readable as shell)`;
  return {
    input,
    units: [],
    hits: new Map(),
    absorbed: 0,
    kept: lines,
    keptText: input.text.replace(/\r\n/g, '\n'),
    readError: e.message,
  };
}
