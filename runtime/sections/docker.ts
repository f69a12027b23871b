/**
 * $.docker: Docker Engine with a compose project in the image. The engine comes with the packages
 * (the distribution's docker.io and compose, or Docker's docker-ce from its repository, which the
 * vendor lists in build.repositories); the compose project is a folder of $.files; the build step
 * (tasks/steps/containers.ts, templates/droplet/build/containers.sh.ejs) validates it with compose itself,
 * pulls its images that are not there yet (so a droplet's first boot needs no registry), writes the
 * unit that brings it up at boot and the firewall rules for its published ports.
 *
 * Why the firewall needs rules of its own: Docker publishes a port with a DNAT rule in the nat table,
 * so a connection to it is forwarded to the container and never passes ufw's INPUT rules; Docker
 * also puts its FORWARD rules before ufw's. DigitalOcean's own 1-click images answer that by setting
 * ufw's forward policy to ACCEPT (and open Docker's API ports), which leaves every published port open
 * to anyone. mpimg keeps ufw's forward policy and fills Docker's DOCKER-USER chain (the chain Docker
 * sends forwarded traffic through first and never flushes) from $.firewall, through a block of
 * /etc/ufw/after.rules and after6.rules, so ufw loads the rules at boot before Docker starts and
 * again on every reload: a new connection from outside to a published port passes only when its
 * port, as the client asked for it (conntrack's original destination port, before Docker's DNAT
 * rewrote it to the container's port), is one $.firewall lets in; replies and the containers' own
 * traffic pass.
 */
import type { Check } from '../schema.js';
import { DNF_SLUG_RE, dropletPath, obj, oneOf, push } from './common.js';
import { firewallRules, type Firewall } from './firewall.js';

export interface Docker {
  /** "distribution" (default): docker.io and compose of the distribution; "docker": Docker's docker-ce. */
  engine?: 'distribution' | 'docker';
  /** The droplet folder of the compose project, shipped in files/ (default /opt/<slug>). */
  project?: string;
}

/** The project folder: it stands in the unit's WorkingDirectory= and ExecStart= as it is. */
export const PROJECT_RE = /^(\/[A-Za-z0-9._-]+)+$/;

export const DOCKER_ENGINES = ['distribution', 'docker'] as const;

/** The host name of Docker's package repository (apt and dnf alike). */
export const DOCKER_REPOSITORY_HOST = 'download.docker.com';

/** The compose file names compose itself looks for, in its order of preference. */
export const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'] as const;

export const dockerProject = (d: Docker, slug: string): string => d.project ?? `/opt/${slug}`;

/** The unit that brings the compose project up at boot. */
export const composeUnit = (slug: string): string => `${slug}-compose.service`;

/** The first line of the unit and the marks of the after.rules block: the step replaces only what it wrote. */
export const DOCKER_MARK = '# generator-mpimg: $.docker of mpimg.json; written again by every build';
export const UFW_BLOCK_BEGIN = '# BEGIN generator-mpimg docker (DOCKER-USER from $.firewall)';
export const UFW_BLOCK_END = '# END generator-mpimg docker';

export const DOCKER_SCHEMA = obj(
  {
    engine: oneOf(DOCKER_ENGINES, {
      description:
        'Where Docker Engine comes from: "distribution" (default: the distribution\'s docker.io and docker-compose, apt distributions only) or "docker" (docker-ce, docker-ce-cli, containerd.io and docker-compose-plugin from Docker\'s own repository, which build.repositories must list: download.docker.com with its signing key).',
      'x-message': 'bad docker engine {value}',
      'x-hint': '"distribution" or "docker"',
    }),
    project: dropletPath(
      'The folder of the compose project on the droplet, default /opt/SLUG: a folder of files/ holding compose.yaml (or compose.yml, docker-compose.yaml, docker-compose.yml); its .env may be a $.files.templates file with {{secret.NAME}}, written at first boot. Letters, digits, ".", "_", "-" and "/" only (it stands unquoted in the unit).',
      {
        pattern: PROJECT_RE.source,
        'x-message': 'bad compose project folder {value}',
        'x-hint': 'an absolute folder of letters, digits, ".", "_", "-" and "/", e.g. "/opt/acme-app"',
      },
    ),
  },
  {
    description:
      'Docker Engine and a compose project in the image. The build installs the engine with the packages, checks the compose file with compose itself (`docker compose config`, or `docker-compose config` where the distribution ships compose v1), pulls each image of it that is not on the build droplet yet (an image a build script made, e.g. with `docker build` or `docker load`, is used as it is), and writes SLUG-compose.service, which brings the project up (`up -d`) after docker.service at boot. List that unit in $.services, with "afterFirstBoot": true when the project holds a $.files.templates file (its .env with secrets): first boot then starts it once the secrets are written. Published ports stay under $.firewall: Docker forwards them around ufw\'s own rules, so the build adds rules to Docker\'s DOCKER-USER chain (through /etc/ufw/after.rules) that let a new connection from outside reach a published port only when $.firewall allows that port (the port the client connects to, not the container\'s), with ufw\'s rate limit for a "limit" port, over IPv4 and IPv6 (after.rules and after6.rules); a container\'s own address reached by routing, not through a published port, gets nothing; ufw\'s forward policy stays DROP. On the dnf family (engine "docker" only: it ships no Docker Engine) the same rules are firewalld direct rules (firewall-offline-cmd --direct).',
    'x-check': 'docker',
  },
);

const listed = (v: unknown): unknown[] =>
  Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v).flatMap((l) => (Array.isArray(l) ? l : [])) : [];

const repositoryHost = (r: unknown): string => {
  const o = (r ?? {}) as { uris?: unknown; baseurl?: unknown };
  return `${typeof o.uris === 'string' ? o.uris : ''} ${typeof o.baseurl === 'string' ? o.baseurl : ''}`;
};

export const DOCKER_CHECKS: Record<string, Check> = {
  docker(v, at, out, root) {
    const d = v as Docker;
    if (typeof d !== 'object' || d === null) return;
    const slug = typeof root.slug === 'string' ? root.slug : 'SLUG';
    const distros = Array.isArray(root.distributions) ? root.distributions.filter((x) => typeof x === 'string') : [];
    const dnf = distros.filter((s) => DNF_SLUG_RE.test(s));
    if (dnf.length && d.engine !== 'docker')
      push(
        out,
        `${at}.engine`,
        `the dnf family ships no Docker Engine, and mpimg.json names ${dnf.join(', ')}`,
        'use "engine": "docker" (docker-ce from Docker\'s repository, https://download.docker.com/linux/centos, in build.repositories), or build on Ubuntu or Debian',
      );
    if (d.engine === 'docker') {
      const build = (root.build ?? {}) as { repositories?: unknown };
      if (!listed(build.repositories).some((r) => repositoryHost(r).includes(DOCKER_REPOSITORY_HOST)))
        push(
          out,
          `${at}.engine`,
          `engine "docker" installs docker-ce from Docker's repository, which build.repositories does not list`,
          `add it to build.repositories, e.g. {"name": "docker", "uris": "https://download.docker.com/linux/debian", "suites": ["{codename}"], "components": ["stable"], "key": {"url": "https://download.docker.com/linux/debian/gpg", "fingerprint": "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"}} (linux/ubuntu on Ubuntu), or use "engine": "distribution"`,
        );
    }
    if (!root.files || typeof root.files !== 'object')
      push(
        out,
        at,
        '$.docker needs $.files: the compose project is a folder of files/',
        `add "files": {"dir": "files"} and put the compose file at files${dockerProject(d, slug)}/compose.yaml`,
      );
    if (!root.firewall || typeof root.firewall !== 'object')
      push(
        out,
        at,
        '$.docker needs $.firewall: the ports the compose project publishes are let in only as $.firewall allows',
        'add "firewall": {"limit": ["22/tcp"], "allow": [...the published ports, e.g. "80/tcp"]}',
      );
    const unit = composeUnit(slug);
    const entries = listed(root.services).filter(
      (s) => s === unit || (typeof s === 'object' && s !== null && (s as { name?: unknown }).name === unit),
    );
    const project = dockerProject(d, slug);
    const files = (root.files ?? {}) as { templates?: unknown };
    const held = (Array.isArray(files.templates) ? files.templates : []).filter(
      (t): t is string => typeof t === 'string' && t.startsWith(`${project}/`),
    );
    if (entries.length === 0)
      push(
        out,
        at,
        `$.services does not list ${unit}, the unit that brings the compose project up`,
        `add ${held.length ? `{"name": "${unit}", "afterFirstBoot": true}` : `"${unit}"`} to "services"`,
      );
    else if (
      held.length &&
      entries.some((s) => typeof s === 'string' || !(s as { afterFirstBoot?: boolean }).afterFirstBoot)
    )
      push(
        out,
        at,
        `${unit} would start before first boot wrote ${held.join(', ')} (a template of $.files.templates in the compose project)`,
        `list it in "services" as {"name": "${unit}", "afterFirstBoot": true}`,
      );
  },
};

/** What build.packages gets for $.docker (apt: the engine and compose of the chosen source). */
export const dockerPackages = (d: Docker | undefined, family: 'apt' | 'dnf'): string[] => {
  if (!d) return [];
  if (d.engine === 'docker') return ['docker-ce', 'docker-ce-cli', 'containerd.io', 'docker-compose-plugin'];
  return family === 'apt' ? ['docker.io', 'docker-compose'] : [];
};

/**
 * The unit bringing the compose project up at boot. `compose` is the compose command the build found
 * (absolute), `file` the compose file's path. Type=oneshot with RemainAfterExit: `up -d` returns once
 * the containers run; stopping the unit stops them (Docker's restart policies keep them in between).
 */
export function composeUnitText(o: {
  slug: string;
  name: string;
  project: string;
  file: string;
  compose: string;
}): string {
  const cmd = `${o.compose} --project-name ${o.slug} --file ${o.file}`;
  return [
    DOCKER_MARK,
    '[Unit]',
    `Description=${o.name.replace(/%/g, '%%')}: the compose project of ${o.project}`,
    'Requires=docker.service',
    'After=docker.service network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `WorkingDirectory=${o.project}`,
    // never a registry at boot: the build pulled every image (a missing one fails here, visibly)
    `ExecStart=${cmd} up --detach --remove-orphans --no-build`,
    `ExecStop=${cmd} stop`,
    'TimeoutStartSec=600',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * The rules of the DOCKER-USER chain for $.firewall, as iptables-restore and ip6tables-restore read
 * them (a *filter section of its own in /etc/ufw/after.rules and after6.rules). Only a connection
 * Docker's DNAT sent on (a published port) is let in, so one routed straight to a container's
 * address (a neighbour's route to 172.17.0.0/16 through the droplet) never is. A rule "limit" keeps
 * ufw's rate limit (a 6th new connection from one address within 30 seconds is dropped), counted
 * apart from ufw's own (iptables' recent match, a list per port).
 */
export function dockerUserRules(f: Firewall): string {
  const lines = [
    '*filter',
    ':DOCKER-USER - [0:0]',
    '-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    // the containers' own traffic (default bridge and compose's networks)
    '-A DOCKER-USER -i docker0 -j RETURN',
    '-A DOCKER-USER -i br-+ -j RETURN',
  ];
  for (const r of firewallRules(f))
    for (const proto of r.proto === 'any' ? ['tcp', 'udp'] : [r.proto]) {
      const match = `-p ${proto} -m conntrack --ctstate DNAT --ctorigdstport ${r.ports} --ctdir ORIGINAL`;
      if (r.action === 'limit') {
        const list = `mpimg-dk-${proto}-${r.ports.replace(':', '-')}`;
        lines.push(
          `-A DOCKER-USER ${match} -m recent --set --name ${list}`,
          `-A DOCKER-USER ${match} -m recent --update --seconds 30 --hitcount 6 --name ${list} -j DROP`,
        );
      }
      lines.push(`-A DOCKER-USER ${match} -j RETURN`);
    }
  // what else goes to a container is dropped; other forwarded traffic stays ufw's own
  lines.push('-A DOCKER-USER -o docker0 -j DROP', '-A DOCKER-USER -o br-+ -j DROP', 'COMMIT');
  return lines.join('\n');
}

/** The rules of the DOCKER-USER chain as firewalld's direct rules take them (the arguments after the chain). */
export const dockerUserRuleArgs = (f: Firewall): string[] =>
  dockerUserRules(f)
    .split('\n')
    .filter((l) => l.startsWith('-A DOCKER-USER '))
    .map((l) => l.slice('-A DOCKER-USER '.length));

/** The block of /etc/ufw/after.rules, with its marks. */
export const ufwAfterBlock = (f: Firewall): string =>
  [UFW_BLOCK_BEGIN, dockerUserRules(f), UFW_BLOCK_END, ''].join('\n');

/** The image check's --docker argument: "UNIT FOLDER". */
export const dockerCheckArg = (d: Docker, slug: string): string => `${composeUnit(slug)} ${dockerProject(d, slug)}`;
