import { resolve } from 'node:path';
import { apiBaseUrl, clientFor, type DoCommandDeps } from './do-support.js';
import { loadManifest } from '../do/project.js';
import type { DoClient } from '../do/client.js';
import { releasePlan, renderPlan } from '../do/plan.js';
import {
  imageFromRecords,
  IMAGES_FILE,
  keptListingFields,
  releasableImage,
  releaseBody,
  releaseToListing,
  releaseVariables,
} from '../do/release.js';
import { imageSince, installedVersions, recordOfImage, warnImageAge } from '../do/release-record.js';
import { COMMAND_SCOPES } from '../do/scopes.js';
import { MpimgError, UsageError } from '../../core/errors.js';
import { imageIdOption } from './verify.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import type { Command, CommandContext } from './types.js';
import type { Manifest } from '../../runtime/manifest.js';

const usage = `Usage: mpimg release (--image <id> | --images <file>) --reason "<text>" [--dry-run] [--if-listed] [--json]

Points your Marketplace listing ($.listing.appId of ./mpimg.json) at a new snapshot through the
DigitalOcean Vendor API; the update then goes to DigitalOcean's review. The request carries the
image id, the reason, the manifest's version, the OS of the listing's distribution and
$.listing.software (with {{VARIABLE}} filled in: the values dist/<slug>-build.sh was bundled with,
else mpimg.json's $.variables with MPIMG_VAR_<NAME> of the environment). Only what mpimg.json states
is sent: without $.listing.software (or a software field) the listing keeps what it shows. An entry
with "package" instead of "version" sends the version installed in the image, read from the image's
build record (images/<id>/record.json with its snapshot id): no record, or the package not in it, is
an error and nothing is sent.

An image older than $.listing.maxImageAgeDays (default 14: since its build's review-day upgrade, else
since the snapshot was made) gets a warning on stderr and is still released.

Before anything is sent: the image must be a snapshot of this account that is available, and the
listing fields must be valid. A PATCH is never sent twice: it is repeated only when DigitalOcean
cannot have acted on it (rate limited, or not sent at all).

Options:
  --image <id>      the snapshot to release (the id \`mpimg image\` printed)
  --images <file>   take it from what \`mpimg image\` recorded (${IMAGES_FILE}): the image of the
                    listing's distribution, which must have passed
  --reason <text>   what changed, for DigitalOcean's reviewers (required)
  --dry-run         print the exact requests and send no update; needs no token (with one, the
                    image is checked too)
  --if-listed       without $.listing.appId, say so and exit 0 (for CI)
  --json            print the listing the Vendor API answers as JSON
${projectHelp()}

Exit status: 0 released (or nothing to release with --if-listed), 1 an error, 2 wrong options,
75 the listing cannot be updated now (an earlier update is pending or in review): try again later.

Token: DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, or doctl's config (access-token; DIGITALOCEAN_CONFIG
names another config file); it needs ${COMMAND_SCOPES.release.join(', ')} and write access to the
Vendor API (a full-access token of the team that owns the listing).
API endpoint: DIGITALOCEAN_API_URL, else api-url of doctl's config, else DigitalOcean's.
`;

export type ReleaseCommandDeps = DoCommandDeps;

export interface ReleaseRequest {
  manifest: Manifest;
  imageId: number;
  reason: string;
  dryRun?: boolean;
  json?: boolean;
  /** The command's client when it has one already (`mpimg image --release`). */
  client?: DoClient;
}

/** The release itself (also the last step of `mpimg image --release`). */
export async function releaseImage(ctx: CommandContext, deps: ReleaseCommandDeps, r: ReleaseRequest): Promise<void> {
  const appId = r.manifest.listing?.appId;
  if (!appId) {
    throw new MpimgError('mpimg.json names no Marketplace listing', {
      where: '$.listing.appId in mpimg.json',
      hint: 'add "listing": {"appId": "<the id from the listing\'s URL in the Vendor Portal>"}',
    });
  }
  const variables = releaseVariables(ctx.cwd, r.manifest, ctx.env);
  // The image's build record: the installed versions of $.listing.software[].package, and its age.
  const record = recordOfImage(ctx.cwd, r.imageId, r.manifest, ctx.stderr);
  const installed = installedVersions(r.manifest, r.imageId, record);
  const body = releaseBody(r.manifest, r.imageId, r.reason, variables, installed);
  const now = deps.now?.() ?? new Date();
  if (r.dryRun) return dryRun(ctx, deps, r, appId, variables, installed, record);
  const client = r.client ?? clientFor(ctx, deps);
  const image = await releasableImage(client, r.imageId);
  warnImageAge(ctx.stderr, r.manifest, image.id, imageSince(record, image.created_at), now);
  const app = await releaseToListing(client, appId, body);
  if (r.json) ctx.stdout.write(`${JSON.stringify(app, null, 2)}\n`);
  else
    ctx.stdout.write(
      `listing ${app.appId ?? appId}${app.name ? ` "${app.name}"` : ''} now points at image ${image.id} "${image.name}" (version ${body.version}); status: ${app.status?.value ?? 'unknown'} (DigitalOcean reviews the update)\n`,
    );
}

/** --dry-run: the exact PATCH, what it leaves as it is, and the image checked when a token is at hand. */
async function dryRun(
  ctx: CommandContext,
  deps: ReleaseCommandDeps,
  r: ReleaseRequest,
  appId: string,
  variables: Record<string, string>,
  installed: Record<string, string>,
  record: ReturnType<typeof recordOfImage>,
): Promise<void> {
  const [check, patch] = releasePlan({
    manifest: r.manifest,
    baseUrl: apiBaseUrl(ctx.env),
    appId,
    reason: r.reason,
    variables,
    imageId: r.imageId,
    installed,
  });
  ctx.stdout.write(`${renderPlan([patch])}\n`);
  const kept = keptListingFields(releaseBody(r.manifest, r.imageId, r.reason, variables, installed));
  if (kept.length) ctx.stderr.write(`dry run: left out, so the listing keeps them: ${kept.join(', ')}\n`);
  let client = r.client;
  let why = '';
  try {
    client ??= clientFor(ctx, deps);
  } catch (err) {
    why = err instanceof Error ? err.message : String(err);
  }
  const now = deps.now?.() ?? new Date();
  if (!client) {
    warnImageAge(ctx.stderr, r.manifest, r.imageId, imageSince(record, undefined), now);
    ctx.stderr.write(
      `dry run: the image was not checked (${why}); a release first asks ${renderPlan([check]).split('\n')[0]}; nothing was sent\n`,
    );
    return;
  }
  const image = await releasableImage(client, r.imageId);
  warnImageAge(ctx.stderr, r.manifest, image.id, imageSince(record, image.created_at), now);
  ctx.stderr.write(`dry run: image ${image.id} "${image.name}" is an available snapshot; nothing was sent\n`);
}

export function reasonOption(v: string | undefined): string {
  const reason = v?.trim();
  if (!reason)
    throw new UsageError(
      'missing --reason "<text>"',
      'say what changed for the reviewers, e.g. --reason "Nginx 1.26, security updates"',
    );
  if (reason.length > 1000 || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(reason))
    throw new UsageError('--reason must be plain text of at most 1000 characters', 'shorten it');
  return reason;
}

export function createReleaseCommand(deps: ReleaseCommandDeps = {}): Command {
  return {
    name: 'release',
    summary: 'point the Marketplace listing at a snapshot (Vendor API)',
    usage,
    async run(argv, ctx) {
      const { values } = parseOptions(
        argv,
        {
          ...PROJECT_OPTION,
          image: { type: 'string' },
          images: { type: 'string' },
          reason: { type: 'string' },
          'dry-run': { type: 'boolean' },
          'if-listed': { type: 'boolean' },
          json: { type: 'boolean' },
        },
        { command: 'release', usage },
      );
      ctx = inProject(ctx, values.project);
      if (values.image !== undefined && values.images !== undefined)
        throw new UsageError('give --image or --images, not both', 'mpimg release --image <id> --reason "..."');
      const manifest = loadManifest(ctx.cwd);
      if (!manifest.listing?.appId && values['if-listed']) {
        ctx.stderr.write('mpimg release: mpimg.json has no $.listing.appId: nothing to release\n');
        return 0;
      }
      const reason = reasonOption(values.reason);
      const imageId =
        values.images !== undefined
          ? imageFromRecords(resolve(ctx.cwd, values.images), manifest)
          : imageIdOption(values.image);
      await releaseImage(ctx, deps, { manifest, imageId, reason, dryRun: values['dry-run'], json: values.json });
      return 0;
    },
  };
}

export default createReleaseCommand();
