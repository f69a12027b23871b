/**
 * The verify checks that each read one thing of the booted droplet: the login hold released, the
 * MOTD rendering with the droplet's IP, the credentials file 0600, the declared services active, each
 * service's config check (services[].check) and every command of $.verify.commands exiting 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { DEFAULTS, forDistro, type Manifest } from '../../runtime/manifest.js';
import { runtimeHome, toolDirs } from '../../runtime/policy.js';
import { serviceChecks, serviceOf } from '../../runtime/sections/services.js';
import { DEFAULT_COMMAND_TIMEOUT_S } from '../../runtime/sections/verify.js';
import type { Connection } from '../ssh/connection.js';
import { shellQuote } from '../ssh/quote.js';
import { distroOf, targetRoot } from './project.js';
import type { Report } from './verify-report.js';

/** The droplet's IPv4 addresses as it sees them (the fallback when --host is not its public address). */
async function ownAddresses(c: Connection): Promise<string[]> {
  const r = await c.run(
    "{ hostname -I 2>/dev/null; ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, \"/\"); print a[1] }'; } | tr ' ' '\\n'",
    { quiet: true, echo: false, check: false },
  );
  return [...new Set(r.stdout.split(/\s+/).filter((w) => isIPv4(w) && !w.startsWith('127.')))];
}

/** The MOTD text of the project, when the image has one (as the bundler picks it). */
function motdText(c: Connection, m: Manifest): string | undefined {
  if (m.motd === null) return undefined;
  const rel = m.motd?.file ?? DEFAULTS.motdFile;
  const abs = join(c.project, rel);
  if (!existsSync(abs)) return undefined;
  return readFileSync(abs, 'utf8');
}

export async function checkLoginHold(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const r = targetRoot() === '/' ? '' : targetRoot();
  const dropIn = `/etc/ssh/sshd_config.d/00-${m.slug}-login-hold.conf`;
  const start = `# >>> mpimg:${m.slug} login-hold >>>`;
  const out = await c.sudo(
    [
      `if [ -e ${shellQuote(r + dropIn)} ] || [ -L ${shellQuote(r + dropIn)} ]; then echo drop-in; fi`,
      `if grep -Fqx -- ${shellQuote(start)} ${shellQuote(`${r}/etc/ssh/sshd_config`)} 2>/dev/null; then echo block; fi`,
      'true',
    ].join('\n'),
    { quiet: true, echo: false },
  );
  const found = out.stdout.split('\n').filter(Boolean);
  if (found.length === 0)
    rep.add('pass', 'login-hold', 'the login hold is released (no hold drop-in, no hold block in sshd_config)');
  else
    rep.add(
      'fail',
      'login-hold',
      'the login hold was not released: root logins still get the wait message',
      found.map((f) =>
        f === 'drop-in' ? `${dropIn} is there` : `/etc/ssh/sshd_config holds the mpimg:${m.slug} login-hold block`,
      ),
    );
}

export async function checkMotd(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const text = motdText(c, m);
  if (text === undefined) return rep.add('pass', 'motd', 'the image has no MOTD');
  const d = await distroOf(c, m);
  const script = d.family === 'dnf' ? `/opt/${m.vendor}/${m.slug}/motd` : `/etc/update-motd.d/99-${m.slug}`;
  const r = await c.sudo(`exec sh ${shellQuote(script)}`, {
    quiet: true,
    echo: false,
    check: false,
    timeoutMs: 60_000,
  });
  if (r.exitCode !== 0 || r.stdout.trim() === '') {
    return rep.add(
      'fail',
      'motd',
      `the MOTD ${script} did not render (exit code ${r.exitCode}${r.stdout.trim() ? '' : ', no output'})`,
      r.stderr.trim().split('\n').filter(Boolean).slice(-3),
    );
  }
  if (/\{\{[^{}]*\}\}/.test(r.stdout))
    return rep.add('fail', 'motd', `the MOTD ${script} still shows a {{placeholder}}`);
  if (!text.includes('{{ip}}')) return rep.add('pass', 'motd', `the MOTD renders (its text does not show the IP)`);
  const expected = isIPv4(c.host) && !c.host.startsWith('127.') ? [c.host] : await ownAddresses(c);
  const shown = [...new Set(r.stdout.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? [])];
  const hit = expected.find((ip) => shown.includes(ip));
  if (hit) return rep.add('pass', 'motd', `the MOTD renders with the droplet's IP ${hit}`);
  rep.add(
    'fail',
    'motd',
    `the MOTD does not show the droplet's IP (${expected.join(', ') || 'unknown'}); it shows ${shown.length ? shown.join(', ') : 'no address'}`,
  );
}

export async function checkCredentials(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const r = targetRoot() === '/' ? '' : targetRoot();
  const file = m.credentials?.file ?? `/root/.${m.slug}-credentials`;
  const q = shellQuote(r + file);
  const out = (
    await c.sudo(`if [ -e ${q} ] || [ -L ${q} ]; then stat -c '%a %U %F' -- ${q}; fi`, { quiet: true, echo: false })
  ).stdout.trim();
  if (!out) return rep.add('pass', 'credentials', `no credentials file (${file}): nothing was saved`);
  const [mode, owner, ...type] = out.split(' ');
  if (type.join(' ') !== 'regular file')
    return rep.add('fail', 'credentials', `${file} is a ${type.join(' ')}, not a regular file`);
  if (mode !== '600' || owner !== 'root')
    return rep.add(
      'fail',
      'credentials',
      `${file} has mode ${mode.padStart(4, '0')}, owner ${owner}: it holds passwords and must be 0600, owned by root`,
    );
  rep.add('pass', 'credentials', `${file} is 0600, owned by root`);
}

/**
 * The declared units active; those of "managedDatabase": "disable" off instead when the droplet had a
 * managed database handed over (decided on the droplet by the helper library's mpimg_dbaas).
 */
export async function checkServices(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const d = await distroOf(c, m);
  const all = forDistro(m.services, d.slug, d.family).map(serviceOf);
  const units = [...new Set(all.map((s) => s.name))];
  if (units.length === 0) return rep.add('pass', 'services', `$.services declares none for ${d.slug}`);
  const managed = new Set(all.filter((s) => s.managedDatabase === 'disable').map((s) => s.name));
  const lib = shellQuote(`${runtimeHome(m.vendor, m.slug)}/lib.sh`);
  const decided = shellQuote(`${toolDirs(m.slug).state}/managed-database`);
  const r = await c.sudo(
    [
      'if [ ! -d /run/systemd/system ] || ! command -v systemctl >/dev/null 2>&1; then echo no-systemd; exit 0; fi',
      // What first boot decided (recorded by its services step); the hand-over itself only on an image
      // older than that record.
      ...(managed.size
        ? [
            `if [ -f ${decided} ]; then case $(cat ${decided}) in yes) echo 'dbaas: yes' ;; *) echo 'dbaas: no' ;; esac`,
            `elif ( . ${lib} && mpimg_dbaas ) >/dev/null 2>&1; then echo 'dbaas: yes'; else echo 'dbaas: no'; fi`,
          ]
        : []),
      `for u in ${units.map(shellQuote).join(' ')}; do s=$(systemctl is-active -- "$u" 2>/dev/null); printf '%s %s\\n' "$u" "\${s:-unknown}"; done`,
    ].join('\n'),
    { quiet: true, echo: false },
  );
  if (r.stdout.trim() === 'no-systemd')
    return rep.add('skip', 'services', `systemd is not running here: ${units.join(', ')} not checked`);
  const states = new Map(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
  const off = states.get('dbaas:') === 'yes' ? units.filter((u) => managed.has(u)) : [];
  const bad = units.filter((u) => !off.includes(u) && states.get(u) !== 'active');
  const on = off.filter((u) => states.get(u) === 'active');
  const said = (u: string) => `${u} (${states.get(u) ?? 'unknown'})`;
  if (bad.length || on.length)
    rep.add(
      'fail',
      'services',
      [
        ...(bad.length ? [`declared service(s) not active: ${bad.map(said).join(', ')}`] : []),
        ...(on.length
          ? [`active though a managed database was handed over ("managedDatabase": "disable"): ${on.join(', ')}`]
          : []),
      ].join('; '),
      ['see `systemctl status <unit>` and `journalctl -u <unit>` on the droplet'],
    );
  else {
    const active = units.filter((u) => !off.includes(u));
    rep.add(
      'pass',
      'services',
      [
        ...(active.length ? [`every declared service is active: ${active.join(', ')}`] : []),
        ...(off.length ? [`off, as a managed database was handed over: ${off.join(', ')}`] : []),
      ].join('; '),
    );
  }
}

/** One result per service check (services[].check), id `check:<unit>`, bound as $.verify.commands are. */
export async function checkServiceChecks(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const d = await distroOf(c, m);
  const timeoutS = m.verify?.commandTimeoutSeconds ?? DEFAULT_COMMAND_TIMEOUT_S;
  const seen = new Map<string, number>();
  for (const { name, check } of serviceChecks(forDistro(m.services, d.slug, d.family))) {
    // a unit with two checks: check:app.service, check:app.service#2
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    const id = n === 1 ? `check:${name}` : `check:${name}#${n}`;
    await rep.run(id, async () => {
      const r = await c.sudo(check, { quiet: true, echo: false, check: false, timeoutMs: timeoutS * 1000 });
      if (r.exitCode === 0) return rep.add('pass', id, `${name}: its check \`${check}\` exited 0`);
      const said = `${r.stdout}${r.stderr}`.trim().split('\n').filter(Boolean).slice(-10);
      rep.add(
        'fail',
        id,
        r.timedOut
          ? `${name}: its check \`${check}\` did not finish within ${timeoutS} s`
          : `${name}: its check \`${check}\` exited ${r.exitCode}: the unit's configuration on the droplet is broken`,
        said,
      );
    });
  }
}

export async function checkCommands(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const commands = m.verify?.commands ?? [];
  const timeoutS = m.verify?.commandTimeoutSeconds ?? DEFAULT_COMMAND_TIMEOUT_S;
  for (const [i, command] of commands.entries()) {
    const id = `command-${i + 1}`;
    await rep.run(id, async () => {
      const r = await c.sudo(command, { quiet: true, echo: false, check: false, timeoutMs: timeoutS * 1000 });
      if (r.exitCode === 0) return rep.add('pass', id, `\`${command}\` exited 0`);
      // The command's own last lines go to the log (stderr), not into the report.
      for (const l of `${r.stdout}${r.stderr}`.trim().split('\n').filter(Boolean).slice(-5)) c.log(`${id} | ${l}`);
      rep.add(
        'fail',
        id,
        r.timedOut ? `\`${command}\` did not finish within ${timeoutS} s` : `\`${command}\` exited ${r.exitCode}`,
      );
    });
  }
}
