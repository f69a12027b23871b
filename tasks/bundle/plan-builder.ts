/**
 * Project → plan: the pure list of file operations that `install` performs on a droplet.
 * Every installed name derives from the manifest (slug, vendor).
 */
import * as fs from 'node:fs';
import { fileOp } from './file-op.js';
import type { FileOp, Op, Plan } from '../../runtime/plan.js';
import { MpimgError } from '../../core/errors.js';
import type { Project } from './project.js';
import { familyOf } from '../../runtime/distro.js';
import { forDistro } from '../../runtime/manifest.js';
import { runtimeHome, toolDirs } from '../../runtime/policy.js';
import {
  certbotCaDropIn,
  certbotTemplateData,
  tlsCommand,
  tlsDomainFile,
  type Certbot,
} from '../../runtime/sections/certbot.js';
import { CADDY_DOMAIN_SITE, caddySiteScript } from '../../runtime/sections/caddy.js';
import { credentialsFile } from '../../runtime/sections/credentials.js';
import { afterFirstBootDropIn, firstBootReady, serviceOf, type ServiceOf } from '../../runtime/sections/services.js';
import { matchesAny } from './glob.js';
import { readDroplet, renderDroplet } from './render.js';
import { preparedRecord, prepareOps } from './first-boot-prepare.js';
import { heldBackTemplates } from './held-back.js';

export const PER_INSTANCE_DIR = '/var/lib/cloud/scripts/per-instance';

/** The login hold's sshd drop-in (sorts first, so its ForceCommand wins); armed at boot, never in the plan. */
export const holdDropIn = (slug: string): string => `/etc/ssh/sshd_config.d/00-${slug}-login-hold.conf`;

const HOLD_MESSAGE = (name: string) => `${name} is still finishing its first boot. Please log in again in a minute.`;

export { credentialsFile };

/** `ID VERSION_ID` of /etc/os-release for a DigitalOcean distribution slug, as a sh case pattern. */
function osReleasePattern(slug: string): string | undefined {
  const m = /^(ubuntu)-(\d+)-(\d+)-x64$/.exec(slug);
  if (m) return `'ubuntu ${m[2]}.${m[3]}'`;
  const n = /^(debian|rockylinux|almalinux|centos-stream)-(\d+)-x64$/.exec(slug);
  if (!n) return undefined;
  const id = { debian: 'debian', rockylinux: 'rocky', almalinux: 'almalinux', 'centos-stream': 'centos' }[n[1]];
  return `'${id} ${n[2]}' | '${id} ${n[2]}'.*`;
}

/** The MOTD text with what is known at bundle time filled in; {{ip}} stays for the login. */
export function fillMotd(text: string, m: Project['manifest'], variables: Record<string, string>): string {
  let out = text
    .replace(/\n+$/, '')
    .replaceAll('{{name}}', m.name)
    .replaceAll('{{version}}', m.version)
    .replaceAll('{{credentials}}', credentialsFile(m));
  for (const [k, v] of Object.entries(variables)) out = out.replaceAll(`{{${k}}}`, v);
  return out;
}

/** systemd expands %-specifiers in unit settings: a literal % is written %%. */
const unitText = (s: string): string => s.replaceAll('%', '%%');

type Common = Pick<Plan, 'name' | 'slug' | 'vendor' | 'version' | 'home' | 'state' | 'logs'>;

/** Each first-boot step: its script in the home folder and the per-instance wrapper cloud-init runs. */
function firstBootOps(project: Project, common: Common): Op[] {
  const ops: Op[] = [];
  for (const s of project.firstBoot) {
    const nn = String(s.order).padStart(2, '0');
    const id = `${nn}-${s.name}`;
    const script = `${common.home}/first-boot/${id}`;
    ops.push(fileOp(script, 0o755, fs.readFileSync(s.abs)));
    ops.push(
      fileOp(
        `${PER_INSTANCE_DIR}/${nn}-${common.slug}-${s.name}`,
        0o755,
        renderDroplet('first-boot-wrapper.sh.ejs', { ...common, id, script, timeout: s.timeoutS }),
      ),
    );
  }
  return ops;
}

/** The units of the manifest marked afterFirstBoot, on any of its distributions, each once. */
function afterFirstBootUnits(m: Project['manifest']): string[] {
  const units = m.distributions.flatMap((slug) => forDistro(m.services, slug, familyOf(slug)).map(serviceOf));
  return [...new Set(units.filter((u) => u.afterFirstBoot).map((u) => u.name))];
}

/**
 * The services of the manifest, (re)started after the first-boot steps, before the finish; for units
 * marked afterFirstBoot, the drop-in that keeps them stopped on a booted image until that step (a
 * plan file: both executors lay it down, status watches it, uninstall removes it).
 */
function servicesOps(m: Project['manifest'], common: Common, prepared: boolean): Op[] {
  // action:managed:unit, one shell word each (unit names are [A-Za-z0-9@._-]); managed "-" for none
  const word = (u: ServiceOf): string => `${u.firstBoot}:${u.managedDatabase ?? '-'}:${u.name}`;
  const perDistro = m.distributions.map((slug) => ({
    slug,
    units: forDistro(m.services, slug, familyOf(slug))
      .map(serviceOf)
      .filter((u) => u.firstBoot !== 'none' || u.managedDatabase !== undefined || u.afterFirstBoot)
      .map(word),
  }));
  if (!perDistro.some((d) => d.units.length)) return [];
  const cases = perDistro
    .map((d) => [osReleasePattern(d.slug), d.units] as const)
    .filter((c): c is readonly [string, string[]] => c[0] !== undefined);
  const script = `${common.home}/services`;
  const timeout = 60 * (m.firstBootTimeoutMinutes ?? 30);
  const gated = afterFirstBootUnits(m);
  const ready = gated.length ? firstBootReady(common.state) : '';
  return [
    fileOp(
      script,
      0o755,
      renderDroplet('services.sh.ejs', {
        ...common,
        cases,
        fallback: perDistro[0].units,
        ready,
        held: gated.join(' '),
        prepared: ready && prepared ? preparedRecord(common.state) : '',
      }),
    ),
    fileOp(
      `${PER_INSTANCE_DIR}/yy-${m.slug}-services`,
      0o755,
      renderDroplet('first-boot-wrapper.sh.ejs', { ...common, id: 'services', script, timeout }),
    ),
    ...gated.map((unit) =>
      fileOp(
        afterFirstBootDropIn(m.slug, unit),
        0o644,
        renderDroplet('after-first-boot.conf.ejs', { ...common, unit, ready, unitText }),
      ),
    ),
  ];
}

/**
 * The login hold. It is armed at boot by cloud-init (bootcmd) and by a unit ordered before sshd; the
 * script itself decides, so the build droplet (whose first boot ran) is never held.
 */
function holdOps(project: Project, common: Common): Op[] {
  const m = project.manifest;
  // Backstop (systemd): the hold never outlasts the time every step may take, plus a margin.
  const backstop = project.firstBoot.reduce((n, s) => n + s.timeoutS + 60, 0) + 600;
  const sys = '/etc/systemd/system';
  return [
    fileOp(
      `${common.home}/login-hold`,
      0o755,
      renderDroplet('login-hold.sh.ejs', {
        ...common,
        blocks: readDroplet('blocks.sh'),
        holdDropIn: holdDropIn(m.slug),
        message: (typeof m.loginHold === 'object' && m.loginHold?.message) || HOLD_MESSAGE(m.name),
      }),
    ),
    fileOp(`/etc/cloud/cloud.cfg.d/99-${m.slug}-login-hold.cfg`, 0o644, renderDroplet('login-hold.cfg.ejs', common)),
    fileOp(
      `${sys}/${m.slug}-login-hold.service`,
      0o644,
      renderDroplet('login-hold.service.ejs', { ...common, unitText }),
    ),
    fileOp(
      `${sys}/${m.slug}-login-hold-backstop.service`,
      0o644,
      renderDroplet('login-hold-backstop.service.ejs', { ...common, unitText }),
    ),
    fileOp(
      `${sys}/${m.slug}-login-hold-backstop.timer`,
      0o644,
      renderDroplet('login-hold-backstop.timer.ejs', { ...common, unitText, backstop }),
    ),
    {
      kind: 'link',
      path: `${sys}/multi-user.target.wants/${m.slug}-login-hold.service`,
      target: `${sys}/${m.slug}-login-hold.service`,
    },
    {
      kind: 'link',
      path: `${sys}/timers.target.wants/${m.slug}-login-hold-backstop.timer`,
      target: `${sys}/${m.slug}-login-hold-backstop.timer`,
    },
  ];
}

/**
 * $.certbot: the HTTPS command (in the home folder, linked onto root's PATH), and, for a private ACME
 * server, the drop-in that lets the renewal (certbot.timer's certbot.service) trust its HTTPS too.
 */
function tlsOps(c: Certbot, common: Common): Op[] {
  const data = certbotTemplateData(c);
  const script = `${common.home}/tls`;
  const command = tlsCommand(common.slug);
  const ops: Op[] = [
    fileOp(
      script,
      0o755,
      renderDroplet('tls.sh.ejs', { ...common, ...data, command, domainFile: tlsDomainFile(common.state) }),
    ),
    { kind: 'link', path: command, target: script },
  ];
  if (data.caRoot)
    ops.push(
      fileOp(
        certbotCaDropIn(common.slug),
        0o644,
        renderDroplet('certbot-ca.conf.ejs', { ...common, caRoot: unitText(data.caRoot) }),
      ),
    );
  return ops;
}

/** The first-login script (when there is one), its runner (with the HTTPS step of $.certbot) and the .bashrc hook. */
function firstLoginOps(firstLogin: Project['firstLogin'], common: Common, tls?: string): Op[] {
  return [
    ...(firstLogin ? [fileOp(`${common.home}/first-login.sh`, 0o755, fs.readFileSync(firstLogin.abs))] : []),
    fileOp(
      `${common.home}/first-login-run`,
      0o755,
      renderDroplet('first-login-run.sh.ejs', { ...common, tls, script: Boolean(firstLogin) }),
    ),
    {
      kind: 'block',
      path: '/root/.bashrc',
      id: `${common.slug} first-login`,
      text: renderDroplet('bashrc-block.ejs', common),
      position: 'start',
      createMode: 0o644,
      hook: 'first-login',
    },
  ];
}

function motdOps(project: Project, motdFile: Project['motd'], common: Common): Op[] {
  const m = project.manifest;
  const text = motdFile ? fillMotd(fs.readFileSync(motdFile.abs, 'utf8'), m, project.variables) : undefined;
  const after = project.motdAfter
    ? fillMotd(fs.readFileSync(project.motdAfter.abs, 'utf8'), m, project.variables)
    : undefined;
  // $.certbot: the MOTD says how to set up HTTPS, then names the https:// address.
  const tls = m.certbot
    ? {
        command: tlsCommand(m.slug),
        domainFile: tlsDomainFile(common.state),
        caName: certbotTemplateData(m.certbot).caName,
      }
    : undefined;
  // $.caddy: the MOTD says how to serve the customer's domain, then names its https:// address.
  const caddy = m.caddy ? { command: caddySiteScript(m.vendor, m.slug), domainSite: CADDY_DOMAIN_SITE } : undefined;
  const motd = renderDroplet('motd.sh.ejs', { ...common, text, after, tls, caddy });
  // apt distributions run /etc/update-motd.d at login; the RHEL family does not: a profile.d
  // snippet shows the same message to interactive login shells there.
  return [
    { ...fileOp(`/etc/update-motd.d/99-${m.slug}`, 0o755, motd), family: 'apt' },
    { ...fileOp(`${common.home}/motd`, 0o755, motd), family: 'dnf' },
    {
      ...fileOp(`/etc/profile.d/zz-${m.slug}-motd.sh`, 0o644, renderDroplet('motd-profile.sh.ejs', common)),
      family: 'dnf',
    },
  ];
}

/**
 * files/: seeded unless the manifest says the tool manages a path. A template that holds a secret is
 * not laid down at its path (the image would carry a config of placeholders where the software reads
 * it): the prepare step writes it there at first boot from its copy (first-boot-prepare.ts).
 */
function filesOps(project: Project): Op[] {
  const managed = project.manifest.files?.managed;
  const held = heldBackTemplates(project);
  const ops: Op[] = [];
  for (const f of project.files) {
    if (held.has(f.target)) continue;
    const op = fileOp(f.target, f.mode & 0o777, fs.readFileSync(f.abs));
    if (!matchesAny(f.target, managed)) (op as FileOp).seed = true;
    ops.push(op);
  }
  for (const l of project.links)
    ops.push({
      kind: 'link',
      path: l.path,
      target: l.target,
      ...(matchesAny(l.path, managed) ? {} : { seed: true as const }),
    });
  return ops;
}

/** Two operations on one path would fight each other (e.g. files/root/.bashrc and the hook). */
function refuseSharedPaths(ops: Op[]): void {
  const seen = new Map<string, Op>();
  for (const op of ops) {
    const prev = seen.get(op.path);
    if (prev && !(prev.kind === 'block' && op.kind === 'block')) {
      throw new MpimgError(`two things would be installed at ${op.path}`, {
        where: 'files/',
        hint: `remove files${op.path} from files/: mpimg manages that path`,
      });
    }
    seen.set(op.path, op);
  }
}

/** installed.json: what this install lays down (the next install and uninstall read it). */
function installedRecord(ops: Op[], m: Project['manifest'], generatorVersion: string): string {
  const state = {
    generator: generatorVersion,
    name: m.name,
    slug: m.slug,
    vendor: m.vendor,
    version: m.version,
    items: ops.map((op) => {
      switch (op.kind) {
        case 'file':
          return { path: op.path, mode: op.mode.toString(8), sha256: op.sha256, ...(op.seed ? { seeded: true } : {}) };
        case 'dir':
          return { path: op.path, mode: op.mode.toString(8), dir: true };
        case 'link':
          return { path: op.path, link: op.target };
        default:
          return { path: op.path, block: `mpimg:${op.id}` };
      }
    }),
  };
  return `${JSON.stringify(state, null, 2)}\n`;
}

export function buildPlan(project: Project, generatorVersion: string): Plan {
  const m = project.manifest;
  const home = runtimeHome(m.vendor, m.slug);
  const common: Common = {
    name: m.name,
    slug: m.slug,
    vendor: m.vendor,
    version: m.version,
    home,
    ...toolDirs(m.slug),
  };
  const finish = `${PER_INSTANCE_DIR}/zz-${m.slug}-finish`;
  const ops: Op[] = [{ kind: 'dir', path: home, mode: 0o755 }];

  ops.push(
    fileOp(
      `${home}/lib.sh`,
      0o644,
      renderDroplet('lib.sh.ejs', {
        ...common,
        blocks: readDroplet('blocks.sh'),
        credentials: credentialsFile(m),
        variables: project.variables,
        secrets: (m.secrets ?? []).map((s) => s.name),
      }),
    ),
  );
  const prepare = prepareOps(project, { ...common, timeout: 60 * (m.firstBootTimeoutMinutes ?? 30) });
  ops.push(...prepare);
  ops.push(...firstBootOps(project, common));
  ops.push(...servicesOps(m, common, prepare.length > 0));
  const hold = m.loginHold === true || (typeof m.loginHold === 'object' && m.loginHold !== null);
  // Always present: it sorts last, releases the login hold and records the result for the MOTD.
  ops.push(
    fileOp(
      finish,
      0o755,
      renderDroplet('first-boot-finish.sh.ejs', { ...common, hold, holdDropIn: holdDropIn(m.slug) }),
    ),
  );
  if (hold) ops.push(...holdOps(project, common));
  if (m.certbot) ops.push(...tlsOps(m.certbot, common));
  if (project.firstLogin || m.certbot)
    ops.push(...firstLoginOps(project.firstLogin, common, m.certbot ? `${home}/tls` : undefined));
  if (project.motd || m.certbot || m.caddy) ops.push(...motdOps(project, project.motd, common));
  ops.push(...filesOps(project));
  // $.seeded marks more paths seeded.
  for (const op of ops) {
    if ((op.kind === 'file' || op.kind === 'link') && matchesAny(op.path, m.seeded)) op.seed = true;
  }
  refuseSharedPaths(ops);
  ops.push(fileOp(`${home}/installed.json`, 0o644, installedRecord(ops, m, generatorVersion)));
  const removed = m.build?.remove;
  const anyRemoved = Array.isArray(removed) ? removed.length > 0 : Object.values(removed ?? {}).some((l) => l?.length);
  return { ...common, ops, ...(anyRemoved ? { removed } : {}) };
}
