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

  it('the DOCKER-USER rules: one per allowed port (original, pre-DNAT port; tcp and udp where no protocol is given), read by the real iptables-restore', () => {
    const rules = dockerUserRules(GOOD.firewall);
    expect(rules.split('\n').filter((l) => l.includes('--ctorigdstport'))).toEqual([
      '-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 22 --ctdir ORIGINAL -j RETURN',
      '-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 80 --ctdir ORIGINAL -j RETURN',
      '-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 53 --ctdir ORIGINAL -j RETURN',
      '-A DOCKER-USER -p udp -m conntrack --ctorigdstport 53 --ctdir ORIGINAL -j RETURN',
      '-A DOCKER-USER -p udp -m conntrack --ctorigdstport 6000:6010 --ctdir ORIGINAL -j RETURN',
    ]);
    // loaded for real in a network namespace of the test's own, then read back
    const r = spawnSync('unshare', ['--net', 'sh', '-c', 'iptables-restore --noflush && iptables -S DOCKER-USER'], {
      input: `${rules}\n`,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      `-N DOCKER-USER\n${rules
        .split('\n')
        .filter((l) => l.startsWith('-A'))
        .join('\n')}\n`,
    );
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
    expect(text).toContain('-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 80 --ctdir ORIGINAL -j RETURN\n');
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

  it('refuses a malformed --docker', () => {
    const r = check(cleanRoot(), ['--docker', '/opt/x acme.service']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--docker: '/opt/x acme.service' is not 'UNIT.service /FOLDER'");
  });
});
