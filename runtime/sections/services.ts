/** $.services: systemd units enabled at build, (re)started at first boot after the first-boot steps. */
import { anyOf, obj, oneOf, perDistro, str } from './common.js';

export interface Service {
  /** The unit, e.g. "app.service" (from files/ or a package). */
  name: string;
  /** At first boot, after the first-boot steps (e.g. after a password was set): default "restart". */
  firstBoot?: 'restart' | 'start' | 'none';
}

export const UNIT_RE = /^[A-Za-z0-9@._-]+\.(service|socket|timer|path)$/;

const SERVICE = anyOf([
  str({
    pattern: UNIT_RE.source,
    'x-message': 'bad unit name {value}',
    'x-hint': 'a systemd unit such as "app.service"',
  }),
  obj(
    {
      name: str({
        pattern: UNIT_RE.source,
        'x-message': 'bad unit name {value}',
        'x-hint': 'a systemd unit such as "app.service"',
      }),
      firstBoot: oneOf(['restart', 'start', 'none'], {
        description: 'What first boot does with it after the first-boot steps (default restart).',
      }),
    },
    { required: ['name'] },
  ),
]);

export const SERVICES_SCHEMA = perDistro(
  SERVICE,
  'systemd units enabled at build and (re)started at first boot after the first-boot steps; a failed start is a first-boot failure shown at login.',
);

export function serviceOf(s: string | Service): Required<Service> {
  return typeof s === 'string'
    ? { name: s, firstBoot: 'restart' }
    : { name: s.name, firstBoot: s.firstBoot ?? 'restart' };
}
