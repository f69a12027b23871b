/**
 * The SBOM beside a build record: CycloneDX 1.6 JSON listing the image's packages, each with its
 * package URL (purl spec: pkg:deb/<debian|ubuntu>/<name>@<version>?arch=..&distro=<id>-<version>,
 * pkg:rpm/<vendor>/<name>@<version>-<release>?arch=..&epoch=..&distro=..).
 */
import { createHash } from 'node:crypto';
import type { InstalledPackage } from './packages.js';
import type { BuildRecord } from './types.js';

/** A purl component: everything but the unreserved characters (A-Z a-z 0-9 . - _ ~) percent-encoded. */
export function purlEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The purl namespace and distro qualifier of a record's system: os-release ID and VERSION_ID. */
function distroOf(system: BuildRecord['system']): { namespace: string; distro: string } {
  const id = (system.id || system.distribution.split('-')[0]).toLowerCase();
  return { namespace: id, distro: system.versionId ? `${id}-${system.versionId}` : id };
}

/** The package URL of one installed package of the record's system. */
export function purlOf(p: InstalledPackage, system: BuildRecord['system'], database: 'dpkg' | 'rpm'): string {
  const { namespace, distro } = distroOf(system);
  const quals: Array<[string, string]> = [];
  let version = p.version;
  if (p.arch) quals.push(['arch', p.arch]);
  if (database === 'rpm') {
    // rpm: the epoch is a qualifier of its own, the version is version-release
    const m = /^(\d+):(.*)$/.exec(version);
    if (m) {
      quals.push(['epoch', m[1]]);
      version = m[2];
    }
  }
  quals.push(['distro', distro]);
  // qualifiers sorted by key, as the canonical form wants
  quals.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const type = database === 'rpm' ? 'rpm' : 'deb';
  const q = quals.map(([k, v]) => `${k}=${purlEncode(v)}`).join('&');
  return `pkg:${type}/${purlEncode(namespace)}/${purlEncode(p.name)}@${purlEncode(version)}?${q}`;
}

/** A version-5-shaped UUID (SHA-1 of the text): one record always gets the same serial number. */
function uuidOf(text: string): string {
  const h = createHash('sha1').update(text).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** The CycloneDX 1.6 document of a record (JSON value). */
export function sbomOf(record: BuildRecord): Record<string, unknown> {
  const db = record.packages.database ?? (record.system.family === 'dnf' ? 'rpm' : 'dpkg');
  const seen = new Set<string>();
  const components: Array<Record<string, unknown>> = [];
  for (const p of record.packages.list) {
    const purl = purlOf(p, record.system, db);
    if (seen.has(purl)) continue; // bom-refs are unique
    seen.add(purl);
    components.push({ type: 'library', 'bom-ref': purl, name: p.name, version: p.version, purl });
  }
  const os = distroOf(record.system);
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${uuidOf(`generator-mpimg record ${record.id}`)}`,
    version: 1,
    metadata: {
      timestamp: record.createdAt,
      tools: {
        components: [{ type: 'application', name: 'generator-mpimg', version: record.generator.version }],
      },
      component: {
        type: 'operating-system',
        'bom-ref': `image:${record.id}`,
        name: record.project.slug,
        version: record.project.version,
        description: `${record.project.name} image for ${record.system.distribution} (build ${record.id})`,
      },
      properties: [
        { name: 'mpimg:record', value: record.id },
        { name: 'mpimg:distribution', value: record.system.distribution },
        { name: 'mpimg:kernel', value: record.system.kernel },
        ...(record.project.git ? [{ name: 'mpimg:git-commit', value: record.project.git.commit }] : []),
      ],
    },
    components: [
      {
        type: 'operating-system',
        'bom-ref': `os:${os.distro}`,
        name: os.namespace,
        version: record.system.versionId || 'unknown',
        description: record.system.prettyName || record.system.distribution,
      },
      ...components,
    ],
  };
}
