/**
 * The build record's package list and its SBOM: the listing command read against this machine's real
 * dpkg database (read only), package URLs as the purl spec encodes them (checked by parsing them back
 * with packageurl-js), and the CycloneDX document valid against the 1.6 schema through the CycloneDX
 * library's own validator.
 */
import { execFileSync } from 'node:child_process';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { describe, expect, it } from 'vitest';
import { listPackagesCommand, parsePackageList } from '../../tasks/record/packages.js';
import { purlEncode, purlOf, sbomOf } from '../../tasks/record/sbom.js';
import { RECORD_FORMAT, type BuildRecord } from '../../tasks/record/types.js';

const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
const sh = (cmd: string) => execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', maxBuffer: 64 << 20 });

const DEBIAN: BuildRecord['system'] = {
  distribution: 'debian-12-x64',
  id: 'debian',
  versionId: '12',
  prettyName: 'Debian GNU/Linux 12 (bookworm)',
  family: 'apt',
  kernel: '6.1.0-28-amd64',
};

function recordWith(system: BuildRecord['system'], packages: BuildRecord['packages']): BuildRecord {
  return {
    format: RECORD_FORMAT,
    id: '20261206T221000Z-debian-12-x64-a1b2c3',
    createdAt: '2026-12-06T22:10:00.000Z',
    project: {
      name: 'Acme "Wiki" & <Co>',
      slug: 'acme-wiki',
      version: '1.2.3',
      variables: {},
      secrets: [],
      buildSecrets: [],
      git: { commit: 'a'.repeat(40), dirty: false },
    },
    generator: { name: 'generator-mpimg', version: '0.1.0' },
    build: {
      target: 'root@203.0.113.7',
      host: '203.0.113.7',
      dropletId: null,
      startedAt: '2026-12-06T22:00:00.000Z',
      finishedAt: '2026-12-06T22:10:00.000Z',
      steps: [],
      freshen: null,
      check: null,
    },
    base: { image: system.distribution, imageId: null },
    system,
    packages,
    snapshot: null,
  };
}

describe('package URLs', () => {
  it('percent-encode what the purl spec reserves: epochs, +, and nothing unreserved', () => {
    expect(purlEncode('1:2.36-9+deb12u4')).toBe('1%3A2.36-9%2Bdeb12u4');
    expect(purlEncode('1.0~rc1_x.y')).toBe('1.0~rc1_x.y');
    expect(purlEncode("a b/c?d#e&f=g@h!'()*")).toBe('a%20b%2Fc%3Fd%23e%26f%3Dg%40h%21%27%28%29%2A');
    expect(purlOf({ name: 'libc6', version: '2.36-9+deb12u4', arch: 'amd64' }, DEBIAN, 'dpkg')).toBe(
      'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12',
    );
    expect(purlOf({ name: 'libcap2', version: '1:2.66-4', arch: 'amd64' }, DEBIAN, 'dpkg')).toBe(
      'pkg:deb/debian/libcap2@1%3A2.66-4?arch=amd64&distro=debian-12',
    );
  });

  it('an rpm epoch becomes the epoch qualifier, the vendor is the os-release ID', () => {
    const rocky = {
      ...DEBIAN,
      distribution: 'rockylinux-9-x64',
      id: 'rocky',
      versionId: '9.4',
      family: 'dnf' as const,
    };
    const purl = purlOf({ name: 'openssl', version: '1:3.0.7-27.el9', arch: 'x86_64' }, rocky, 'rpm');
    expect(purl).toBe('pkg:rpm/rocky/openssl@3.0.7-27.el9?arch=x86_64&distro=rocky-9.4&epoch=1');
    const back = PackageURL.fromString(purl);
    expect([back.type, back.namespace, back.name, back.version]).toEqual(['rpm', 'rocky', 'openssl', '3.0.7-27.el9']);
    expect(back.qualifiers).toEqual({ arch: 'x86_64', distro: 'rocky-9.4', epoch: '1' });
  });

  it('parse back (packageurl-js) to the package they name, whatever its characters', () => {
    const odd = [
      { name: 'g++-12', version: '12.2.0-14+deb12u1', arch: 'amd64' },
      { name: 'libstdc++6', version: '1:12~rc1+dfsg.1-1', arch: 'i386' },
      { name: 'x', version: '0.1-1', arch: 'all' },
    ];
    for (const p of odd) {
      const back = PackageURL.fromString(purlOf(p, DEBIAN, 'dpkg'));
      expect([back.type, back.namespace, back.name, back.version], p.name).toEqual([
        'deb',
        'debian',
        p.name,
        p.version,
      ]);
      expect(back.qualifiers).toEqual({ arch: p.arch, distro: 'debian-12' });
    }
  });
});

describe('the package list', () => {
  it("reads every installed package of this machine's dpkg database, as dpkg-query lists them", () => {
    const { database, packages } = parsePackageList(sh(listPackagesCommand('/')));
    expect(database).toBe('dpkg');
    const expected = sh("dpkg-query -W -f '${db:Status-Status} ${Package} ${Version} ${Architecture}\\n'")
      .split('\n')
      .filter((l) => l.startsWith('installed '))
      .map((l) => l.split(' ').slice(1).join(' '))
      .sort();
    expect(packages.length).toBeGreaterThan(50);
    expect(packages.map((p) => `${p.name} ${p.version} ${p.arch}`).sort()).toEqual(expected);
  });

  it('leaves out packages that are not installed (config-files) and rpm key entries; keeps rpm epochs', () => {
    const dpkg = parsePackageList(
      'database\tdpkg\ndpkg\tnano\t7.2-1\tamd64\tinstalled\ndpkg\told\t1.0\tamd64\tconfig-files\ndpkg\tgone\t\t\tnot-installed\n',
    );
    expect(dpkg).toEqual({ database: 'dpkg', packages: [{ name: 'nano', version: '7.2-1', arch: 'amd64' }] });
    const rpm = parsePackageList(
      'database\trpm\nrpm\tgpg-pubkey\t8483c65d-5ccc5b19\t(none)\tinstalled\nrpm\topenssl\t1:3.0.7-27.el9\tx86_64\tinstalled\n',
    );
    expect(rpm).toEqual({
      database: 'rpm',
      packages: [{ name: 'openssl', version: '1:3.0.7-27.el9', arch: 'x86_64' }],
    });
    expect(parsePackageList('')).toEqual({ database: null, packages: [] });
  });
});

describe('the SBOM', () => {
  it("of a record of this machine's real dpkg database is valid CycloneDX 1.6 (the CycloneDX library's validator)", async () => {
    const { database, packages } = parsePackageList(sh(listPackagesCommand('/')));
    const record = recordWith(DEBIAN, { database, count: packages.length, list: packages });
    const sbom = sbomOf(record);
    expect(await validator.validate(JSON.stringify(sbom))).toBeNull();
    const components = sbom.components as Array<{ name: string; version: string; purl?: string }>;
    // every package once, with its purl; the distribution itself as an operating-system component
    expect(components.filter((c) => c.purl).map((c) => `${c.name} ${c.version}`)).toEqual(
      packages.map((p) => `${p.name} ${p.version}`),
    );
    for (const c of components.filter((x) => x.purl)) expect(c.purl).toMatch(/^pkg:deb\/debian\/[^/]+@[^?]+\?arch=/);
    expect(components[0]).toMatchObject({ type: 'operating-system', name: 'debian', version: '12' });
  });

  it('the validator does reject a broken document (so the test above can fail)', async () => {
    const sbom = sbomOf(recordWith(DEBIAN, { database: 'dpkg', count: 0, list: [] }));
    expect(await validator.validate(JSON.stringify(sbom))).toBeNull();
    const broken = { ...sbom, components: [{ type: 'library', version: '1' }] };
    expect(await validator.validate(JSON.stringify(broken))).not.toBeNull();
  });

  it('is the same document for the same record (serial number from the record id)', () => {
    const r = recordWith(DEBIAN, { database: 'dpkg', count: 0, list: [] });
    expect(sbomOf(r)).toEqual(sbomOf(r));
    expect(sbomOf(r).serialNumber).toMatch(
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
