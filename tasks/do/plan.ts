/**
 * What `mpimg image` and `mpimg release` would do, as data: the exact requests (built by the same
 * functions a run uses) and the steps between them. A dry run prints it; it needs no token and sends
 * nothing. Values only the API's answers give (the droplet's id and address, the snapshot's id) are
 * written as {droplet_id}, {droplet_ip}, {action_id}, {image_id}.
 */
import { snapshotName, type Manifest } from '../../runtime/manifest.js';
import { DEFAULT_SNAPSHOT_TIMINGS, seconds } from './snapshot.js';
import { manifestSshKeys } from './droplet-run.js';
import {
  buildDropletName,
  buildDropletRequest,
  DEFAULT_PIPELINE_TIMINGS,
  newRunId,
  runDropletName,
  runTag,
} from './pipeline.js';
import { releaseBody, VENDOR_APP_PATH } from './release.js';
import { pickSize, SIZES, verifyDropletRequest } from './verify.js';

export type PlanItem =
  { kind: 'request'; method: string; url: string; body?: unknown; note?: string } | { kind: 'step'; text: string };

/** The snapshot of one distribution of `mpimg image --all` carries the distribution in its name. */
export function snapshotNameFor(m: Manifest, now: Date, distribution?: string): string {
  const base = snapshotName(m, now);
  return distribution === undefined ? base : `${base}-${distribution.replace(/-x64$/, '')}`;
}

const ACCOUNT_KEYS = '{fingerprint of every SSH key of the account}';

export interface ImagePlanOptions {
  manifest: Manifest;
  /** The API's base URL (no /v2). */
  baseUrl: string;
  cwd: string;
  now: Date;
  /** With `mpimg image --all`: this distribution instead of the build base, and in the snapshot's name. */
  distribution?: string;
  verify?: boolean;
  release?: { appId: string; reason: string; variables: Record<string, string> };
  /** Default: a new one, as a run would make. */
  runId?: string;
}

function keysStep(m: Manifest, url: string): { keys: Array<string | number>; items: PlanItem[] } {
  const keys = manifestSshKeys(m);
  if (keys.length) return { keys, items: [] };
  return {
    keys: [ACCOUNT_KEYS],
    items: [
      {
        kind: 'request',
        method: 'GET',
        url: `${url}/v2/account/keys`,
        note: '$.droplet.sshKeys is not set: every key of the account goes into ssh_keys',
      },
    ],
  };
}

function dropletLife(url: string, label: string, tag: string, work: PlanItem[]): PlanItem[] {
  return [
    {
      kind: 'request',
      method: 'GET',
      url: `${url}/v2/droplets/{droplet_id}`,
      note: `until it is "active" with a public IPv4 (at most ${seconds(DEFAULT_PIPELINE_TIMINGS.activeTimeoutMs)})`,
    },
    ...work,
    {
      kind: 'request',
      method: 'DELETE',
      url: `${url}/v2/droplets/{droplet_id}`,
      note: `the ${label}, also after a failure or Ctrl-C; so is any other droplet tagged ${tag}`,
    },
  ];
}

function taskStep(task: string, cwd: string): PlanItem {
  return {
    kind: 'step',
    text: `\`mpimg run ${task} --host {droplet_ip} --user root --known-hosts {a known_hosts file of this run}\` in ${cwd}, without the API token in its environment`,
  };
}

/** The requests and steps of `mpimg image` for one distribution (with --verify, --release). */
export function imagePlan(o: ImagePlanOptions): PlanItem[] {
  const url = o.baseUrl;
  const runId = o.runId ?? newRunId();
  const tag = runTag(runId);
  const m: Manifest =
    o.distribution === undefined
      ? o.manifest
      : { ...o.manifest, droplet: { ...o.manifest.droplet, image: o.distribution } };
  const name = snapshotNameFor(o.manifest, o.now, o.distribution);
  const keys = keysStep(m, url);
  const create = buildDropletRequest(m, buildDropletName(m, o.now, runId), keys.keys, tag);
  const items: PlanItem[] = [
    ...keys.items,
    { kind: 'request', method: 'POST', url: `${url}/v2/droplets`, body: create, note: 'the build droplet' },
    ...dropletLife(url, 'build droplet', tag, [taskStep('build', o.cwd), ...snapshotSteps(url, name)]),
  ];
  if (o.verify) items.push(...verifyPlan(o, m, create.size));
  if (o.release)
    items.push(
      ...releasePlan({
        manifest: o.manifest,
        baseUrl: url,
        appId: o.release.appId,
        reason: o.release.reason,
        variables: o.release.variables,
      }),
    );
  return items;
}

/** Shutting the build droplet down and snapshotting it as `name` (snapshot.ts's flow). */
function snapshotSteps(url: string, name: string): PlanItem[] {
  const t = DEFAULT_SNAPSHOT_TIMINGS;
  return [
    {
      kind: 'request',
      method: 'POST',
      url: `${url}/v2/droplets/{droplet_id}/actions`,
      body: { type: 'shutdown' },
      note: `again every ${seconds(t.shutdownResendMs)} until the droplet is off; {"type":"power_off"} after ${seconds(t.shutdownTimeoutMs)}`,
    },
    { kind: 'request', method: 'GET', url: `${url}/v2/droplets/{droplet_id}`, note: 'until it is off and unlocked' },
    {
      kind: 'request',
      method: 'POST',
      url: `${url}/v2/droplets/{droplet_id}/actions`,
      body: { type: 'snapshot', name },
    },
    {
      kind: 'request',
      method: 'GET',
      url: `${url}/v2/actions/{action_id}`,
      note: `until "completed" (at most ${seconds(t.snapshotTimeoutMs)}; "errored" fails)`,
    },
    {
      kind: 'request',
      method: 'GET',
      url: `${url}/v2/droplets/{droplet_id}/snapshots`,
      note: `the new snapshot "${name}"`,
    },
    { kind: 'request', method: 'GET', url: `${url}/v2/images/{image_id}` },
  ];
}

/** --verify: a droplet made from the new snapshot, of a size whose disk fits the build droplet's. */
function verifyPlan(o: ImagePlanOptions, m: Manifest, buildSize: string): PlanItem[] {
  const url = o.baseUrl;
  const disk = SIZES.find((s) => s.slug === buildSize)?.diskGb;
  const size =
    disk === undefined ? '{the smallest size whose disk fits the image}' : pickSize(disk, m.droplet?.size).size;
  const vrun = newRunId();
  const vtag = runTag(vrun);
  const vkeys = keysStep(m, url);
  const req = {
    ...verifyDropletRequest(m, 0, size, vkeys.keys, runDropletName(m, 'verify', o.now, vrun), vtag),
    image: '{image_id}',
  };
  return [
    { kind: 'request', method: 'GET', url: `${url}/v2/images/{image_id}`, note: `available, in ${req.region}` },
    ...vkeys.items,
    {
      kind: 'request',
      method: 'POST',
      url: `${url}/v2/droplets`,
      body: req,
      note: 'a droplet made from the new snapshot',
    },
    ...dropletLife(url, 'verify droplet', vtag, [taskStep('verify', o.cwd)]),
  ];
}

/** `mpimg release`: the image check, then the PATCH of the listing. Without an id, {image_id}. */
export function releasePlan(o: {
  manifest: Manifest;
  baseUrl: string;
  appId: string;
  reason: string;
  variables: Record<string, string>;
  imageId?: number;
  /** Installed versions of $.listing.software[].package, from the image's build record. */
  installed?: Record<string, string>;
}): PlanItem[] {
  const body = releaseBody(o.manifest, o.imageId ?? 0, o.reason, o.variables, o.installed);
  return [
    {
      kind: 'request',
      method: 'GET',
      url: `${o.baseUrl}/v2/images/${o.imageId ?? '{image_id}'}`,
      note: 'a snapshot of this team, available',
    },
    {
      kind: 'request',
      method: 'PATCH',
      url: `${o.baseUrl}${VENDOR_APP_PATH}${encodeURIComponent(o.appId)}`,
      body: o.imageId === undefined ? { ...body, imageId: '{image_id}' } : body,
    },
  ];
}

/** One request per paragraph: the request line, its JSON body, a `#` note. */
export function renderPlan(items: PlanItem[], indent = ''): string {
  return items
    .map((it) => {
      if (it.kind === 'step') return `${indent}# on the droplet: ${it.text}`;
      const lines = [`${indent}${it.method} ${it.url}`];
      if (it.body !== undefined)
        lines.push(
          ...JSON.stringify(it.body, null, 2)
            .split('\n')
            .map((l) => `${indent}${l}`),
        );
      if (it.note) lines.push(`${indent}# ${it.note}`);
      return lines.join('\n');
    })
    .join('\n\n');
}
