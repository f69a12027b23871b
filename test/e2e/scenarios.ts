import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuiltImage } from './harness/build.js';
import { bootNewInstance, cloudInitBoot, runStages, STAGES, writeSeed } from './harness/cloudinit.js';
import { baseOf, e2eContext } from './harness/context.js';
import { Droplet, withDroplet, type Image } from './harness/droplet.js';
import type { Interactive } from './harness/interactive.js';
import { mountsUnder } from './harness/mounts.js';
import { SystemdBoot } from './harness/nspawn.js';
import { createProject, FAIL_FLAG, FIRST_BOOT, PROJECT, RUNS_FILE, runTask, type Project } from './harness/project.js';
import { SUITES, type Suite } from './harness/rootfs.js';
import type { BuildRecord } from '../../tasks/record/types.js';
import {
  consoleLogin,
  makeKeyPair,
  scpTo,
  sshCommand,
  sshLogin,
  startDropletSshd,
  type KeyPair,
} from './harness/ssh.js';

/**
 * The user-visible scenarios of issue 7 on one Debian release: generate a project, build an image
 * from it over SSH on a build droplet, then create droplets from that image and log into them.
 * The image is built once per file and shared by the scenarios (each droplet gets its own layer).
 */
export interface ScenarioOptions {
  suite: Suite;
  /** true: Node in the droplet (nodejs from the manifest), the .cjs bundle installs; false: the sh installer. */
  node: boolean;
  /** Also boot the image once with systemd as PID 1 (systemd-nspawn). */
  systemdBoot: boolean;
}

const S = PROJECT.slug;
const HOLD_START = `# >>> mpimg:${S} login-hold >>>`;
const HOLD_DROPIN = `etc/ssh/sshd_config.d/00-${S}-login-hold.conf`;
// sshd -t as sshd would start: with a throw-away host key (cleanup removed the image's own).
const SSHD_T =
  'mkdir -p /run/sshd; k=$(mktemp -d); ssh-keygen -q -t ed25519 -N "" -f $k/k; /usr/sbin/sshd -t -h $k/k; r=$?; rm -rf $k; exit $r';
const HOOK_START = `# >>> mpimg:${S} first-login >>>`;
const CREDENTIALS = `/root/.${S}-credentials`;
const STATE = `/var/lib/mpimg/${S}`;
const LOGS = `/var/log/mpimg/${S}`;
const DOMAIN_PROMPT = 'Domain name pointing to this droplet';
const PROMPT = /root@[\w.-]+:~# $/m;

/** Lines of a droplet file, or [] when it does not exist. */
function lines(d: Droplet, p: string): string[] {
  return existsSync(d.path(p)) ? d.read(p).split('\n').filter(Boolean) : [];
}

async function logout(s: Interactive): Promise<void> {
  s.send('exit 0\n');
  expect(await s.close()).toBe(0);
}

/** The droplet's address as `hostname -I` gives it: the fallback when the metadata service does not answer. */
async function fallbackIp(d: Droplet): Promise<string> {
  const r = await d.exec("hostname -I | awk '{ print $1 }'");
  const ip = r.stdout.trim();
  expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  return ip;
}

export function imageScenarios(opts: ScenarioOptions): void {
  const { suite } = opts;
  const installer = opts.node ? `dist/${S}.cjs (Node)` : `dist/${S}-install.sh (no Node)`;

  describe(`${suite} (${SUITES[suite]}): image built with ${installer}`, () => {
    let work: string;
    let keys: KeyPair;
    let project: Project;
    let built: BuiltImage | undefined;
    let image: Image;
    let baseBashrc: Buffer;
    let seq = 0;
    const newId = (what: string) => `i-${suite}-${what}-${Date.now().toString(36)}-${++seq}`;
    const droplet = (name: string) => Droplet.create(work, image, name);

    beforeAll(async () => {
      const ctx = e2eContext();
      work = mkdtempSync(join(ctx.runRoot, `${suite}-`));
      keys = await makeKeyPair(work);
      baseBashrc = readFileSync(join(baseOf(suite), 'root/.bashrc'));
      project = await createProject({
        dir: join(work, 'project'),
        repoRoot: ctx.repoRoot,
        suite,
        packages: opts.node ? ['hello', 'nodejs'] : ['hello'],
      });
      built = await buildImage({ work, base: { name: suite, lowers: [baseOf(suite)] }, project, keys, name: suite });
      image = built.image;
      process.stderr.write(`[e2e] ${suite}: \`mpimg run build\` took ${(built.ms / 1000).toFixed(1)} s\n`);
    });

    afterAll(async () => {
      await built?.image.release();
      if (work) expect(mountsUnder(work)).toEqual([]);
    });

    it('1. `mpimg new --yes --first-login --login-hold` + `make bundle` give a project with a first-login question and the hold', () => {
      const manifest = JSON.parse(readFileSync(join(project.dir, 'mpimg.json'), 'utf8'));
      expect(manifest).toMatchObject({ slug: S, loginHold: true, firstLogin: { file: 'first-login/first-login.sh' } });
      expect(readFileSync(join(project.dir, 'first-login/first-login.sh'), 'utf8')).toContain(DOMAIN_PROMPT);
      expect(existsSync(project.cjs) && existsSync(project.sh)).toBe(true);
      expect(project.log).toContain(`dist/${S}.cjs`);
    });

    it(`2. the project's build task builds the image over SSH (${installer}); the check reports zero failures`, async () => {
      const out = built!.output;
      for (const t of ['wait-boot', 'upgrade', 'packages', 'files', 'scripts', 'install', 'cleanup', 'check']) {
        expect(out).toContain(`[${t}] > ${t}:`);
      }
      expect(out).toMatch(/\[check\] Summary: \d+ passed, \d+ warnings, 0 failed/);
      expect(out).not.toMatch(/^\[check\] \[FAIL\]/m);
      expect(out).toContain(opts.node ? `using dist/${S}.cjs` : `using dist/${S}-install.sh (no Node 18+`);
      // The builder's private key never shows up in the build output.
      expect(out).not.toContain(readFileSync(keys.privateKey, 'utf8').split('\n')[1]);

      await withDroplet(work, image, async (d) => {
        const r = await d.exec(
          `
          stat -c '%a %n' /var/lib/cloud/scripts/per-instance/* /etc/update-motd.d/99-${S} /usr/local/bin/${S}-hello
          stat -c '%a %U %n' /etc/${S}/e2e.conf
          hello; /usr/local/bin/${S}-hello
          command -v node >/dev/null && echo "node=$(node --version)" || echo node=none
          ls /root/.ssh/authorized_keys /etc/ssh/ssh_host_*key /var/lib/cloud/instance 2>/dev/null | sed 's/^/left: /'
          find / -xdev \\( -name '${S}.cjs' -o -name '${S}-install.sh' \\) 2>/dev/null | sed 's/^/bundle: /'
          cat /etc/${S}/build-info
        `,
          { allowFail: true },
        );
        const o = r.stdout;
        for (const n of [
          '10-e2e-wiki-setup',
          '20-e2e-wiki-record',
          '30-e2e-wiki-flaky',
          '40-e2e-wiki-last',
          'zz-e2e-wiki-finish',
        ]) {
          expect(o).toContain(`755 /var/lib/cloud/scripts/per-instance/${n}`);
        }
        expect(o).toContain(`755 /etc/update-motd.d/99-${S}`);
        // a build script edited this files/ config and gave it to a service user: both survived install
        expect(o).toMatch(new RegExp(`640 nobody /etc/${S}/e2e\\.conf`));
        expect(d.read(`etc/${S}/e2e.conf`)).toBe('listen = 127.0.0.1:8080\nworkers = 4\n');
        expect(o).toContain(`755 /usr/local/bin/${S}-hello`);
        expect(o).toContain('Hello, world!');
        expect(o).toContain(`hello from ${S}`);
        expect(o).toMatch(opts.node ? /node=v\d+/ : /node=none/);
        expect(o).not.toContain('left: ');
        expect(o).not.toContain('bundle: ');
        expect(o).toContain('name=E2E Wiki');
        // The hold is armed at a new droplet's boot, not in the image's sshd config, which sshd accepts.
        expect(d.read('etc/ssh/sshd_config')).not.toContain(HOLD_START);
        expect(existsSync(d.path(HOLD_DROPIN))).toBe(false);
        expect(d.read(`etc/cloud/cloud.cfg.d/99-${S}-login-hold.cfg`)).toContain(`/opt/acme/${S}/login-hold, arm`);
        const t = await d.exec(SSHD_T, { allowFail: true });
        expect(t.code, t.stdout + t.stderr).toBe(0);
        expect(d.read('root/.bashrc')).toContain(HOOK_START);
      });
    });

    it("2b. the build wrote its record: the package list is the image's dpkg database, the SBOM is valid CycloneDX", async () => {
      const ids = readdirSync(join(project.dir, 'images'));
      expect(ids).toHaveLength(1);
      const dir = join(project.dir, 'images', ids[0]);
      const rec = JSON.parse(readFileSync(join(dir, 'record.json'), 'utf8')) as BuildRecord;
      expect(rec.system).toMatchObject({ id: 'debian', family: 'apt' });
      expect(rec.build.check).toMatchObject({ fail: 0 });
      expect(rec.build.freshen).not.toBeNull();
      await withDroplet(work, image, async (d) => {
        // what the image's own package database says, installed packages only
        const r = await d.exec("dpkg-query -W -f '${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Status}\\n'");
        const installed = r.stdout
          .split('\n')
          .filter((l) => l.endsWith('\tinstalled'))
          .map((l) => l.split('\t').slice(0, 3).join(' '))
          .sort();
        expect(installed.length).toBeGreaterThan(100);
        expect(rec.packages.database).toBe('dpkg');
        expect(rec.packages.count).toBe(installed.length);
        expect(rec.packages.list.map((p) => `${p.name} ${p.version} ${p.arch}`).sort()).toEqual(installed);
      });
      const sbom = readFileSync(join(dir, 'sbom.cdx.json'), 'utf8');
      expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(sbom)).toBeNull();
      const hello = rec.packages.list.find((p) => p.name === 'hello')!;
      expect(sbom).toContain(`"name": "hello"`);
      expect(hello.version).toMatch(/^\d/);
    });

    it('3. a new droplet: each per-instance script runs once, in order, logged; credentials 0600; hold released; seed key; reboot re-runs nothing; a new id runs again', async () => {
      const d = await droplet('new');
      try {
        // First boot up to sshd start (keys made, seed key in place), before the final stage: logins are held.
        const idA = newId('a');
        writeSeed(d, { instanceId: idA, publicKey: keys.publicKey });
        await d.boot();
        const early = await runStages(d, STAGES.slice(0, 3));
        expect(
          early.stages.map((s) => s.code),
          early.result.stdout + early.result.stderr,
        ).toEqual([0, 0, 0]);
        // armed before sshd starts, in a drop-in of its own (Debian reads sshd_config.d), and sshd accepts it
        expect(d.read(HOLD_DROPIN)).toContain('ForceCommand');
        const heldT = await d.exec(SSHD_T, { allowFail: true });
        expect(heldT.code, heldT.stdout + heldT.stderr).toBe(0);
        const sshd = await startDropletSshd(d);
        const held = await sshCommand(sshd, keys.privateKey, 'echo got-a-shell');
        expect(held.stdout).toContain('still finishing its first boot');
        expect(held.stdout).not.toContain('got-a-shell');

        // The final stage runs the per-instance scripts; the last one releases the hold of the running sshd.
        const final = await runStages(d, ['modules --mode=final']);
        expect(final.stages[0].code, final.result.stdout + final.result.stderr).toBe(0);
        expect((await sshCommand(sshd, keys.privateKey, 'echo got-a-shell')).stdout).toBe('got-a-shell\n');

        expect(lines(d, RUNS_FILE)).toEqual([`20-record ${idA}`, `30-flaky ${idA}`, `40-last ${idA}`]);
        // Not "degraded": cleanup left no dangling /var/lib/cloud/instance link (cloud-init 25.1 notices).
        const status = await d.exec('cloud-init status --long', { allowFail: true });
        expect(status.stdout).toMatch(/^status: done$/m);
        expect(status.stdout).not.toMatch(/degraded|error:/i);
        const record = lines(d, `${STATE}/first-boot.last`);
        expect(record.map((l) => l.split(' ')[0].slice(0, 2))).toEqual(FIRST_BOOT.map((f) => f.slice(0, 2)));
        expect(record.every((l) => l.endsWith(' 0'))).toBe(true);
        for (const l of record) {
          const log = d.read(`${LOGS}/${l.split(' ')[0]}.log`);
          expect(log.match(/\] start /g)).toHaveLength(1);
          expect(log).toMatch(/\] end .* exit=0/);
        }

        const cred = await d.exec(`stat -c '%a %U' ${CREDENTIALS}`);
        expect(cred.stdout.trim()).toBe('600 root');
        const password = /^ADMIN_PASSWORD='([A-Za-z0-9]+)'$/m.exec(d.read(CREDENTIALS))?.[1];
        expect(password).toMatch(/^[A-Za-z0-9]{24}$/);
        const logs = await d.exec(`cat ${LOGS}/*.log /var/log/cloud-init-output.log 2>/dev/null`, { allowFail: true });
        expect(logs.stdout).not.toContain(password!);

        expect(d.read('etc/ssh/sshd_config')).not.toContain(HOLD_START);
        expect(existsSync(d.path(HOLD_DROPIN))).toBe(false);
        expect(d.read('root/.ssh/authorized_keys')).toContain(keys.publicKey);
        // released: sshd accepts its config, and still does after something appends to it
        const releasedT = await d.exec(SSHD_T, { allowFail: true });
        expect(releasedT.code, releasedT.stdout + releasedT.stderr).toBe(0);
        d.write('etc/ssh/sshd_config', `${d.read('etc/ssh/sshd_config')}ClientAliveInterval 120\n`);
        const appendedT = await d.exec(SSHD_T, { allowFail: true });
        expect(appendedT.code, appendedT.stdout + appendedT.stderr).toBe(0);

        // The droplet knows its stage: status is happy, install refuses (it would undo first boot).
        const tool = opts.node ? `node /root/${S}.cjs` : `sh /root/${S}-install.sh`;
        copyFileSync(
          opts.node ? project.cjs : project.sh,
          d.path(`root/${opts.node ? `${S}.cjs` : `${S}-install.sh`}`),
        );
        const st = await d.exec(`${tool} status --json`, { allowFail: true });
        expect(st.code, st.stdout + st.stderr).toBe(0);
        expect(JSON.parse(st.stdout)).toMatchObject({
          ok: true,
          stage: 'first-boot-finished',
          failedSteps: [],
          firstLogin: 'pending',
        });
        const reinstall = await d.exec(`${tool} install`, { allowFail: true });
        expect(reinstall.code).toBe(1);
        expect(reinstall.stderr).toContain('install refused: this droplet already ran its first boot');
        rmSync(d.path(`root/${opts.node ? `${S}.cjs` : `${S}-install.sh`}`));

        // Reboot, same instance: nothing runs again.
        const logBefore = d.read(`${LOGS}/${record[0].split(' ')[0]}.log`);
        const again = await cloudInitBoot(d);
        expect(again.stages.map((s) => s.code)).toEqual([0, 0, 0, 0]);
        expect(lines(d, RUNS_FILE)).toEqual([`20-record ${idA}`, `30-flaky ${idA}`, `40-last ${idA}`]);
        expect(d.read(`${LOGS}/${record[0].split(' ')[0]}.log`)).toBe(logBefore);

        // A new instance id (a droplet made from a snapshot of this one): everything runs again.
        const idB = newId('b');
        const third = await bootNewInstance(d, { instanceId: idB, publicKey: keys.publicKey });
        expect(third.stages.map((s) => s.code)).toEqual([0, 0, 0, 0]);
        expect(lines(d, RUNS_FILE).slice(3)).toEqual([`20-record ${idB}`, `30-flaky ${idB}`, `40-last ${idB}`]);
      } finally {
        await d.destroy();
      }
    });

    it('4. a failing per-instance script: the others still run, logins are released, the failure is logged and shown at login', async () => {
      await withDroplet(work, image, async (d) => {
        d.write(FAIL_FLAG.slice(1), 'fail\n');
        const id = newId('fail');
        await bootNewInstance(d, { instanceId: id, publicKey: keys.publicKey });
        expect(lines(d, RUNS_FILE)).toEqual([`20-record ${id}`, `30-flaky ${id}`, `40-last ${id}`]);
        const flakyLog = d.read(`${LOGS}/30-flaky.log`);
        expect(flakyLog).toContain('30-flaky fails on purpose');
        expect(flakyLog).toMatch(/exit=3/);
        expect(d.read('etc/ssh/sshd_config')).not.toContain(HOLD_START);

        const sshd = await startDropletSshd(d);
        const s = sshLogin(sshd, keys.privateKey, 'login after a failed first boot');
        const seen = await s.expect(DOMAIN_PROMPT);
        expect(seen).toMatch(/WARNING: first-boot steps failed[\s\S]*30-flaky/); // MOTD
        expect(seen).toMatch(/Warning: some first-boot steps of E2E Wiki failed/); // first-login
        s.send('\x03');
        await s.expect(PROMPT);
        await logout(s);
      });
    });

    it('5. logins: MOTD with the droplet IP; first login asks and takes the answer; a failed first login retries; ssh cmd, scp and bash -lc never trigger it', async () => {
      await withDroplet(work, image, async (d) => {
        await bootNewInstance(d, { instanceId: newId('login'), publicKey: keys.publicKey });
        const ip = await fallbackIp(d);
        const sshd = await startDropletSshd(d);
        const motdLine = `Welcome to E2E Wiki ${PROJECT.version} at ${ip}`;

        // Non-interactive uses of root's shell: no hook, clean output, scp works.
        expect(await sshCommand(sshd, keys.privateKey, 'echo cmd-ok')).toMatchObject({ code: 0, stdout: 'cmd-ok\n' });
        expect(await sshCommand(sshd, keys.privateKey, "bash -lc 'echo login-shell-ok'")).toMatchObject({
          code: 0,
          stdout: 'login-shell-ok\n',
        });
        const local = join(work, 'scp-payload.txt');
        writeFileSync(local, 'scp payload\n');
        expect((await scpTo(sshd, keys.privateKey, local, '/root/scp-payload.txt')).code).toBe(0);
        expect(d.read('root/scp-payload.txt')).toBe('scp payload\n');
        expect(d.read('root/.bashrc')).toContain(HOOK_START);
        expect(existsSync(d.path(`etc/${S}/domain`))).toBe(false);

        // 1st login (ssh -tt): MOTD with the IP, the question; Ctrl-C leaves the hook for next time.
        let s = sshLogin(sshd, keys.privateKey, 'first login');
        let seen = await s.expect(DOMAIN_PROMPT);
        expect(seen).toContain(motdLine);
        s.send('\x03');
        seen = await s.expect(PROMPT);
        expect(seen).toMatch(/did not finish.*It will run again at your next login/);
        await logout(s);
        expect(d.read('root/.bashrc')).toContain(HOOK_START);

        // 2nd login (console, PAM login on a pty): three wrong answers fail the script; the hook stays.
        s = consoleLogin(d);
        seen = await s.expect(DOMAIN_PROMPT);
        expect(seen).toContain(motdLine);
        for (let i = 0; i < 3; i++) {
          s.send('not a domain\n');
          if (i < 2) await s.expect(DOMAIN_PROMPT);
        }
        seen = await s.expect(PROMPT);
        expect(seen).toMatch(/did not finish \(exit 1\)\. It will run again at your next login/);
        await logout(s);
        expect(d.read('root/.bashrc')).toContain(HOOK_START);

        // 3rd login: the answer is taken, the hook removes itself and leaves .bashrc as Debian shipped it.
        s = sshLogin(sshd, keys.privateKey, 'third login');
        await s.expect(DOMAIN_PROMPT);
        s.send('shop.example.com\n');
        seen = await s.expect(PROMPT);
        expect(seen).toContain('setup is complete');
        await logout(s);
        expect(d.read(`etc/${S}/domain`)).toBe('shop.example.com\n');
        expect(readFileSync(d.path('root/.bashrc'))).toEqual(baseBashrc);

        // 4th login: MOTD still there, no first-login any more.
        s = sshLogin(sshd, keys.privateKey, 'fourth login');
        seen = await s.expect(PROMPT);
        expect(seen).toContain(motdLine);
        expect(seen).not.toContain(DOMAIN_PROMPT);
        await logout(s);
      });
    });

    it('6. uninstall on a built droplet leaves /root/.bashrc byte-identical to before install', async () => {
      await withDroplet(work, image, async (d) => {
        const tool = opts.node ? `node /root/${S}.cjs` : `sh /root/${S}-install.sh`;
        copyFileSync(
          opts.node ? project.cjs : project.sh,
          d.path(`root/${opts.node ? `${S}.cjs` : `${S}-install.sh`}`),
        );
        const status = await d.exec(`${tool} status`, { allowFail: true });
        expect(status.code, status.stdout + status.stderr).toBe(0);
        expect(d.read('root/.bashrc')).toContain(HOOK_START);
        const un = await d.exec(`${tool} uninstall`, { allowFail: true });
        expect(un.code, un.stdout + un.stderr).toBe(0);
        expect(readFileSync(d.path('root/.bashrc'))).toEqual(baseBashrc);
        expect(d.read('etc/ssh/sshd_config')).not.toContain(HOLD_START);
        expect(existsSync(d.path(`var/lib/cloud/scripts/per-instance/zz-${S}-finish`))).toBe(false);
      });
    });

    if (opts.systemdBoot) {
      it('the build droplet is never held: after a testbuild, a reboot and a restarted sshd still give root a shell', async () => {
        const d = await Droplet.create(work, { name: suite, lowers: [baseOf(suite)] }, 'testbuild', 'nat');
        try {
          await bootNewInstance(d, { instanceId: newId('tb'), publicKey: keys.publicKey });
          let sshd = await startDropletSshd(d);
          const r = await runTask(
            project,
            'testbuild',
            { port: sshd.port, key: keys.privateKey, knownHosts: join(d.dir, 'known_hosts') },
            { MPIMG_SKIP_PACKAGES: '1' },
          );
          expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
          expect(existsSync(d.path(`etc/cloud/cloud.cfg.d/99-${S}-login-hold.cfg`))).toBe(true);
          // reboot, same instance: cloud-init runs its boot stages again, the hold script sees this
          // instance already ran its first boot and arms nothing
          const again = await cloudInitBoot(d);
          expect(
            again.stages.map((x) => x.code),
            again.result.stdout + again.result.stderr,
          ).toEqual([0, 0, 0, 0]);
          expect(existsSync(d.path(HOLD_DROPIN))).toBe(false);
          sshd = await startDropletSshd(d);
          expect((await sshCommand(sshd, keys.privateKey, 'echo got-a-shell')).stdout).toBe('got-a-shell\n');
        } finally {
          await d.destroy();
        }
      });

      it('boots with systemd as PID 1 (systemd-nspawn): cloud-init runs the first boot from its units and releases the hold', async () => {
        await withDroplet(work, image, async (d) => {
          const id = newId('systemd');
          writeSeed(d, { instanceId: id, publicKey: keys.publicKey });
          SystemdBoot.giveAddress(d, '192.0.2.77/24');
          const boot = SystemdBoot.start(d);
          try {
            const st = await boot.exec(
              'cloud-init status --wait >/dev/null; cloud-init status --long; cat /proc/1/comm',
              240_000,
            );
            expect(st.stdout, `${st.stdout}\n${boot.console()}`).toMatch(/status: done[\s\S]*\nsystemd\n$/);
          } finally {
            expect(await boot.poweroff()).toBe(0);
          }
          expect(lines(d, RUNS_FILE)).toEqual([`20-record ${id}`, `30-flaky ${id}`, `40-last ${id}`]);
          expect(lines(d, `${STATE}/first-boot.last`).every((l) => l.endsWith(' 0'))).toBe(true);
          expect(d.read('etc/ssh/sshd_config')).not.toContain(HOLD_START);
          expect(d.read(CREDENTIALS)).toMatch(/^ADMIN_PASSWORD=/m);
          // The example first-boot script found the droplet's address (metadata service absent: the fallback).
          expect(d.read(`etc/${S}/${S}.conf`)).toContain('public_ip=192.0.2.77');
        });
      });
    }
  });
}
