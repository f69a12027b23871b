/** A build record as the record step writes it, for tests of what reads records (snapshot, `mpimg images`). */
import { RECORD_FORMAT, type BuildRecord } from '../../tasks/record/types.js';

export function sampleRecord(o: {
  id: string;
  createdAt: string;
  host?: string;
  dropletId?: number | null;
  distribution?: string;
  packages?: number;
  git?: BuildRecord['project']['git'];
  root?: string;
}): BuildRecord {
  const distribution = o.distribution ?? 'debian-12-x64';
  const list = Array.from({ length: o.packages ?? 2 }, (_, i) => ({
    name: `pkg${i}`,
    version: `1.${i}-1`,
    arch: 'amd64',
  }));
  return {
    format: RECORD_FORMAT,
    id: o.id,
    createdAt: o.createdAt,
    project: {
      name: 'Acme Wiki',
      slug: 'acme-wiki',
      version: '1.2.0',
      variables: {},
      secrets: [],
      buildSecrets: [],
      git: o.git === undefined ? null : o.git,
    },
    generator: { name: 'generator-mpimg', version: '0.1.0' },
    build: {
      target: `root@${o.host ?? '203.0.113.9'}`,
      host: o.host ?? '203.0.113.9',
      ...(o.root ? { root: o.root } : {}),
      dropletId: o.dropletId ?? null,
      startedAt: o.createdAt,
      finishedAt: o.createdAt,
      steps: [],
      freshen: null,
      check: { pass: 30, warn: 1, fail: 0, skip: 2 },
    },
    base: { image: distribution, imageId: null },
    system: {
      distribution,
      id: 'debian',
      versionId: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      family: 'apt',
      kernel: '6.1.0-28-amd64',
    },
    packages: { database: 'dpkg', count: list.length, list },
    snapshot: null,
  };
}
