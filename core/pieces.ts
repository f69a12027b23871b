/**
 * The pieces `mpimg add` (and `yo mpimg:<piece>`) adds to an existing image project: a first-boot
 * step, the first-login script, the MOTD. Each runs inside the project, writes its one file and the
 * key of mpimg.json that turns it on (only that key's text changes), and says what really happened:
 * added, already as asked, kept because the vendor edited it (nothing changed), or replaced (--force).
 */
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS, FIRST_BOOT_FILE_RE, NAME_RE, type Manifest } from '../runtime/manifest.js';
import { MpimgError } from './errors.js';
import { answerProblem, validateOne } from './answers.js';
import { FIRST_BOOT_TEMPLATE, FIRST_LOGIN_TEMPLATE, MOTD_TEMPLATE } from './files.js';
import { editJson } from './json-edit.js';
import { specFor, type Answers } from './options.js';
import { loadProject } from './project-guard.js';
import { ProjectFs } from './project-fs.js';
import { templateContext, type TemplateContext } from './project.js';
import type { Prompter } from './questions.js';
import { knownAnswers, withDefaults } from './resolve.js';
import { ProjectWriter, RECORD_KEY, renderTemplate, type WriteStatus } from './write.js';

export interface PieceOptions {
  force?: boolean;
  yes?: boolean;
  nonInteractive?: boolean;
}

/** What adding a piece did, for the one line the command prints. */
export interface PieceResult {
  file: string;
  status: WriteStatus;
  /** mpimg.json changed (the piece turned on). */
  manifestChanged: boolean;
  /** One line, true to what happened. */
  message: string;
  /** The piece was asked for and is not there as asked: the command fails. */
  failed: boolean;
}

/** Next order number after the used ones: 10, 20, ... then any free one up to 99. */
export function nextFirstBootNumber(used: number[]): number | undefined {
  const max = used.length ? Math.max(...used) : 0;
  const tens = (Math.floor(max / 10) + 1) * 10;
  if (tens <= 99) return tens;
  for (let n = max + 1; n <= 99; n++) if (!used.includes(n)) return n;
  for (let n = 1; n <= 99; n++) if (!used.includes(n)) return n;
  return undefined;
}

class PieceProject {
  readonly fs: ProjectFs;
  readonly manifest: Manifest;
  readonly writer: ProjectWriter;
  private manifestChanged = false;

  constructor(
    readonly dir: string,
    generatorName: string,
    readonly opts: PieceOptions,
  ) {
    this.manifest = loadProject(dir, generatorName);
    this.fs = new ProjectFs(dir);
    this.writer = new ProjectWriter(
      this.fs,
      Boolean(opts.force),
      (this.fs.config.get(RECORD_KEY) as Record<string, string> | undefined) ?? {},
    );
  }

  /** Template values from the manifest, completed by .yo-rc.json answers and defaults. */
  context(overrides: Partial<Answers> = {}): TemplateContext {
    const known = knownAnswers({}, this.fs.config.getAll());
    const m = this.manifest;
    const fromManifest: Partial<Answers> = {
      name: m.name,
      slug: m.slug,
      vendor: m.vendor,
      distro: m.distributions[0],
      firstLogin: Boolean(m.firstLogin),
      loginHold: Boolean(m.loginHold),
    };
    const answers = withDefaults({ ...known, ...fromManifest, ...overrides }, m.slug);
    return { ...templateContext(answers), version: m.version };
  }

  /** Writes the piece; it was asked for by name, so a copy the vendor deleted earlier comes back. */
  writePiece(rel: string, data: Buffer, mode: number): WriteStatus {
    const status = this.writer.write(rel, data, mode, { wanted: true });
    this.fs.config.set(RECORD_KEY, this.writer.record);
    return status;
  }

  /** Sets keys of mpimg.json; only their text changes. `change` returns false when nothing is to do. */
  updateManifest(change: (m: Record<string, unknown>) => boolean): void {
    const text = this.fs.read('mpimg.json')!.toString('utf8');
    const data = JSON.parse(text) as Record<string, unknown>;
    if (!change(data)) return;
    const next = editJson(text, data);
    if (next !== text) {
      this.fs.write('mpimg.json', next, 0o644);
      this.manifestChanged = true;
    }
  }

  finish(file: string, status: WriteStatus, what: string): PieceResult {
    const kept = status === 'conflict';
    // a kept file leaves the project as it was: nothing of this run is written
    if (!kept) this.fs.commit();
    const changed = this.manifestChanged && !kept;
    const on = changed ? ' and turned it on in mpimg.json' : '';
    const lines: Record<WriteStatus, string> = {
      create: `Added ${file}${on}: ${what}`,
      update: `Wrote ${file} again (you had not edited it)${on}: ${what}`,
      repair: `Wrote ${file} again (it was empty)${on}: ${what}`,
      force: `Replaced your ${file} with a new one (--force)${on}: ${what}`,
      identical: changed
        ? `${file} was already as asked; turned it on in mpimg.json: ${what}`
        : `Nothing to do: ${file} already holds exactly this, and mpimg.json already uses it.`,
      conflict: `${file} differs from what this would write (you edited it): kept as it is, nothing changed. \`mpimg add ... --force\` replaces it; \`mpimg upgrade --show ${file}\` prints the new one.`,
      deleted: `${file} was not written.`,
    };
    return { file, status, manifestChanged: changed, message: lines[status], failed: kept };
  }
}

/** first-boot/NN-<name>.sh with the next free number (NN-<name> asks for NN), 0755. */
export function addFirstBoot(dir: string, given: string, opts: PieceOptions = {}): PieceResult {
  const p = new PieceProject(dir, 'first-boot', opts);
  // "15-cache" asks for that number (the file name shape of first-boot/), not for a step named "15-cache".
  const prefixed = /^(\d{2})-(.*)$/.exec(given);
  const name = prefixed ? prefixed[2] : given;
  const wanted = prefixed ? Number(prefixed[1]) : undefined;
  if (!NAME_RE.test(name)) {
    throw new MpimgError(`bad first-boot script name "${name}"`, {
      where: 'argument <name>',
      hint: 'use lower-case letters, digits, "_" and "-", starting with a letter or digit, e.g. `mpimg add first-boot database`',
    });
  }
  const entries: Array<{ order: number; name: string; file?: string }> = (p.manifest.firstBoot ?? []).map((e) => ({
    order: e.order,
    name: e.name,
    file: e.file,
  }));
  const folder = join(dir, 'first-boot');
  if (existsSync(folder)) {
    for (const f of readdirSync(folder)) {
      const m = FIRST_BOOT_FILE_RE.exec(f);
      if (m && !entries.some((e) => e.order === Number(m[1]) && e.name === m[2]))
        entries.push({ order: Number(m[1]), name: m[2], file: `first-boot/${f}` });
    }
  }
  const same = entries.find((e) => e.name === name);
  let order: number | undefined;
  if (same) {
    if (!opts.force)
      throw new MpimgError(`a first-boot script named "${name}" exists already`, {
        where: same.file ?? 'first-boot/',
        hint: `choose another name, or edit the existing script (\`mpimg add first-boot ${name} --force\` replaces it with a new one)`,
      });
    order = same.order;
  } else {
    const taken = entries.find((e) => e.order === wanted);
    if (taken) {
      throw new MpimgError(`first-boot number ${prefixed![1]} is taken (by "${taken.name}")`, {
        where: 'argument <name>',
        hint: `give a free number (e.g. \`mpimg add first-boot ${String(nextFirstBootNumber(entries.map((e) => e.order)) ?? 1).padStart(2, '0')}-${name}\`), or only the name to get the next free one`,
      });
    }
    order = wanted ?? nextFirstBootNumber(entries.map((e) => e.order));
  }
  if (order === undefined)
    throw new MpimgError('no free first-boot number left (00-99 are all used)', {
      where: 'first-boot/',
      hint: 'merge some first-boot scripts',
    });
  const file = same?.file ?? `first-boot/${String(order).padStart(2, '0')}-${name}.sh`;
  const status = p.writePiece(
    file,
    renderTemplate({ template: FIRST_BOOT_TEMPLATE, render: 'ejs' }, {
      ...p.context(),
      stepName: name,
    } as TemplateContext),
    0o755,
  );
  // A manifest that lists its first-boot scripts explicitly gets the new one too.
  p.updateManifest((m) => {
    if (!Array.isArray(m.firstBoot) || (m.firstBoot as Array<{ name?: unknown }>).some((e) => e?.name === name))
      return false;
    m.firstBoot = [...(m.firstBoot as unknown[]), { order, name, file }];
    return true;
  });
  return p.finish(file, status, 'it runs once at the first boot of every droplet, after the lower numbers.');
}

/** first-login/first-login.sh (0755), turned on in mpimg.json. */
export function addFirstLogin(dir: string, opts: PieceOptions = {}): PieceResult {
  const p = new PieceProject(dir, 'first-login', opts);
  const file = p.manifest.firstLogin?.file ?? DEFAULTS.firstLoginFile;
  const status = p.writePiece(
    file,
    renderTemplate({ template: FIRST_LOGIN_TEMPLATE, render: 'ejs' }, p.context({ firstLogin: true })),
    0o755,
  );
  if (status !== 'conflict') {
    p.updateManifest((m) => {
      if (m.firstLogin && typeof m.firstLogin === 'object') return false;
      m.firstLogin = { file };
      return true;
    });
    p.fs.config.set('firstLogin', true);
  }
  return p.finish(file, status, 'it runs at the first interactive root login until it exits 0.');
}

/**
 * motd.txt with `greeting` as its first line, turned on in mpimg.json. With no greeting: asked on a
 * terminal; with --yes (or no terminal and --yes) the stored or default one.
 */
export async function addMotd(
  dir: string,
  greeting: string | undefined,
  opts: PieceOptions = {},
  prompt?: Prompter,
): Promise<PieceResult> {
  const p = new PieceProject(dir, 'motd', opts);
  const s = specFor('motd');
  const stored = p.fs.config.get('motd');
  const suggested = typeof stored === 'string' ? stored : String(s.default({ answers: {}, folderName: '' }));
  if (greeting === undefined) {
    if (opts.yes) greeting = suggested;
    else if (prompt && !opts.nonInteractive) {
      const a = await prompt([
        {
          type: 'input',
          name: 'motd',
          message: s.message,
          default: () => suggested,
          validate: (v) => validateOne('motd', v),
        },
      ]);
      greeting = String(a.motd ?? suggested);
    } else {
      throw new MpimgError('no terminal to ask for the greeting on', {
        where: 'command-line options',
        hint: 'pass --motd "<greeting>", or --yes to take the current one',
      });
    }
  }
  const bad = answerProblem('motd', greeting ?? '');
  if (bad) throw new MpimgError(`bad --motd: ${bad.message}`, { where: '--motd', hint: bad.fix });
  const line = (greeting ?? '').trim();
  const file = p.manifest.motd?.file ?? DEFAULTS.motdFile;
  const status = p.writePiece(
    file,
    renderTemplate({ template: MOTD_TEMPLATE, render: 'ejs' }, p.context({ motd: line })),
    0o644,
  );
  if (status !== 'conflict') {
    p.updateManifest((m) => {
      if (m.motd && typeof m.motd === 'object') return false;
      m.motd = { file };
      return true;
    });
    p.fs.config.set('motd', line);
  }
  return p.finish(
    file,
    status,
    "the login message; {{name}}, {{version}}, {{ip}}, {{credentials}} and mpimg.json's {{VARIABLES}} are filled in on the droplet.",
  );
}
