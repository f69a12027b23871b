/** $.services: systemd units enabled at build, (re)started at first boot after the first-boot steps. */
import { anyOf, obj, oneOf, perDistro, str } from './common.js';

export interface Service {
  /** The unit, e.g. "app.service" (from files/ or a package). */
  name: string;
  /** At first boot, after the first-boot steps (e.g. after a password was set): default "restart". */
  firstBoot?: 'restart' | 'start' | 'none';
  /** A command that exits 0 when the unit's config is sound ("nginx -t"): run at the end of the build and by verify. */
  check?: string;
}

export const UNIT_RE = /^[A-Za-z0-9@._-]+\.(service|socket|timer|path)$/;

/**
 * One line of shell, run as root with /bin/sh: no control character (a newline would hide a second
 * command from whoever reads the manifest), no U+2028/U+2029 (a line break to editors and JSON
 * readers), not blank.
 */
export const CHECK_COMMAND_RE = /^(?=.*\S)[^\u0000-\u001f\u007f\u2028\u2029]{1,2000}$/u;

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
      check: str({
        pattern: CHECK_COMMAND_RE.source,
        description:
          'A command line (run as root with /bin/sh) that exits 0 when the unit\'s configuration is sound, e.g. "nginx -t", "apachectl configtest", "sshd -t": run at the end of the build, after files/, the build scripts and the services are in place (a failure fails the build with its output, naming the unit), and again by `mpimg verify` on a droplet made from the image. It must not change the machine.',
        'x-message': 'bad check command {value}',
        'x-hint':
          'one line of shell (no newline or other control character, at most 2000 characters), e.g. "nginx -t"; several commands: join them with &&',
      }),
    },
    { required: ['name'] },
  ),
]);

export const SERVICES_SCHEMA = perDistro(
  SERVICE,
  'systemd units enabled at build and (re)started at first boot after the first-boot steps; a failed start is a first-boot failure shown at login. An object may add the unit\'s config check ("check": "nginx -t"), run at the end of the build and by verify.',
);

export function serviceOf(s: string | Service): Required<Omit<Service, 'check'>> & Pick<Service, 'check'> {
  return typeof s === 'string'
    ? { name: s, firstBoot: 'restart' }
    : { name: s.name, firstBoot: s.firstBoot ?? 'restart', ...(s.check === undefined ? {} : { check: s.check }) };
}

/** The config checks of a list of services: each unit and command once, in the list's order. */
export function serviceChecks(list: ReadonlyArray<string | Service>): Array<{ name: string; check: string }> {
  const seen = new Set<string>();
  const out: Array<{ name: string; check: string }> = [];
  for (const s of list.map(serviceOf)) {
    if (s.check === undefined) continue;
    const key = `${s.name}\n${s.check}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ name: s.name, check: s.check });
  }
  return out;
}
