/**
 * What `mpimg release` takes from the released image's build record (images/<id>/record.json, the
 * record whose snapshot is that image): the installed versions of the packages $.listing.software
 * names, and when the image's packages were last upgraded (for the age warning).
 */
import type { Writable } from 'node:stream';
import { MpimgError } from '../../core/errors.js';
import type { Manifest } from '../../runtime/manifest.js';
import { DEFAULT_MAX_IMAGE_AGE_DAYS } from '../../runtime/sections/listing.js';
import { listRecords, type StoredRecord } from '../record/store.js';
import { RECORDS_DIR } from '../record/types.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The build record of a snapshot: the newest record whose snapshot id is the image's, or null. An
 * unreadable records folder stops the release only when a software version depends on it; else the
 * age is taken from the API and a warning says why.
 */
export function recordOfImage(project: string, imageId: number, m: Manifest, stderr: Writable): StoredRecord | null {
  try {
    return listRecords(project).records.find((s) => s.record.snapshot?.id === imageId) ?? null;
  } catch (err) {
    if ((m.listing?.software ?? []).some((s) => s.package !== undefined)) throw err;
    stderr.write(`warning: ${(err as Error).message}: the image's age is taken from the snapshot\n`);
    return null;
  }
}

/**
 * package name → the version installed in the image, for every $.listing.software[].package. A
 * package named without a record of the image, or missing from it, is an error: nothing is sent.
 */
export function installedVersions(m: Manifest, imageId: number, stored: StoredRecord | null): Record<string, string> {
  const out: Record<string, string> = {};
  (m.listing?.software ?? []).forEach((s, i) => {
    if (s.package === undefined) return;
    const at = `$.listing.software[${i}].package in mpimg.json`;
    if (!stored)
      throw new MpimgError(
        `image ${imageId} has no build record in ${RECORDS_DIR}/, and "${s.name}" takes its version from the package "${s.package}" installed in it`,
        {
          where: at,
          hint: `release an image built from this project folder (\`mpimg image\`, or \`make build\` then \`mpimg snapshot\`, writes its record with the snapshot id), or write "version" instead of "package"`,
        },
      );
    const versions = [
      ...new Set(stored.record.packages.list.filter((p) => p.name === s.package).map((p) => p.version)),
    ];
    const where = `${at} (build record ${RECORDS_DIR}/${stored.record.id} of image ${imageId})`;
    if (versions.length === 0)
      throw new MpimgError(`the package "${s.package}" is not installed in image ${imageId}`, {
        where,
        hint: `check the name against the record's packages.list (as \`dpkg -l\` or \`rpm -qa\` names it), or write "version" instead of "package"`,
      });
    if (versions.length > 1)
      throw new MpimgError(
        `the package "${s.package}" is installed in image ${imageId} in ${versions.length} versions (${versions.join(', ')})`,
        { where, hint: 'write "version" for this entry: the listing shows one version' },
      );
    out[s.package] = versions[0];
  });
  return out;
}

/** When the image's packages were last brought up to date, and what says so. */
export function imageSince(
  stored: StoredRecord | null,
  createdAt: string | undefined,
): { at: Date; what: string } | null {
  const freshen = stored?.record.build.freshen?.startedAt;
  if (freshen) return { at: new Date(freshen), what: `its packages were upgraded (freshen) at ${freshen}` };
  if (createdAt) return { at: new Date(createdAt), what: `the snapshot was made at ${createdAt}` };
  const snap = stored?.record.snapshot?.at;
  return snap ? { at: new Date(snap), what: `the snapshot was made at ${snap}` } : null;
}

/** A warning on stderr when the image is older than $.listing.maxImageAgeDays; the release goes on. */
export function warnImageAge(
  stderr: Writable,
  m: Manifest,
  imageId: number,
  since: { at: Date; what: string } | null,
  now: Date,
): boolean {
  if (!since || Number.isNaN(since.at.getTime())) return false;
  const max = m.listing?.maxImageAgeDays ?? DEFAULT_MAX_IMAGE_AGE_DAYS;
  const age = now.getTime() - since.at.getTime();
  if (age <= max * DAY_MS) return false;
  stderr.write(
    `warning: image ${imageId} is ${Math.floor(age / DAY_MS)} days old (${since.what}), older than $.listing.maxImageAgeDays (${max}): it may lack security updates. Releasing it anyway. To refresh: build a new image (\`mpimg image --verify\`) and release that one; \`mpimg outdated --image ${imageId}\` shows what is pending\n`,
  );
  return true;
}
