/**
 * What recognizers share while a template is imported: the manifest fields being filled in, the
 * notes for the report, and the view of one script (its units, its environment) a recognizer gets.
 */
import type { Directory, User } from '../../runtime/sections/accounts.js';
import type { Repository } from '../../runtime/sections/build.js';
import type { Secret } from '../../runtime/sections/secrets.js';
import type { Unit, Word } from './shell.js';

export type Role = 'build' | 'first-boot';

/** One thing of the original a person has to look at, with where it is. */
export interface PersonNote {
  where: string;
  what: string;
}

/** A repository the scripts add, with the units that made it (absorbed together or not at all). */
export interface RepositoryFound {
  repo: Repository;
  units: Unit[];
  /** Where its key came from, for the report (the URL, or the file in the project). */
  keyFrom: string;
  /** The script it was in. */
  origin: string;
}

/** A first-boot secret found: its entry of $.secrets, the script's own variable, where its line is. */
export interface FoundSecret {
  secret: Secret;
  variable: string;
  from: string;
}

export interface ImportOptions {
  /** Fetch repository signing keys named by URL and keep them in the project (keys/). */
  fetchKeys: boolean;
  /** Fetches one key: the bytes, or an Error. Replaceable in tests. */
  fetch?: (url: string) => Promise<Buffer>;
}

export interface ImportState {
  options: ImportOptions;
  family: 'apt' | 'dnf';
  /** Ubuntu (PPAs exist there only). */
  ubuntu: boolean;
  packages: string[];
  repositories: RepositoryFound[];
  /** Key files for the project: project path → bytes. */
  keyFiles: Map<string, Buffer>;
  services: string[];
  users: User[];
  directories: Directory[];
  /** Files (or links) build lines wrote, now files/ entries: droplet path → content. */
  writtenFiles: Map<string, { data?: Buffer; link?: string }>;
  /** The units of the build scripts read so far (a later recognizer looks back at them). */
  buildTexts: string[];
  /** Modes of files/ paths set by a build line (`chmod +x FILE`): droplet path → mode. */
  fileModes: Map<string, number>;
  firewall: { limit: string[]; allow: string[] };
  /** 'map' when every ufw line of the build maps onto $.firewall; 'keep' when one does not. */
  firewallMode: 'map' | 'keep';
  /** Why the ufw lines are kept (the line that does not map). */
  firewallWhy?: string;
  loginHold?: true | { message: string };
  credentialsFile?: string;
  /** First-boot secrets, in the order found. */
  secrets: FoundSecret[];
  /** The project's variables so far (a secret never takes one's name: both reach first boot's environment). */
  variables: ReadonlyMap<string, unknown>;
  /** Every first-boot script's text (a secret never takes a name they expand). */
  firstBootTexts: string[];
  /** Droplet path → project path of every file files/ lays down. */
  filesAt: Map<string, string>;
  /** Droplet paths the import moved out of files/ (per-instance scripts, the MOTD) → where they went. */
  moved: Map<string, string>;
  /** MOTD placeholders filled in by a build script's sed, renamed to variables: {{FROM}} → {{VAR}}. */
  motdPlaceholders: Map<string, string>;
  /** The first kept unit that may change what apt installs (later package lines stay as script). */
  aptBarrier?: string;
  /** Items the rules refused in a whole manifest: not taken again (`dir:/opt`, `user:x`, ...). */
  refused: Set<string>;
  person: PersonNote[];
  info: PersonNote[];
}

/** A recognizer's answer for one unit. */
export interface Hit {
  /** What the unit became, for the report: "build.packages: nginx", "dropped: the package upgrades". */
  became: string;
  /** Lines put where the unit was (default: one comment naming what it became). */
  replace?: string;
  /** A note for the person, besides. */
  person?: string;
  /** The unit stays (its lines count as kept), written as `replace`: partly mapped. */
  kept?: boolean;
}

export interface ScriptView {
  role: Role;
  /** The original file (or inline provisioner) for messages. */
  origin: string;
  units: Unit[];
  index: number;
  /** Values the template gave this script's environment (undefined: not known at import). */
  env: Map<string, string | undefined>;
  /** Environment names set from a variable of the new project: env name → variable name. */
  envVars: Map<string, string>;
  state: ImportState;
  /** Units of this script another recognizer already claimed (a repository's key and list). */
  claimed: Map<Unit, Hit>;
}

export interface Recognizer {
  name: string;
  roles: Role[];
  /** Runs once per script before the units, for recognizers that pair units (repositories). */
  prepare?(view: ScriptView): Promise<void> | void;
  match(unit: Unit, view: ScriptView): Hit | undefined;
}

/** The value of a word when it is known: plain text, or $NAME / ${NAME} of the known environment. */
export function wordValue(w: Word, env: Map<string, string | undefined>): string | undefined {
  if (w.plain) return w.text;
  let unknown = false;
  const out = w.text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_, a: string | undefined, b: string | undefined) => {
      const v = env.get((a ?? b)!);
      if (v === undefined) unknown = true;
      return v ?? '';
    },
  );
  if (unknown || /[$`*?[]/.test(out)) return undefined;
  return out;
}

export const where = (view: ScriptView, u: Unit): string => `${view.origin}:${u.start}`;
