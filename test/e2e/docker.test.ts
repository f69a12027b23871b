import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from './harness/build.js';
import { baseOf, e2eContext } from './harness/context.js';
import {
  credentialValues,
  exampleProject,
  expectedUfwRules,
  logsHolding,
  parseValues,
  SystemdDroplet,
  ufwRules,
  type ExampleProject,
} from './harness/examples.js';
import { mountsUnder } from './harness/mounts.js';
import { makeKeyPair, type KeyPair } from './harness/ssh.js';
import { startRegistry, type Registry } from './harness/registry.js';
import { buildWithSystemd } from './harness/systemd-build.js';
import { composeUnit, UFW_BLOCK_BEGIN } from '../../runtime/sections/docker.js';

/**
 * examples/compose on bookworm: Docker Engine (Debian's docker.io, compose v1) and a compose project
 * in the image, built over SSH on a build droplet that runs systemd (Docker Engine is a service),
 * then a droplet made from the image boots with systemd and real cloud-init and is checked from
 * inside. dockerd runs in both: the boots get what a droplet (a full VM) has and systemd-nspawn holds
 * back by default (the unified cgroup hierarchy, the keyring and BPF calls of runc; see
 * harness/nspawn.ts). No registry is reachable: the image compose.yaml names is made on the build
 * droplet by a build script of the test (`docker import` of Debian's busybox-static), so the
 * containers step finds it there and does not pull it, as it does for an image a vendor's build
 * script made.
 */

const SUITE = 'bookworm';
const IMAGE_REF = 'docker.io/library/busybox:1.36';
const ADDRESS = '192.0.2.40';
const OUTSIDE = '192.0.2.41';
const LEFTOVER_SECRET = 'e2e-leftover-7f3a9c';

/** The test's build script: the image of compose.yaml, made here (the bed reaches no registry). */
const MAKE_IMAGE = `#!/bin/sh
# e2e bed: no registry is reachable, so the image compose.yaml names is made here from Debian's busybox-static.
set -eu
ref='${IMAGE_REF}'
if docker image inspect "$ref" >/dev/null 2>&1; then exit 0; fi
d=$(mktemp -d)
mkdir -p "$d/bin" "$d/etc" "$d/tmp"
chmod 1777 "$d/tmp"
cp /bin/busybox "$d/bin/busybox"
for a in sh httpd; do ln -s busybox "$d/bin/$a"; done
tar -C "$d" -c . | docker import --change 'CMD ["sh"]' - "$ref"
rm -rf "$d"
# a vendor trying the app before the snapshot: a container, with a secret in its settings, left behind
docker create --name e2e-leftover --env E2E_LEFTOVER=${LEFTOVER_SECRET} "$ref" httpd -f -p 9 >/dev/null
`;

let work: string;
let keys: KeyPair;

beforeAll(async () => {
  work = mkdtempSync(join(e2eContext().runRoot, 'docker-'));
  keys = await makeKeyPair(work);
});

afterAll(() => {
  if (work) expect(mountsUnder(work)).toEqual([]);
});

describe(`examples/compose on ${SUITE}: a compose app under Docker, its images in the image, its ports under the firewall`, () => {
  const s: {
    project?: ExampleProject;
    built?: BuiltImage;
    droplet?: SystemdDroplet;
    registry?: Registry;
    pulled?: string;
  } = {};
  beforeAll(async () => {
    const ctx = e2eContext();
    // the registry of an image the build droplet does not have: pulled at build, through slirp's NAT
    s.registry = await startRegistry(join(work, 'registry'));
    const digest = await s.registry.push('e2e/pulled', '1');
    s.pulled = `10.0.2.2:${s.registry.port}/e2e/pulled:1`;
    process.stderr.write(`[e2e] examples/compose: ${s.pulled} (${digest}) in a registry on 127.0.0.1\n`);
    s.project = await exampleProject({
      name: 'compose',
      repoRoot: ctx.repoRoot,
      dir: join(work, 'compose'),
      edit: (dir, m) => {
        mkdirSync(join(dir, 'scripts'), { recursive: true });
        writeFileSync(join(dir, 'scripts/50-e2e-image.sh'), MAKE_IMAGE, { flag: 'wx' });
        chmodSync(join(dir, 'scripts/50-e2e-image.sh'), 0o755);
        // dockerd speaks plain HTTP only to a registry it is told of (the test's has no TLS)
        writeFileSync(
          join(dir, 'scripts/40-e2e-registry.sh'),
          `#!/bin/sh\nset -eu\nmkdir -p /etc/docker\nprintf '{"insecure-registries": ["10.0.2.2:${s.registry!.port}"]}\\n' >/etc/docker/daemon.json\nsystemctl restart docker.service\n`,
          { flag: 'wx' },
        );
        chmodSync(join(dir, 'scripts/40-e2e-registry.sh'), 0o755);
        // a second published port that $.firewall does not let in
        const compose = join(dir, 'files/opt/acme-compose/compose.yaml');
        const text = readFileSync(compose, 'utf8');
        expect(text).toContain("      - '80:80'\n");
        // and a service of the image only the registry has (it runs /true and is done), careless with Docker's socket
        writeFileSync(
          compose,
          text.replace("      - '80:80'\n", "      - '80:80'\n      - '8081:80'\n") +
            `  pulled:\n    image: ${s.pulled}\n    restart: 'no'\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock:ro\n`,
        );
        return {
          ...m,
          build: { ...m.build, packages: [...((m.build?.packages as string[]) ?? []), 'busybox-static'] },
        };
      },
    });
    s.built = await buildWithSystemd({
      work,
      base: { name: SUITE, lowers: [baseOf(SUITE)] },
      project: s.project,
      keys,
      name: 'docker',
      containers: true,
    });
    process.stderr.write(`[e2e] examples/compose: \`mpimg run build\` took ${(s.built.ms / 1000).toFixed(1)} s\n`);
    // gone before the droplet boots: it must need no registry
    await s.registry.stop();
    s.droplet = await SystemdDroplet.start({
      work,
      image: s.built.image,
      name: 'docker',
      slug: s.project.slug,
      instanceId: `i-docker-${Date.now().toString(36)}`,
      keys,
      address: `${ADDRESS}/24`,
      containers: true,
      // The bed's disk is an overlayfs without redirect_dir, where renaming a folder of a lower layer
      // fails (EXDEV); dockerd renames runtimes/ (the build left it) at every start to make it anew.
      // A droplet's disk renames it; here it goes before the boot, and dockerd makes it.
      prepare: (d) => rmSync(d.path('var/lib/docker/runtimes'), { recursive: true }),
      // what the test needs running: a failed start ends the boot at once, with its journal
      fixtures: ['docker.service'],
    });
  }, 20 * 60_000);
  afterAll(async () => {
    await s.registry?.stop();
    if (s.droplet) expect(await s.droplet.close()).toBe(0);
    await s.built?.image.release();
  });

  it('the build ran the containers step: compose checked the project, the image made on the build droplet was kept, not pulled', () => {
    const out = s.built!.output;
    expect(out).toContain('[containers] > containers:');
    expect(out).toContain(`image ${IMAGE_REF}: on this machine (not pulled)`);
    expect(out).not.toContain(`image ${IMAGE_REF}: pulling`);
    expect(out).toContain(`image ${s.pulled}: pulling`);
    // a careless service: Docker's socket in a container (pulled's, which runs /true), said at build
    expect(out).toContain(
      "containers: warning: /opt/acme-compose/compose.yaml mounts Docker's socket into a container: whoever gets into it is root on the droplet",
    );
    expect(out).not.toMatch(/warning: .* (is privileged|macvlan)/);
    expect(out).toMatch(/\/etc\/ufw\/after\.rules (written|unchanged): published ports/);
    expect(out).toMatch(/\[check\] Summary: \d+ passed, \d+ warnings, 0 failed/);
    // the image check (--docker, from mpimg.json) with dockerd running on the build droplet
    expect(out).toContain(
      'Docker Engine and acme-compose-compose.service enabled at boot, /opt/acme-compose/compose.yaml valid, its images on the machine; DOCKER-USER rules from the firewall',
    );
  });

  it('the image holds the unit, the DOCKER-USER block and the image, but no .env (first boot writes it)', () => {
    const lowers = s.built!.image.lowers;
    const has = (p: string) =>
      lowers.some((l) => {
        try {
          return lstatSync(join(l, p)).isFile();
        } catch {
          return false;
        }
      });
    expect(has(`etc/systemd/system/${composeUnit('acme-compose')}`)).toBe(true);
    expect(has('opt/acme-compose/compose.yaml')).toBe(true);
    expect(has('opt/acme-compose/.env')).toBe(false);
    const rules = lowers
      .map((l) => join(l, 'etc/ufw/after.rules'))
      .find((f) => {
        try {
          return lstatSync(f).isFile();
        } catch {
          return false;
        }
      });
    expect(readFileSync(rules!, 'utf8')).toContain(UFW_BLOCK_BEGIN);
  });

  it('at first boot the compose project came up after its secret was written: the site answers, /admin/ takes the password of the credentials file', async () => {
    const d = s.droplet!;
    const v = parseValues(await d.sh(credentialValues('/root/.digitalocean_passwords', ['ADMIN_PASSWORD'])));
    expect(v.ADMIN_PASSWORD).toMatch(/^[A-Za-z0-9]{24}$/);
    const out = await d.sh(`set -e
systemctl is-active ${composeUnit('acme-compose')} docker.service
stat -c '%a %U' /opt/acme-compose/.env
docker ps --format '{{.Image}} {{.Status}}'
echo "driver=$(docker info --format '{{.Driver}}')"
echo "site=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/)"
curl -s http://127.0.0.1/ | grep -c 'Acme Compose runs'
echo "noauth=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/admin/)"
. /root/.digitalocean_passwords
echo "auth=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$ADMIN_PASSWORD" http://127.0.0.1/admin/)"`);
    expect(out).toContain('active\nactive\n');
    expect(out).toContain('600 root\n');
    // docker ps names an image of Docker Hub's library by its short name
    expect(out).toMatch(/^busybox:1\.36 Up /m);
    expect(out).toContain('site=200');
    expect(out).toContain('noauth=401');
    expect(out).toContain('auth=200');
    process.stderr.write(`[e2e] examples/compose: ${/driver=\S+/.exec(out)?.[0]}\n`);
    expect(await d.sh(logsHolding(v.ADMIN_PASSWORD))).toBe('');
  });

  it('the image pulled at build came up at boot with no registry (stopped after the build; the droplet reaches none)', async () => {
    const out = await s.droplet!
      .sh(`docker ps --all --filter label=com.docker.compose.service=pulled --format '{{.Image}} {{.Status}}'
systemctl is-active ${composeUnit('acme-compose')}`);
    expect(out).toMatch(new RegExp(`^${s.pulled!.replace(/[.]/g, '\\.')} Exited \\(0\\) .*\\nactive\\n$`));
  });

  it('from outside the droplet, a published port $.firewall allows answers and one it does not is dropped; inside, both answer', async () => {
    const d = s.droplet!;
    expect(ufwRules(await d.sh('ufw status'))).toEqual(expectedUfwRules(s.project!.manifest.firewall!));
    // "outside": a network namespace of the test's own, on the other end of the droplet's eth0
    const out = await d.sh(`set -e
grep '^DEFAULT_FORWARD_POLICY=' /etc/default/ufw
iptables -S DOCKER-USER
ip netns add e2e-outside
ip link set eth0-peer netns e2e-outside
ip -n e2e-outside addr add ${OUTSIDE}/24 dev eth0-peer
ip -n e2e-outside link set eth0-peer up
ip -n e2e-outside link set lo up
echo "out80=$(ip netns exec e2e-outside curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://${ADDRESS}/ || true)"
echo "out8081=$(ip netns exec e2e-outside curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://${ADDRESS}:8081/ || true)"
echo "in8081=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:8081/)"
echo "inaddr8081=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://${ADDRESS}:8081/)"`);
    expect(out).toContain('DEFAULT_FORWARD_POLICY="DROP"');
    expect(out).toContain(
      '-A DOCKER-USER -p tcp -m conntrack --ctstate DNAT --ctorigdstport 80 --ctdir ORIGINAL -j RETURN',
    );
    expect(out).toContain('out80=200');
    expect(out).toContain('out8081=000');
    expect(out).toContain('in8081=200');
    expect(out).toContain('inaddr8081=200');
  });

  it('the DOCKER-USER rules hold through ufw reload, ufw disable and enable, and a restart of docker.service; IPv6 has them too', async () => {
    const d = s.droplet!;
    // the namespace "outside" of the test before: one probe of each published port
    const out = await d.sh(`set -e
probe() {
  for i in $(seq 50); do curl -s -o /dev/null --max-time 1 http://127.0.0.1/ && break; sleep 0.2; done
  echo "$1 out80=$(ip netns exec e2e-outside curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://${ADDRESS}/ || true) out8081=$(ip netns exec e2e-outside curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 http://${ADDRESS}:8081/ || true) first=$(iptables -S DOCKER-USER | sed -n 2p | tr ' ' _) forward=$(iptables -S FORWARD | sed -n 2p | tr ' ' _)"
}
probe boot
ufw reload >/dev/null
probe reload
ufw disable >/dev/null
probe disabled
ufw --force enable >/dev/null
probe enabled
systemctl restart docker.service
probe restart
# a neighbour routing the containers' networks through the droplet: the container's port 80 (one
# $.firewall allows on the droplet) straight at its address, no DNAT, not a published port
ip -n e2e-outside route add 172.16.0.0/12 via ${ADDRESS}
cip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $(docker ps --quiet | head -n 1))
echo "routed=$(ip netns exec e2e-outside curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 "http://$cip/" || true) local=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$cip/")"
ip6tables -S DOCKER-USER`);
    const first = '-A_DOCKER-USER_-m_conntrack_--ctstate_RELATED,ESTABLISHED_-j_RETURN';
    for (const when of ['boot', 'reload', 'disabled', 'enabled', 'restart'])
      expect(out).toContain(`${when} out80=200 out8081=000 first=${first} forward=-A_FORWARD_-j_DOCKER-USER\n`);
    expect(out).toContain(
      '-A DOCKER-USER -p tcp -m conntrack --ctstate DNAT --ctorigdstport 80 --ctdir ORIGINAL -j RETURN',
    );
    expect(out.split('\n').filter((l) => l.startsWith('-A DOCKER-USER -o docker0 -j DROP'))).toHaveLength(1);
    expect(out).toContain('routed=000 local=200\n');
  });

  it('the container the build left behind (a secret in its settings) is not in the image: cleanup removed it; the image check fails on one', async () => {
    expect(s.built!.output).toContain("remove Docker's 1 container(s)");
    const out = await s.droplet!.sh(
      `docker ps --all --format '{{.Names}}'; grep -rl ${LEFTOVER_SECRET} /var/lib/docker/containers || echo no-secret`,
    );
    expect(out).not.toContain('e2e-leftover');
    expect(out).toContain('no-secret');
    // the image check sees a container that is there (here made after boot), where dockerd answers
    const d = s.droplet!;
    writeFileSync(
      d.d.path('root/e2e-img-check.sh'),
      readFileSync(join(e2eContext().repoRoot, 'templates/droplet/99-img-check.sh')),
    );
    const json = await d.sh(`docker create --name e2e-late ${IMAGE_REF} httpd >/dev/null
bash /root/e2e-img-check.sh --booted --json --docker '${composeUnit('acme-compose')} /opt/acme-compose' || true
docker rm e2e-late >/dev/null`);
    // the project's two and the one made here
    const c = (JSON.parse(json) as { checks: Array<{ id: string; status: string; evidence?: string[] }> }).checks.find(
      (x) => x.id === 'docker',
    );
    expect(c?.status).toBe('fail');
    expect(c?.evidence).toEqual([
      '3 container(s) on the machine: the image would hold them and what they ran with at build (secrets of a .env); docker compose down before the snapshot (cleanup removes them)',
    ]);
  });
});
