/**
 * $.docker: the schema's errors at their $.path (with what to do); the unit the containers step
 * writes, read by the real `systemd-analyze verify`; the DOCKER-USER rules, read by the real
 * iptables-restore in a network namespace of the test's own; the rendered build script (sh -n,
 * shellcheck) and its containers step refusing a staged root; the packages and the step's place.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { imageCheckArgs } from '../../runtime/script-args.js';
import { sectionPackages } from '../../runtime/section-packages.js';
import { composeUnitText, dockerUserRuleArgs, dockerUserRules, ufwAfterBlock } from '../../runtime/sections/docker.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildOrder } from '../../tasks/steps/index.js';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { CHECK_SCRIPT, check, checkJson, cleanRoot, put } from '../scripts/fixture-root.js';

beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('these tests run iptables-restore in a network namespace of their own: run them as root');
});

/** A manifest with Docker as the section's docs ask for it. */
const GOOD = {
  ...MINIMAL_MANIFEST,
  files: { dir: 'files', templates: ['/opt/acme-wiki/.env'] },
  firewall: { limit: ['22/tcp'], allow: ['80/tcp', '53', '6000:6010/udp'] },
  services: [{ name: 'acme-wiki-compose.service', afterFirstBoot: true }],
  docker: {},
};

const problems = (m: Record<string, unknown>) =>
  validateManifest(m).problems.map((p) => `${p.path}: ${p.message}${p.hint ? ` | ${p.hint}` : ''}`);

describe('$.docker at validate time', () => {
  it('takes the section as its docs describe it', () => {
    expect(problems(GOOD)).toEqual([]);
    const elsewhere = { ...GOOD, files: { dir: 'files', templates: ['/srv/app-1.2/.env'] } };
    expect(problems({ ...elsewhere, docker: { engine: 'distribution', project: '/srv/app-1.2' } })).toEqual([]);
  });

  it('refuses a bad engine, project folder or key at its $.path', () => {
    expect(problems({ ...GOOD, docker: { engine: 'podman' } })).toEqual([
      '$.docker.engine: bad docker engine "podman" | "distribution" or "docker"',
    ]);
    for (const bad of ['opt/app', '/opt/my app', '/opt/$(id)', '/opt/a\nb', '/opt/../etc', '/opt/app/'])
      expect(
        problems({ ...GOOD, docker: { project: bad } }).some((p) => p.startsWith('$.docker.project: ')),
        JSON.stringify(bad),
      ).toBe(true);
    expect(problems({ ...GOOD, docker: { images: [] } })[0]).toMatch(/^\$\.docker\.images: /);
  });

  it('engine "docker" needs Docker\'s repository in build.repositories, with the entry to add', () => {
    const p = problems({ ...GOOD, docker: { engine: 'docker' } });
    expect(p).toHaveLength(1);
    expect(p[0]).toContain(
      '$.docker.engine: engine "docker" installs docker-ce from Docker\'s repository, which build.repositories does not list | add it to build.repositories, e.g. {"name": "docker", "uris": "https://download.docker.com/linux/debian"',
    );
    const repo = {
      name: 'docker',
      uris: 'https://download.docker.com/linux/debian',
      suites: ['{codename}'],
      components: ['stable'],
      key: {
        url: 'https://download.docker.com/linux/debian/gpg',
        fingerprint: '9DC858229FC7DD38854AE2D88D81803C0EBFCD88',
      },
    };
    expect(problems({ ...GOOD, docker: { engine: 'docker' }, build: { repositories: [repo] } })).toEqual([]);
    expect(problems({ ...GOOD, docker: { engine: 'docker' }, build: { repositories: { apt: [repo] } } })).toEqual([]);
    // the dnf family: Docker's own engine, from its repository there
    const centos = {
      name: 'docker-ce',
      baseurl: 'https://download.docker.com/linux/centos/$releasever/$basearch/stable',
      key: {
        url: 'https://download.docker.com/linux/centos/gpg',
        fingerprint: '060A61C51B558A7F742B77AAC52FEB6B621E9F35',
      },
    };
    expect(
      problems({
        ...GOOD,
        distributions: ['rockylinux-9-x64'],
        docker: { engine: 'docker' },
        build: { repositories: { dnf: [centos] } },
      }),
    ).toEqual([]);
  });

  it('names what else Docker needs: the engine of Docker on the dnf family, files/, the firewall, the unit in $.services (held until first boot)', () => {
    expect(problems({ ...GOOD, distributions: ['debian-12-x64', 'rockylinux-9-x64'] })).toEqual([
      '$.docker.engine: the dnf family ships no Docker Engine, and mpimg.json names rockylinux-9-x64 | use "engine": "docker" (docker-ce from Docker\'s repository, https://download.docker.com/linux/centos, in build.repositories), or build on Ubuntu or Debian',
    ]);
    const { files: _f, ...noFiles } = GOOD;
    expect(problems(noFiles)).toEqual([
      '$.docker: $.docker needs $.files: the compose project is a folder of files/ | add "files": {"dir": "files"} and put the compose file at files/opt/acme-wiki/compose.yaml',
    ]);
    const { firewall: _w, ...noFirewall } = GOOD;
    expect(problems(noFirewall)).toEqual([
      '$.docker: $.docker needs $.firewall: the ports the compose project publishes are let in only as $.firewall allows | add "firewall": {"limit": ["22/tcp"], "allow": [...the published ports, e.g. "80/tcp"]}',
    ]);
    expect(problems({ ...GOOD, services: ['nginx.service'] })).toEqual([
      '$.docker: $.services does not list acme-wiki-compose.service, the unit that brings the compose project up | add {"name": "acme-wiki-compose.service", "afterFirstBoot": true} to "services"',
    ]);
    expect(problems({ ...GOOD, services: ['acme-wiki-compose.service'] })).toEqual([
      '$.docker: acme-wiki-compose.service would start before first boot wrote /opt/acme-wiki/.env (a template of $.files.templates in the compose project) | list it in "services" as {"name": "acme-wiki-compose.service", "afterFirstBoot": true}',
    ]);
    // no template in the project: a plain entry will do (per distribution too)
    expect(problems({ ...GOOD, files: { dir: 'files' }, services: { apt: ['acme-wiki-compose.service'] } })).toEqual(
      [],
    );
  });
});

describe('what the containers step writes', () => {
  it('the unit passes the real systemd-analyze verify (a % of the name is escaped)', () => {
    const dir = tempDir('mpimg-docker-unit-');
    // stand-ins: verify checks that the commands exist and that the units named are there
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'docker'), '#!/bin/sh\n');
    chmodSync(join(bin, 'docker'), 0o755);
    writeFileSync(join(dir, 'docker.service'), '[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n');
    const text = composeUnitText({
      slug: 'acme-wiki',
      name: 'Acme 100% Wiki',
      project: '/opt/acme-wiki',
      file: '/opt/acme-wiki/compose.yaml',
      compose: `${bin}/docker compose`,
    });
    expect(text).toContain('Description=Acme 100%% Wiki: the compose project of /opt/acme-wiki\n');
    expect(text).toContain(
      `ExecStart=${bin}/docker compose --project-name acme-wiki --file /opt/acme-wiki/compose.yaml up --detach --remove-orphans --no-build\n`,
    );
    writeFileSync(join(dir, 'acme-wiki-compose.service'), text);
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'acme-wiki-compose.service')], {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the DOCKER-USER rules: one per allowed port (original, pre-DNAT port; tcp and udp where no protocol is given), ufw\'s rate limit for a "limit" port, read by the real iptables-restore and ip6tables-restore', () => {
    const rules = dockerUserRules(GOOD.firewall);
    const m = '-A DOCKER-USER -p tcp -m conntrack --ctstate DNAT --ctorigdstport';
    expect(rules.split('\n').filter((l) => l.includes('--ctorigdstport'))).toEqual([
      `${m} 22 --ctdir ORIGINAL -m recent --set --name mpimg-dk-tcp-22`,
      `${m} 22 --ctdir ORIGINAL -m recent --update --seconds 30 --hitcount 6 --name mpimg-dk-tcp-22 -j DROP`,
      `${m} 22 --ctdir ORIGINAL -j RETURN`,
      `${m} 80 --ctdir ORIGINAL -j RETURN`,
      `${m} 53 --ctdir ORIGINAL -j RETURN`,
      '-A DOCKER-USER -p udp -m conntrack --ctstate DNAT --ctorigdstport 53 --ctdir ORIGINAL -j RETURN',
      '-A DOCKER-USER -p udp -m conntrack --ctstate DNAT --ctorigdstport 6000:6010 --ctdir ORIGINAL -j RETURN',
    ]);
    // loaded for real in a network namespace of the test's own, then read back (IPv4 and IPv6: the
    // recent match adds its defaults, the mask of the family and --rsource)
    for (const [ipt, mask] of [
      ['iptables', '255.255.255.255'],
      ['ip6tables', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ]) {
      const r = spawnSync('unshare', ['--net', 'sh', '-c', `${ipt}-restore --noflush && ${ipt} -S DOCKER-USER`], {
        input: `${rules}\n`,
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.replaceAll(` --mask ${mask} --rsource`, '')).toBe(
        `-N DOCKER-USER\n${rules
          .split('\n')
          .filter((l) => l.startsWith('-A'))
          .join('\n')}\n`,
      );
    }
    // firewalld's direct rules (dnf family): the same rules, the words after the chain
    expect(dockerUserRuleArgs(GOOD.firewall)).toEqual(
      rules
        .split('\n')
        .filter((l) => l.startsWith('-A DOCKER-USER '))
        .map((l) => l.slice('-A DOCKER-USER '.length)),
    );
    expect(dockerUserRuleArgs(GOOD.firewall).at(-1)).toBe('-o br-+ -j DROP');
    const block = ufwAfterBlock(GOOD.firewall);
    expect(block.startsWith('# BEGIN generator-mpimg docker')).toBe(true);
    expect(block.endsWith('# END generator-mpimg docker\n')).toBe(true);
  });
});

/**
 * A droplet with Docker in network namespaces of the test's own: H the droplet (eth0, and docker0 with
 * a "container" C behind it serving 80 and 22), O a machine outside that also routes the containers'
 * network through H; the nat and FORWARD rules Docker writes for "80:80", "8081:80" and "2222:22";
 * then the block of after.rules loaded as ufw loads it. Servers: python3's http.server; clients: curl.
 */
const DOCKER_NETNS = `set -u
block=$1
# the test's own namespaces: H the droplet, O a machine outside, C a container on H's docker0
t=mpimg-dk-$$
H=$t-h O=$t-o C=$t-c
pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; for n in $H $O $C; do ip netns del "$n" 2>/dev/null; done; }
trap cleanup EXIT
set -e
for n in $H $O $C; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add eth0 netns "$H" type veth peer name eth0 netns "$O"
ip -n "$H" link add docker0 type bridge
ip link add veth0 netns "$H" type veth peer name eth0 netns "$C"
ip -n "$H" link set veth0 master docker0
ip -n "$H" addr add 10.9.0.1/24 dev eth0
ip -n "$O" addr add 10.9.0.2/24 dev eth0
ip -n "$H" addr add 172.30.0.1/24 dev docker0
ip -n "$C" addr add 172.30.0.2/24 dev eth0
for l in "$H eth0" "$H docker0" "$H veth0" "$O eth0" "$C eth0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n "$C" route add default via 172.30.0.1
# a neighbour that routes the containers' network through the droplet
ip -n "$O" route add 172.30.0.0/24 via 10.9.0.1
ip netns exec "$H" sysctl -qw net.ipv4.ip_forward=1
# what Docker does for "8081:80", "80:80" and "2222:22": DNAT, FORWARD through DOCKER-USER, then accept
ip netns exec "$H" iptables-restore <<'R'
*nat
-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 172.30.0.2:80
-A PREROUTING -p tcp --dport 8081 -j DNAT --to-destination 172.30.0.2:80
-A PREROUTING -p tcp --dport 2222 -j DNAT --to-destination 172.30.0.2:22
COMMIT
*filter
:FORWARD DROP [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j ACCEPT
-A FORWARD -i docker0 -j ACCEPT
COMMIT
R
# the block of after.rules, as ufw loads it
ip netns exec "$H" iptables-restore --noflush <"$block"
for p in 80 22; do
  ip netns exec "$C" python3 -m http.server --bind 172.30.0.2 "$p" >/dev/null 2>&1 &
  pids="$pids $!"
done
for p in 80 22; do
  for i in $(seq 100); do ip netns exec "$C" curl -s -o /dev/null http://172.30.0.2:$p/ && break; sleep 0.1; done
done
get() { printf '%s=%s\\n' "$1" "$(ip netns exec "$O" curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 "$2" || true)"; }
get published80 http://10.9.0.1/
get published8081 http://10.9.0.1:8081/
get routed80 http://172.30.0.2/
get routed22 http://172.30.0.2:22/
for i in 1 2 3 4 5 6; do get "limited$i" http://10.9.0.1:2222/; done
`;

describe('the DOCKER-USER rules on real traffic (network namespaces, iptables, curl)', () => {
  it('let in a published port $.firewall allows, drop one it does not and a container\'s port reached by routing, and rate-limit a "limit" port like ufw', () => {
    const dir = tempDir('mpimg-docker-netns-');
    writeFileSync(join(dir, 'block'), ufwAfterBlock({ limit: ['22/tcp', '2222/tcp'], allow: ['80/tcp'] }));
    writeFileSync(join(dir, 'netns.sh'), DOCKER_NETNS);
    const r = spawnSync('bash', [join(dir, 'netns.sh'), join(dir, 'block')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      [
        'published80=200',
        // published, but not in $.firewall
        'published8081=000',
        // straight to the container's address: no DNAT, not a published port (22 and 80 are the droplet's)
        'routed80=000',
        'routed22=000',
        // "limit": ufw's 6 new connections in 30 seconds, the 6th dropped
        ...[1, 2, 3, 4, 5].map((i) => `limited${i}=200`),
        'limited6=000',
        '',
      ].join('\n'),
    );
  });
});

describe('the containers step in the build script', () => {
  function bundleWith(extra: Partial<Manifest>) {
    return writeBundle(loadProject(makeProject({ manifest: extra })));
  }

  it('passes sh -n and shellcheck; refuses a staged root, saying why; says when there is nothing to do', () => {
    const b = bundleWith({
      files: { dir: 'files' },
      firewall: { limit: ['22/tcp'], allow: ['80/tcp'] },
      services: ['acme-wiki-compose.service'],
      docker: {},
    } as Partial<Manifest>);
    expect(spawnSync('sh', ['-n', b.build]).status).toBe(0);
    const sc = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', b.build], { encoding: 'utf8' });
    expect(sc.stdout).toBe('');
    expect(sc.status).toBe(0);
    const text = readFileSync(b.build, 'utf8');
    expect(text).toContain(
      '-A DOCKER-USER -p tcp -m conntrack --ctstate DNAT --ctorigdstport 80 --ctdir ORIGINAL -j RETURN\n',
    );
    const root = tempDir('mpimg-docker-root-');
    const r = spawnSync('sh', [b.build, '--root', root, 'containers'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'error: containers: the containers step needs Docker Engine running on this machine, not a staged root',
    );
    const none = bundleWith({});
    const n = spawnSync('sh', [none.build, 'containers'], { encoding: 'utf8' });
    expect(n.stdout).toBe('containers: mpimg.json has no docker: nothing to do\n');
    expect(n.status).toBe(0);
  });

  it('runs after the build scripts (an image a script made is there) and before services (which enable the unit); the packages step installs the engine', () => {
    const order = buildOrder();
    expect(order.indexOf('containers')).toBeGreaterThan(order.indexOf('scripts'));
    expect(order.indexOf('containers')).toBeLessThan(order.indexOf('services'));
    expect(sectionPackages({ docker: {} }, 'apt')).toEqual(['docker.io', 'docker-compose']);
    expect(sectionPackages({ docker: { engine: 'docker' } }, 'apt')).toEqual([
      'docker-ce',
      'docker-ce-cli',
      'containerd.io',
      'docker-compose-plugin',
    ]);
    expect(sectionPackages({}, 'apt')).toEqual([]);
  });
});

describe('the image check with --docker (as the bundle passes $.docker)', () => {
  it('is given "UNIT FOLDER" from mpimg.json', () => {
    expect(
      imageCheckArgs({ slug: 'acme-wiki', vendor: 'acme', docker: {} }, readFileSync(CHECK_SCRIPT, 'utf8')),
    ).toEqual(expect.arrayContaining(['--docker', 'acme-wiki-compose.service /opt/acme-wiki']));
  });

  it('a staged root: passes with the engine, both units enabled, the compose file and the DOCKER-USER block; names each one missing', () => {
    const args = ['--docker', 'acme-wiki-compose.service /opt/acme-wiki'];
    const bare = cleanRoot();
    const none = checkJson(bare, args).report.checks.find((c) => c.id === 'docker');
    expect(none?.status).toBe('fail');
    expect(none?.message).toBe(
      "mpimg.json has Docker, but Docker Engine is not installed: run the build's packages step",
    );

    put(bare, 'usr/bin/docker', '#!/bin/sh\n', 0o755);
    const missing = checkJson(bare, args).report.checks.find((c) => c.id === 'docker');
    expect(missing?.status).toBe('fail');
    expect(missing?.evidence).toEqual([
      'docker.service is not enabled at boot',
      'acme-wiki-compose.service is not enabled at boot',
      '/opt/acme-wiki has no compose file',
      '/etc/ufw/after.rules has no DOCKER-USER rules of mpimg.json: published ports would bypass the firewall',
    ]);

    for (const u of ['docker.service', 'acme-wiki-compose.service'])
      put(bare, `etc/systemd/system/multi-user.target.wants/${u}`, '');
    put(bare, 'opt/acme-wiki/compose.yaml', 'services:\n  web:\n    image: busybox\n');
    put(bare, 'etc/ufw/after.rules', `*filter\nCOMMIT\n${ufwAfterBlock({ allow: ['80/tcp'] })}`);
    const ok = checkJson(bare, args).report;
    if (ok.mode !== 'staged') throw new Error(`expected a staged root, got ${ok.mode}`);
    const c = ok.checks.find((x) => x.id === 'docker');
    expect(c?.status).toBe('pass');
    expect(c?.message).toMatch(
      /^Docker Engine and acme-wiki-compose\.service enabled at boot, \/opt\/acme-wiki\/compose\.yaml valid \(compose and dockerd cannot run here: .*\); DOCKER-USER rules from the firewall$/,
    );
  });

  it("a staged root with ufw's after6.rules: fails while it lacks the DOCKER-USER block (IPv6 published ports), passes with it", () => {
    const args = ['--docker', 'acme-wiki-compose.service /opt/acme-wiki'];
    const root = cleanRoot();
    put(root, 'usr/bin/docker', '#!/bin/sh\n', 0o755);
    for (const u of ['docker.service', 'acme-wiki-compose.service'])
      put(root, `etc/systemd/system/multi-user.target.wants/${u}`, '');
    put(root, 'opt/acme-wiki/compose.yaml', 'services:\n  web:\n    image: busybox\n');
    put(root, 'etc/ufw/after.rules', `*filter\nCOMMIT\n${ufwAfterBlock({ allow: ['80/tcp'] })}`);
    put(root, 'etc/ufw/after6.rules', '*filter\nCOMMIT\n');
    const bad = checkJson(root, args).report.checks.find((c) => c.id === 'docker');
    expect(bad?.status).toBe('fail');
    expect(bad?.evidence).toEqual([
      '/etc/ufw/after6.rules has no DOCKER-USER rules of mpimg.json: ports published over IPv6 would bypass the firewall',
    ]);
    put(root, 'etc/ufw/after6.rules', `*filter\nCOMMIT\n${ufwAfterBlock({ allow: ['80/tcp'] })}`);
    expect(checkJson(root, args).report.checks.find((c) => c.id === 'docker')?.status).toBe('pass');
  });

  it('refuses a malformed --docker', () => {
    const r = check(cleanRoot(), ['--docker', '/opt/x acme.service']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--docker: '/opt/x acme.service' is not 'UNIT.service /FOLDER'");
  });
});
