/**
 * $.firstBoot and $.firstBootTimeoutMinutes: the per-instance steps a new droplet runs once, and the
 * bound of each (one concern: an entry's own timeoutMinutes overrides the top-level one).
 */
import type { Check } from '../schema.js';
import { int, NAME_RE, obj, projectPath, push, str, strings } from './common.js';

export interface FirstBootEntry {
  /** Run order (cloud-init runs per-instance scripts in alphanumeric order). 0..99 */
  order: number;
  /** Short name, used in file names: NN-<slug>-<name>. */
  name: string;
  /** Path inside the project, e.g. first-boot/10-setup.sh */
  file: string;
  /** Stop the step after this many minutes (default: $.firstBootTimeoutMinutes). */
  timeoutMinutes?: number;
}

export interface FirstBootKeys {
  firstBoot?: FirstBootEntry[];
  firstBootTimeoutMinutes?: number;
}

const minutes = (description: string) =>
  int({
    minimum: 1,
    maximum: 1440,
    description,
    'x-message': '{value}: not a whole number of minutes from 1 to 1440',
    'x-hint': 'e.g. 30',
  });

const FIRST_BOOT_ENTRY = obj(
  {
    order: int({
      minimum: 0,
      maximum: 99,
      description: 'Run order (cloud-init runs per-instance scripts in name order).',
      'x-message': 'order {value} is not a whole number from 0 to 99',
      'x-hint': 'use two digits, e.g. 10, 20, 30',
    }),
    name: str({
      description: 'Short name, used in file names: NN-<slug>-<name>.',
      pattern: NAME_RE.source,
      'x-message': 'bad name {value}',
      'x-hint': 'lower-case letters, digits, "_" and "-"',
    }),
    file: projectPath('Path inside the project, e.g. first-boot/10-setup.sh.'),
    timeoutMinutes: minutes('Stop the step after this many minutes (default: $.firstBootTimeoutMinutes).'),
  },
  { required: ['order', 'name', 'file'] },
);

export const FIRST_BOOT_PROPERTIES = {
  firstBoot: strings(FIRST_BOOT_ENTRY, {
    description: 'First-boot steps, each with its own order and name. Default: every NN-name file in first-boot/.',
    'x-check': 'firstBoot',
  }),
  firstBootTimeoutMinutes: minutes(
    'A first-boot step still running after this many minutes is stopped and counted as failed (default 30).',
  ),
};

export const FIRST_BOOT_CHECKS: Record<string, Check> = {
  firstBoot(v, at, out) {
    if (!Array.isArray(v)) return;
    const orders = new Map<number, number>();
    const names = new Map<string, number>();
    v.forEach((e, i) => {
      const entry = e as { order?: unknown; name?: unknown };
      if (typeof entry?.order === 'number' && Number.isInteger(entry.order) && entry.order >= 0 && entry.order <= 99) {
        if (orders.has(entry.order))
          push(
            out,
            `${at}[${i}].order`,
            `duplicate order ${entry.order} (also ${at}[${orders.get(entry.order)}])`,
            'give each first-boot script its own number',
          );
        else orders.set(entry.order, i);
      }
      if (typeof entry?.name === 'string' && NAME_RE.test(entry.name)) {
        if (names.has(entry.name))
          push(out, `${at}[${i}].name`, `duplicate name "${entry.name}"`, 'give each first-boot script its own name');
        else names.set(entry.name, i);
      }
    });
  },
};
