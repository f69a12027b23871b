/**
 * `mpimg release`: points the Marketplace listing ($.listing.appId) at a new snapshot through the
 * Vendor API (PATCH /api/v1/vendor-portal/apps/{app_id}); the update then goes to DigitalOcean's review.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { distroInfo, type Manifest } from '../../runtime/manifest.js';
import { fillListing, listingPlaceholders } from '../../runtime/sections/listing.js';
import { resolveVariables } from '../../runtime/sections/variables.js';
import { buildScriptName } from '../bundle/dist-names.js';
import { buildVariables, recordedVariables, variableOverrides } from '../bundle/variables.js';
import { MpimgError } from '../../core/errors.js';
import type { DoClient } from './client.js';
import { DoApiError } from './errors.js';
import type { Image, VendorApp, VendorAppUpdate, VendorSoftware } from './types.js';

export const VENDOR_APP_PATH = '/api/v1/vendor-portal/apps/';
/**
 * Exit status of `mpimg release` when the listing cannot be updated now (an earlier update is pending
 * or in review): EX_TEMPFAIL of sysexits.h, "try again later". CI tells it from a failure by it.
 */
export const EXIT_LISTING_BUSY = 75;

/** The distribution the listing's image is built on: $.listing.distribution, else the build base. */
export function listingDistribution(m: Manifest): string {
  if (m.listing?.distribution) return m.listing.distribution;
  const img = m.droplet?.image;
  return img && !/^\d+$/.test(img) ? img : m.distributions[0];
}

/** "Ubuntu 24.04 LTS" for ubuntu-24-04-x64; $.listing.osVersion wins. */
export function osVersionOf(m: Manifest, distribution = listingDistribution(m)): string {
  if (m.listing?.osVersion) return m.listing.osVersion;
  const known = distroInfo(distribution)?.label;
  if (known) return known;
  const u = /^ubuntu-(\d+)-(\d+)-x64$/.exec(distribution);
  if (u) return `Ubuntu ${u[1]}.${u[2]}`;
  const o = /^([a-z-]+?)-(\d+)-x64$/.exec(distribution);
  const names: Record<string, string> = {
    debian: 'Debian',
    rockylinux: 'Rocky Linux',
    almalinux: 'AlmaLinux',
    'centos-stream': 'CentOS Stream',
  };
  return o ? `${names[o[1]] ?? o[1]} ${o[2]}` : distribution;
}

/**
 * The variables the image was built with, for the listing's texts: those recorded in
 * dist/<slug>-build.sh (the bundle the build used, `make bundle VAR=...` included); without one,
 * mpimg.json's defaults with MPIMG_VAR_<NAME> of the environment, as `mpimg bundle` would resolve them.
 */
export function releaseVariables(dir: string, m: Manifest, env: NodeJS.ProcessEnv = {}): Record<string, string> {
  const names = Object.keys(m.variables ?? {})
    .sort()
    .join(' ');
  const file = join(dir, 'dist', buildScriptName(m.slug));
  const recorded = existsSync(file) ? recordedVariables(readFileSync(file, 'utf8')) : undefined;
  // A bundle of other variables than mpimg.json has now is stale: not the truth about this image either.
  if (recorded && Object.keys(recorded).sort().join(' ') === names) return recorded;
  return buildVariables(m, variableOverrides(m, [], env));
}

export const SOFTWARE_FIELDS = ['name', 'version', 'releaseNotes', 'website', 'licenseType', 'licenseLink'] as const;

/**
 * The exact body of the PATCH: the image, the reason, the manifest's version, the OS, and
 * $.listing.software with {{VARIABLE}} filled in. Only what mpimg.json states is sent: for the Vendor
 * API a blank string or an empty list overwrites the listing's value and a key left out keeps it, so a
 * manifest without $.listing.software (or an entry without a website) leaves the listing's as they are.
 */
export function releaseBody(
  m: Manifest,
  imageId: number,
  reason: string,
  variables: Record<string, string> = resolveVariables(m.variables),
  installed?: Record<string, string>,
): VendorAppUpdate {
  const values = variables;
  const unknown = listingPlaceholders(m.listing ?? {}).filter((p) => !(p.name in values));
  if (unknown.length) {
    throw new MpimgError(`{{${unknown[0].name}}} in $.listing.${unknown[0].at} is not a variable of $.variables`, {
      where: 'mpimg.json',
      hint: `add "${unknown[0].name}" to $.variables or write the value itself`,
    });
  }
  const body: VendorAppUpdate = { imageId, reasonForUpdate: reason, version: m.version, osVersion: osVersionOf(m) };
  const software = m.listing?.software;
  if (software !== undefined) {
    body.softwareIncluded = software.map((s) => {
      const entry: VendorSoftware = {};
      for (const k of SOFTWARE_FIELDS) if (s[k] !== undefined) entry[k] = fillListing(s[k], values);
      // The installed version, from the image's build record (installedVersions); a plan without
      // the image's record shows where it will come from.
      if (s.package !== undefined) entry.version = installed?.[s.package] ?? `{installed version of ${s.package}}`;
      return entry;
    });
  }
  return body;
}

/** The listing's values a release body leaves as they are (for --dry-run to say so). */
export function keptListingFields(body: VendorAppUpdate): string[] {
  const kept: string[] = (['version', 'osVersion', 'softwareIncluded'] as const).filter(
    (k) => body[k] === undefined || body[k] === null,
  );
  (body.softwareIncluded ?? []).forEach((s, i) => {
    for (const k of SOFTWARE_FIELDS) if (s[k] === undefined || s[k] === null) kept.push(`softwareIncluded[${i}].${k}`);
  });
  return kept;
}

/** A listing may only point at a finished snapshot of the team that owns it. */
export async function releasableImage(client: DoClient, id: number): Promise<Image> {
  let image: Image;
  try {
    image = await client.getImage(id);
  } catch (err) {
    if (err instanceof DoApiError && err.status === 404) {
      throw new MpimgError(`image ${id} was not found in this account`, {
        where: '--image',
        hint: 'give the id of your snapshot (`doctl compute image list-user`); the token must belong to the team that owns the listing',
      });
    }
    throw err;
  }
  if (image.type !== 'snapshot') {
    throw new MpimgError(`image ${id} "${image.name}" is a ${image.type || 'non-snapshot'} image, not a snapshot`, {
      where: '--image',
      hint: 'a Marketplace listing takes a snapshot: give the id `mpimg image` printed',
    });
  }
  if (image.status !== undefined && image.status !== 'available') {
    throw new MpimgError(`image ${id} "${image.name}" is ${image.status}, not available`, {
      where: '--image',
      hint: 'wait until the snapshot is available (doctl compute image get) and run again',
    });
  }
  return image;
}

/** Sends the update; the Vendor API's refusals become errors that say what to do. */
export async function releaseToListing(client: DoClient, appId: string, body: VendorAppUpdate): Promise<VendorApp> {
  const where = `PATCH ${VENDOR_APP_PATH}${appId}`;
  try {
    return await client.updateVendorApp(appId, body);
  } catch (err) {
    if (!(err instanceof DoApiError)) throw err;
    // The API's own message, with the token taken out by the client already.
    const said = err.message.replace(/^DigitalOcean API refused .* with \d+: /, '');
    if (err.unknownEffect) {
      throw new MpimgError(
        `the update of listing ${appId} failed and it is not known whether DigitalOcean took it (${said})`,
        {
          where,
          hint: 'it was not sent again: look at the listing in the Vendor Portal before you run `mpimg release` again',
        },
      );
    }
    switch (err.status) {
      case 400:
        if (/pending|review/i.test(said)) {
          throw new MpimgError(`listing ${appId} cannot be updated now: ${said}`, {
            where,
            hint: `an earlier update is pending or in review: wait until DigitalOcean has reviewed it (Vendor Portal), then run \`mpimg release\` again (exit status ${EXIT_LISTING_BUSY}: try later)`,
            exitCode: EXIT_LISTING_BUSY,
          });
        }
        throw new MpimgError(`the Vendor API refused the update of listing ${appId} (400): ${said}`, {
          where,
          hint: 'check $.listing in mpimg.json; `mpimg release --dry-run` shows the request',
        });
      case 401:
        throw new MpimgError(`the Vendor API rejected the token (401): ${said}`, {
          where,
          hint: `${err.hint ?? 'create a new token'}; it needs write access and must belong to the team that owns the listing`,
        });
      case 403:
        // The Vendor API answers 403 for a bad token and for an app or image of another team. The
        // same token has just read the image, so it is valid and the image is its team's.
        throw new MpimgError(`the Vendor API refused the update of listing ${appId} (403): ${said}`, {
          where,
          hint: `the token read image ${body.imageId} just before, so the image is in the token's team: listing ${appId} belongs to another team, or the token has no write access. Release with a full-access token of the team that owns the listing (the team you use in the Vendor Portal), and build the image in that team`,
        });
      case 404:
        throw new MpimgError(`no Marketplace app "${appId}" for this token (404)`, {
          where: '$.listing.appId in mpimg.json',
          hint: "copy the app id from the listing's URL in the Vendor Portal; the token must belong to the team that owns the listing",
        });
      default:
        throw err;
    }
  }
}

/** dist/images.json: what `mpimg image` made, read by `mpimg release --images` (and kept as a CI artifact). */
export interface ImageRecord {
  distribution: string;
  imageId?: number;
  imageName?: string;
  verify: 'passed' | 'failed' | 'not run';
  ok: boolean;
  minutes: number;
  error?: string;
}

export const IMAGES_FILE = join('dist', 'images.json');

export function writeImageRecords(cwd: string, records: ImageRecord[], version: string): string {
  const file = join(cwd, IMAGES_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.mpimg-tmp`, `${JSON.stringify({ version, images: records }, null, 2)}\n`);
  renameSync(`${file}.mpimg-tmp`, file);
  return file;
}

/** The listing's image from dist/images.json: the row of the listing's distribution, which must have succeeded. */
export function imageFromRecords(file: string, m: Manifest): number {
  if (!existsSync(file))
    throw new MpimgError(`no ${file}`, {
      where: '--images',
      hint: 'run `mpimg image` first (it writes dist/images.json), or give --image <id>',
    });
  let rows: ImageRecord[];
  try {
    rows = (JSON.parse(readFileSync(file, 'utf8')) as { images: ImageRecord[] }).images;
    if (!Array.isArray(rows)) throw new Error('no images');
  } catch {
    throw new MpimgError(`${file} is not what \`mpimg image\` writes`, {
      where: '--images',
      hint: 'run `mpimg image` again, or give --image <id>',
    });
  }
  const dist = listingDistribution(m);
  const row = rows.find((r) => r.distribution === dist);
  if (!row || row.imageId === undefined)
    throw new MpimgError(`${file} has no image for ${dist}, the listing's distribution`, {
      where: '--images',
      hint: 'build it (`mpimg image --all`), or set $.listing.distribution',
    });
  if (!row.ok)
    throw new MpimgError(
      `the image ${row.imageId} for ${dist} did not pass (verify: ${row.verify}${row.error ? `; ${row.error}` : ''})`,
      { where: file, hint: 'fix the image and build it again; only an image that passed is released' },
    );
  return row.imageId;
}
