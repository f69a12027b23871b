/** $.services: systemd units enabled at build, (re)started at first boot after the first-boot steps. */
import { anyOf, bool, int, obj, oneOf, perDistro, str } from './common.js';

export interface Service {
  /** The unit, e.g. "app.service" (from files/ or a package). */
  name: string;
  /** At first boot, after the first-boot steps (e.g. after a password was set): default "restart". */
  firstBoot?: 'restart' | 'start' | 'none';
  /** A command that exits 0 when the unit's config is sound ("nginx -t"): run at the end of the build and by verify. */
  check?: string;
  /** Seconds the build gives its check before stopping it (default DEFAULT_CHECK_TIMEOUT_S). */
  checkTimeoutSeconds?: number;
  /**
   * What first boot does with the unit when DigitalOcean handed the droplet a managed database (the
   * rule of lib.sh's mpimg_dbaas): "disable" stops and disables it (a local database the app no longer
   * uses); without a hand-over the unit is enabled and gets its firstBoot action.
   */
  managedDatabase?: ManagedDatabaseAction;
  /**
   * The unit must not start before first boot set this droplet up (its config is a template that holds
   * a secret, or a first-boot step writes it): a drop-in makes the unit's start conditional on the
   * record the first-boot services step writes, so a droplet booted from the image skips it until then.
   */
  afterFirstBoot?: boolean;
}

/** The record of this droplet's first boot that lets units marked afterFirstBoot start (in the state folder). */
export const firstBootReady = (state: string): string => `${state}/first-boot-ready`;

/** The drop-in that holds a unit marked afterFirstBoot back until first boot made `firstBootReady`. */
export const afterFirstBootDropIn = (slug: string, unit: string): string =>
  `/etc/systemd/system/${unit}.d/zz-${slug}-after-first-boot.conf`;

/** The unit's fate when a managed database was handed over; one value today, an enum so more can follow. */
export const MANAGED_DATABASE_ACTIONS = ['disable'] as const;
export type ManagedDatabaseAction = (typeof MANAGED_DATABASE_ACTIONS)[number];

/** How long the build lets a service's check run by default: a config test is quick; a hang is a failure. */
export const DEFAULT_CHECK_TIMEOUT_S = 120;

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
      checkTimeoutSeconds: int({
        minimum: 1,
        maximum: 3600,
        description: `Seconds the build gives "check" before it stops it and fails, naming the unit (default ${DEFAULT_CHECK_TIMEOUT_S}).`,
        'x-hint': 'a whole number of seconds from 1 to 3600',
      }),
      managedDatabase: oneOf(MANAGED_DATABASE_ACTIONS, {
        description:
          'What first boot does with the unit when DigitalOcean handed the droplet a managed database (/root/.digitalocean_dbaas_credentials with db_host and db_username, or DATABASE_URL; the rule of mpimg_dbaas in the helper library): "disable" stops and disables it, so a local database the app no longer needs does not run (and stays off on later boots). Without a hand-over the unit is enabled and gets its firstBoot action. Decided once, by the services step after the first-boot steps.',
        'x-message': 'bad managedDatabase {value}',
        'x-hint': '"disable" (stop and disable the unit when a managed database was handed over)',
      }),
      afterFirstBoot: bool(
        'true: the unit never starts before first boot set the droplet up (its config is a $.files.templates file that holds a secret, which the image does not carry, or a first-boot step writes it). mpimg installs a systemd drop-in, /etc/systemd/system/UNIT.d/zz-SLUG-after-first-boot.conf, with ConditionPathExists= on a record first boot makes in /var/lib/mpimg/SLUG/ just before it (re)starts the services: when a droplet made from the image boots, systemd skips the unit (not a failure) until first boot made its secrets and filled in its templates; a failed prepare step (secrets, templates) keeps it stopped and is shown at login, also on a later first boot (a droplet made from a snapshot), which takes the earlier record away until its prepare step succeeds. `status` of the bundle says whether the unit is held or released. The record is never in the image (the cleanup removes /var/lib/mpimg/*, the image check fails on it). Default false.',
      ),
    },
    { required: ['name'] },
  ),
]);

export const SERVICES_SCHEMA = perDistro(
  SERVICE,
  'systemd units enabled at build and (re)started at first boot after the first-boot steps; a failed start is a first-boot failure shown at login. An object may add the unit\'s config check ("check": "nginx -t"), run at the end of the build and by verify, what first boot does with it when a managed database was handed over ("managedDatabase": "disable"), and that it must not start before first boot set the droplet up ("afterFirstBoot": true).',
);

export type ServiceOf = Required<Pick<Service, 'name' | 'firstBoot'>> &
  Pick<Service, 'check' | 'checkTimeoutSeconds' | 'managedDatabase' | 'afterFirstBoot'>;

export function serviceOf(s: string | Service): ServiceOf {
  return typeof s === 'string'
    ? { name: s, firstBoot: 'restart' }
    : {
        name: s.name,
        firstBoot: s.firstBoot ?? 'restart',
        ...(s.check === undefined ? {} : { check: s.check }),
        ...(s.checkTimeoutSeconds === undefined ? {} : { checkTimeoutSeconds: s.checkTimeoutSeconds }),
        ...(s.managedDatabase === undefined ? {} : { managedDatabase: s.managedDatabase }),
        ...(s.afterFirstBoot ? { afterFirstBoot: true } : {}),
      };
}

/** The config checks of a list of services: each unit and command once, in the list's order, with its time limit. */
export function serviceChecks(
  list: ReadonlyArray<string | Service>,
): Array<{ name: string; check: string; timeoutS: number }> {
  const seen = new Set<string>();
  const out: Array<{ name: string; check: string; timeoutS: number }> = [];
  for (const s of list.map(serviceOf)) {
    if (s.check === undefined) continue;
    const key = `${s.name}\n${s.check}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ name: s.name, check: s.check, timeoutS: s.checkTimeoutSeconds ?? DEFAULT_CHECK_TIMEOUT_S });
  }
  return out;
}
