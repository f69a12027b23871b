/**
 * `yo mpimg:first-boot <name>`: adds first-boot/NN-<name>.sh with the next free number (the next
 * multiple of 10 after the highest one, else the next number), mode 0755. `NN-<name>` asks for NN.
 */
import { readdirSync, existsSync } from 'node:fs';
import { FIRST_BOOT_FILE_RE, NAME_RE } from '../../runtime/manifest.js';
import { MpimgError } from '../../tasks/errors.js';
import { FIRST_BOOT_TEMPLATE } from '../lib/files.js';
import { SubGenerator } from '../lib/sub.js';
import { renderTemplate } from '../lib/write.js';

/** Next order number after the used ones: 10, 20, ... then any free one up to 99. */
export function nextFirstBootNumber(used: number[]): number | undefined {
  const max = used.length ? Math.max(...used) : 0;
  const tens = (Math.floor(max / 10) + 1) * 10;
  if (tens <= 99) return tens;
  for (let n = max + 1; n <= 99; n++) if (!used.includes(n)) return n;
  for (let n = 1; n <= 99; n++) if (!used.includes(n)) return n;
  return undefined;
}

export default class FirstBootGenerator extends SubGenerator {
  protected readonly subName = 'first-boot';
  stepName!: string;
  file!: string;

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options);
    this.argument('name', { type: String, required: true, description: 'short name: lower-case letters, digits, "_" and "-" (e.g. database)' });
  }

  initializing(): void {
    this.loadProject();
    // "15-cache" asks for that number (the file name shape of first-boot/), not for a step named "15-cache".
    const given = String(this.opts.name ?? '');
    const prefixed = /^(\d{2})-(.*)$/.exec(given);
    const name = prefixed ? prefixed[2] : given;
    const wanted = prefixed ? Number(prefixed[1]) : undefined;
    if (!NAME_RE.test(name)) {
      throw new MpimgError(`bad first-boot script name "${name}"`, {
        where: 'argument <name>',
        hint: 'use lower-case letters, digits, "_" and "-", starting with a letter or digit, e.g. `yo mpimg:first-boot database`',
      });
    }
    const dir = this.destinationPath('first-boot');
    const entries = (this.manifest.firstBoot ?? []).map((e) => ({ order: e.order, name: e.name }));
    if (existsSync(dir)) {
      for (const f of readdirSync(dir)) {
        const m = FIRST_BOOT_FILE_RE.exec(f);
        if (m) entries.push({ order: Number(m[1]), name: m[2] });
      }
    }
    if (entries.some((e) => e.name === name)) {
      throw new MpimgError(`a first-boot script named "${name}" exists already`, { where: 'first-boot/', hint: 'choose another name, or edit the existing script' });
    }
    const taken = entries.find((e) => e.order === wanted);
    if (taken) {
      throw new MpimgError(`first-boot number ${prefixed![1]} is taken (by "${taken.name}")`, {
        where: 'argument <name>',
        hint: `give a free number (e.g. \`mpimg add first-boot ${String(nextFirstBootNumber(entries.map((e) => e.order)) ?? 1).padStart(2, '0')}-${name}\`), or only the name to get the next free one`,
      });
    }
    const order = wanted ?? nextFirstBootNumber(entries.map((e) => e.order));
    if (order === undefined) {
      throw new MpimgError('no free first-boot number left (00-99 are all used)', { where: 'first-boot/', hint: 'merge some first-boot scripts' });
    }
    this.stepName = name;
    this.file = `first-boot/${String(order).padStart(2, '0')}-${name}.sh`;
  }

  writing(): void {
    const ctx = { ...this.context(), stepName: this.stepName };
    this.writePiece(this.file, renderTemplate({ template: FIRST_BOOT_TEMPLATE, render: 'ejs' }, ctx), 0o755);
    // A manifest that lists its first-boot scripts explicitly gets the new one too.
    const order = Number(this.file.slice('first-boot/'.length, 'first-boot/'.length + 2));
    this.updateManifest((m) => {
      if (!Array.isArray(m.firstBoot)) return false;
      m.firstBoot = [...(m.firstBoot as unknown[]), { order, name: this.stepName, file: this.file }];
      return true;
    });
  }

  end(): void {
    this.reportConflicts();
    this.log(`Added ${this.file}: it runs once at the first boot of every droplet, after the lower numbers.`);
  }
}
