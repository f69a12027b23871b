/**
 * The firewall step of dist/<slug>-build.sh on the RHEL family, with REAL firewalld: the step runs
 * this machine's firewall-offline-cmd and nft in a root of its own (test/helpers/host-root.ts:
 * private /etc, /run, /var; /usr read-only), then that zone and the per-source limit are loaded by
 * a running firewalld (on a private D-Bus system bus) in a network namespace of the test's own,
 * where one address floods port 22 and others connect, over a veth pair (IPv4 and IPv6). Nothing
 * here reaches this machine's network, firewall, /etc or processes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { LIMIT_FILE, LIMIT_TABLE, LIMIT_UNIT } from '../../tasks/bundle/firewall-limit.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { checkJson, put, type CheckReport, type Run } from '../scripts/fixture-root.js';

const FIREWALL = { limit: ['22/tcp'], allow: ['80/tcp', '6000:6010/udp'] };

/** A private system bus for firewalld (its own socket in the root's /run; everything allowed). */
const BUS = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`;

/** Accepts and closes TCP connections on the given ports, IPv4 and IPv6. */
const SERVE = `import socket, sys, threading
def serve(fam, port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(('::' if fam == socket.AF_INET6 else '0.0.0.0', port))
    s.listen(1024)
    while True:
        c, _ = s.accept()
        c.close()
for p in map(int, sys.argv[1:]):
    for fam in (socket.AF_INET, socket.AF_INET6):
        threading.Thread(target=serve, args=(fam, p), daemon=True).start()
print('listening', flush=True)
threading.Event().wait()
`;

/** conn.py SRC DST PORT N WAIT: N connections at once from SRC; prints how many were made within WAIT s. */
const CONN = `import selectors, socket, sys, time
src, dst, port, n, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
sel = selectors.DefaultSelector()
for _ in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((src, 0))
    s.connect_ex((dst, port))
    sel.register(s, selectors.EVENT_WRITE)
made, end = 0, time.monotonic() + wait
while sel.get_map() and time.monotonic() < end:
    for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
        sel.unregister(key.fileobj)
        if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            made += 1
print(made)
`;

/**
 * The shell of one "boot" of the droplet in a fresh network namespace: the private bus, a peer
 * namespace with three IPv4 and two IPv6 source addresses on a veth pair, a server on 22, 80 and
 * 8080, then \`steps\`. Helpers: limit_unit (the unit's own ExecStart), firewalld_start/_stop,
 * conn SRC DST PORT N WAIT. Every wait is bounded; prints "key=value" lines.
 */
function boot(steps: string): string {
  return `set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
fail() { printf 'FAILED=%s\\n' "$*"; exit 1; }
waitfor() { n=0; while ! "$@" >/dev/null 2>&1; do n=$((n + 1)); [ $n -le 400 ] || return 1; sleep 0.1; done; }
mkdir -p /run/dbus
dbus-daemon --config-file=/mpimg-test/bus.conf --nofork --nopidfile >/var/log/dbus.log 2>&1 &
waitfor test -S /run/dbus/system_bus_socket || fail "the private D-Bus did not start"
ip link set lo up
unshare --net sleep 600 &
peer=$!
waitfor sh -c '[ "$(readlink /proc/$1/ns/net)" != "$(readlink /proc/self/ns/net)" ]' sh "$peer" || fail "no peer namespace"
ip link add fw0 type veth peer name fw1 netns "$peer" || fail "veth"
ip addr add 10.9.0.1/24 dev fw0
ip -6 addr add fd00:9::1/64 dev fw0 nodad
ip link set fw0 up
nsenter -t "$peer" -n sh -c 'ip link set lo up; for a in 2 3 4; do ip addr add 10.9.0.$a/24 dev fw1; done; for a in 2 3; do ip -6 addr add fd00:9::$a/64 dev fw1 nodad; done; ip link set fw1 up' || fail "peer addresses"
python3 /mpimg-test/serve.py 22 80 8080 >/var/log/serve.log 2>&1 &
waitfor grep -q listening /var/log/serve.log || fail "the server did not start"
conn() { nsenter -t "$peer" -n python3 /mpimg-test/conn.py "$@"; }
limit_unit() {
  cmd=$(sed -n 's/^ExecStart=//p' /etc/systemd/system/${LIMIT_UNIT} 2>/dev/null)
  if [ -z "$cmd" ]; then echo unit=missing; return 0; fi
  $cmd || fail "the unit's ExecStart failed"
  echo unit=loaded
}
firewalld_start() {
  firewalld --nofork --nopid --log-target=console >>/var/log/firewalld.log 2>&1 &
  fwpid=$!
  waitfor sh -c 'firewall-cmd --state | grep -qx running' || fail "firewalld did not start: $(tail -n 5 /var/log/firewalld.log)"
}
firewalld_stop() { kill "$fwpid"; waitfor sh -c '! kill -0 $1' sh "$fwpid" || fail "firewalld did not stop"; }
tables() { nft list tables | tr '\\n' ' '; }
${steps}
echo done=yes
`;
}

/** "key=value" lines of a boot's output. */
function values(r: Run): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && /^[a-z0-9_]+$/.test(line.slice(0, i))) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** One address floods port 22 (30 new connections at once); others connect once each, IPv4 and IPv6. */
const FLOOD = (tag: string, flooder = '10.9.0.2') => `
echo flood4_${tag}=$(conn ${flooder} 10.9.0.1 22 30 3)
echo other4_${tag}=$(conn 10.9.0.3 10.9.0.1 22 1 15)
echo flood6_${tag}=$(conn fd00:9::2 fd00:9::1 22 30 3)
echo other6_${tag}=$(conn fd00:9::3 fd00:9::1 22 1 15)`;

/** What a boot must show after FLOOD: the flooder limited to its burst, the others through. */
function limited(v: Record<string, string>, tag: string): void {
  for (const fam of ['4', '6']) {
    const flood = Number(v[`flood${fam}_${tag}`]);
    expect(flood, `IPv${fam} ${tag}: the flooding address is limited`).toBeGreaterThanOrEqual(1);
    expect(flood, `IPv${fam} ${tag}: the flooding address is limited`).toBeLessThanOrEqual(8);
    expect(v[`other${fam}_${tag}`], `IPv${fam} ${tag}: another address still connects`).toBe('1');
  }
}

let root: string;
let build: Run;

beforeAll(() => {
  for (const tool of ['firewalld', 'firewall-offline-cmd', 'nft', 'dbus-daemon', 'unshare', 'nsenter']) {
    if (
      spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } })
        .status !== 0
    ) {
      throw new Error(
        `${tool} is not installed: these tests run the real firewalld (Debian: apt-get install firewalld nftables dbus util-linux; .ci/run installs them)`,
      );
    }
  }
  root = hostRoot('rocky');
  put(root, 'etc/firewalld/firewalld.conf', 'DefaultZone=public\nFirewallBackend=nftables\n');
  put(root, 'mpimg-test/bus.conf', BUS);
  put(root, 'mpimg-test/serve.py', SERVE);
  put(root, 'mpimg-test/conn.py', CONN);
  const dir = makeProject({
    manifest: {
      distributions: ['rockylinux-9-x64'],
      firewall: FIREWALL,
      build: { packages: { dnf: ['firewalld'] } },
    } as Partial<Manifest>,
  });
  copyFileSync(writeBundle(loadProject(dir)).build, join(root, 'mpimg-test/build.sh'));
  build = inHostRoot(root, 'sh /mpimg-test/build.sh firewall', { net: true });
}, 180_000);

describe("the firewalld step, with real firewalld in network namespaces of the test's own", () => {
  it('writes the zone with the real firewall-offline-cmd and the per-source limit nft accepts; reads them back', () => {
    expect(build.stderr).toBe('');
    expect(build.code).toBe(0);
    for (const p of ['22/tcp', '80/tcp', '6000-6010/udp'])
      expect(build.stdout).toContain(`firewall: firewalld public: port ${p}\n`);
    for (const s of ['ssh', 'dhcpv6-client'])
      expect(build.stdout).toContain(`firewall: firewalld public: service ${s} removed`);
    expect(build.stdout).toContain(
      `firewall: per-source limit of 22/tcp: a source's new connections beyond 5, then 10/minute, are dropped; ${LIMIT_FILE}, ${LIMIT_UNIT} enabled\n`,
    );
    const zone = readFileSync(join(root, 'etc/firewalld/zones/public.xml'), 'utf8');
    expect(zone).toContain('<port port="22" protocol="tcp"/>');
    expect(zone).not.toMatch(/<service |<rule/);
    // again: nothing changes
    const again = inHostRoot(root, 'sh /mpimg-test/build.sh firewall', { net: true });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('port 22/tcp (already)');
    expect(again.stdout).toContain(`${LIMIT_UNIT} enabled (already)`);
  }, 180_000);

  it('the zone loads in a running firewalld; a flood from one address does not stop another (IPv4, IPv6); through a reload and a restart', () => {
    const r = inHostRoot(
      root,
      boot(`
limit_unit
firewalld_start
echo zone=$(firewall-cmd --get-default-zone)
echo ports=$(firewall-cmd --list-ports)
echo services=$(firewall-cmd --list-services)
echo rich=$(firewall-cmd --list-rich-rules)
echo tables=$(tables)
${FLOOD('start')}
echo allowed80=$(conn 10.9.0.2 10.9.0.1 80 30 15)
echo closed8080=$(conn 10.9.0.3 10.9.0.1 8080 1 3)
firewall-cmd --reload >/dev/null || fail "firewall-cmd --reload"
echo tables_reload=$(tables)
${FLOOD('reload', '10.9.0.4')}
firewalld_stop
firewalld_start
echo tables_restart=$(tables)
echo other4_restart=$(conn 10.9.0.3 10.9.0.1 22 1 15)
echo flood4_restart=$(conn 10.9.0.2 10.9.0.1 22 30 3)
`),
      { net: true, timeoutMs: 240_000 },
    );
    const v = values(r);
    expect(v.FAILED, r.stdout + r.stderr).toBeUndefined();
    expect(v.done, r.stdout + r.stderr).toBe('yes');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    limited(v, 'start');
    expect(v.unit).toBe('loaded');
    expect(v.zone).toBe('public');
    expect(v.ports.split(' ').sort()).toEqual(['22/tcp', '6000-6010/udp', '80/tcp']);
    expect(v.services).toBe('');
    expect(v.rich).toBe('');
    expect(v.tables).toContain(`table inet ${LIMIT_TABLE}`);
    expect(v.tables).toContain('table inet firewalld');
    // an allow rule is not limited; a port mpimg.json does not name is closed
    expect(v.allowed80).toBe('30');
    expect(v.closed8080).toBe('0');
    // firewalld replaces only its own tables: the per-source limit stays through reload and restart
    expect(v.tables_reload).toContain(`table inet ${LIMIT_TABLE}`);
    limited(v, 'reload');
    expect(v.tables_restart).toContain(`table inet ${LIMIT_TABLE}`);
    expect(v.other4_restart).toBe('1');
    expect(Number(v.flood4_restart), 'the flooding address is limited after a restart').toBeLessThanOrEqual(8);
    const log = readFileSync(join(root, 'var/log/firewalld.log'), 'utf8');
    expect(log).not.toMatch(/ERROR|Traceback/);
  }, 300_000);

  it('after a reboot (fresh namespaces; firewalld first, then the unit): still per source; the booted image check reads the loaded table', () => {
    put(root, 'mpimg-test/check.sh', readFileSync(join(process.cwd(), 'templates/droplet/99-img-check.sh')), 0o755);
    const check =
      "bash /mpimg-test/check.sh --booted --json --firewall 'limit:22/tcp allow:80/tcp allow:6000:6010/udp' >/var/log/check-$1.json 2>/var/log/check-$1.err || true";
    const r = inHostRoot(
      root,
      boot(`
check() { ${check}; }
firewalld_start
check before
limit_unit
echo tables=$(tables)
check after
${FLOOD('boot')}
`),
      { net: true, timeoutMs: 240_000 },
    );
    const v = values(r);
    expect(v.FAILED, r.stdout + r.stderr).toBeUndefined();
    limited(v, 'boot');
    expect(v.unit).toBe('loaded');
    expect(v.tables).toContain(`table inet ${LIMIT_TABLE}`);
    const fw = (when: string) =>
      (JSON.parse(readFileSync(join(root, `var/log/check-${when}.json`), 'utf8')) as CheckReport).checks.find(
        (c) => c.id === 'firewall',
      );
    // firewalld runs, the unit has not loaded the table yet: the files are right, the kernel has none
    expect(fw('before')?.status).toBe('fail');
    expect(fw('before')?.evidence).toEqual(
      expect.arrayContaining([
        'missing: limit 22/tcp per source (IPv4) (loaded)',
        'missing: limit 22/tcp per source (IPv6) (loaded)',
      ]),
    );
    expect(fw('after')?.status, JSON.stringify(fw('after'))).toBe('pass');
  }, 300_000);

  it("leaves nothing behind: no process in the root, no table in this machine's own network namespace", () => {
    expect(processesIn(root)).toEqual([]);
    const here = spawnSync('nft', ['list', 'table', 'inet', LIMIT_TABLE], { encoding: 'utf8' });
    expect(here.status).not.toBe(0);
    expect(
      execFileSync('sh', ['-c', 'grep -c " $1/" /proc/mounts || true', 'sh', root], { encoding: 'utf8' }).trim(),
    ).toBe('0');
  });

  it('the image check passes the built root, and names a per-source limit that is missing or not enabled at boot', () => {
    const args = ['--firewall', 'limit:22/tcp allow:80/tcp allow:6000:6010/udp'];
    const fw = () => checkJson(root, args).report.checks.find((c) => c.id === 'firewall');
    expect(fw()?.status, JSON.stringify(fw())).toBe('pass');
    const unit = join(root, 'etc/systemd/system/multi-user.target.wants', LIMIT_UNIT);
    const target = spawnSync('readlink', [unit], { encoding: 'utf8' }).stdout.trim();
    spawnSync('rm', [unit]);
    expect(fw()?.evidence).toContain(`missing: ${LIMIT_UNIT} enabled at boot (it loads the per-source limit)`);
    spawnSync('ln', ['-s', target, unit]);
    const file = join(root, LIMIT_FILE);
    const text = readFileSync(file, 'utf8');
    spawnSync('rm', [file]);
    expect(fw()?.status).toBe('fail');
    expect(fw()?.evidence).toEqual(
      expect.arrayContaining(['missing: limit 22/tcp per source (IPv4)', 'missing: limit 22/tcp per source (IPv6)']),
    );
    put(root, LIMIT_FILE.slice(1), text);
    expect(fw()?.status).toBe('pass');
  }, 240_000);
});
