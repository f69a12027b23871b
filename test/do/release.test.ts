// `mpimg release` against the API double's Vendor API: the exact request, the checks before it is
// sent, the refusals of the API in words that say what to do, the retry rules of a PATCH.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createReleaseCommand } from '../../tasks/commands/release.js';
import { osVersionOf, releaseBody } from '../../tasks/do/release.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { validateManifest, type Manifest } from '../../runtime/manifest.js';
import { apiDoublePerTest } from '../helpers/do-api-project.js';
import { FAST_RETRY, MANIFEST, TOKEN, apiEnv, captureContext, fastClock, writeManifest } from './support.js';

const APP = '5f8c0a1b2c3d4e5f6a7b8c9d';
const LISTED = {
  ...MANIFEST,
  variables: { WIKI_VERSION: '3.1.4', NGINX_VERSION: { default: '1.24.0', description: 'nginx' } },
  listing: {
    appId: APP,
    software: [
      {
        name: 'Acme Wiki',
        version: '{{WIKI_VERSION}}',
        releaseNotes: 'https://acme.example/wiki/{{WIKI_VERSION}}/notes',
        website: 'https://acme.example/',
        licenseType: 'AGPL-3.0',
        licenseLink: 'https://acme.example/license',
      },
      { name: 'Nginx', version: '{{NGINX_VERSION}}' },
    ],
  },
};

const { api, project, runner } = apiDoublePerTest({
  prefix: 'mpimg-release-',
  manifest: LISTED,
  prepare: (a) => {
    a.addApp({ appId: APP, name: 'Acme Wiki' });
  },
});
let imageId: number;
beforeEach(() => {
  imageId = api.addImage({ name: 'acme-wiki-1.2.0-20260304-050607' }).id;
});

function setup(env?: NodeJS.ProcessEnv) {
  return runner(createReleaseCommand({ clock: fastClock(), retry: FAST_RETRY }), { env });
}

const patches = () => api.requests.filter((r) => r.method === 'PATCH');

const EXPECTED_BODY = {
  reasonForUpdate: 'Wiki 3.1.4, security updates',
  version: '1.2.0',
  osVersion: 'Debian 12 (bookworm)',
  softwareIncluded: [
    {
      name: 'Acme Wiki',
      version: '3.1.4',
      releaseNotes: 'https://acme.example/wiki/3.1.4/notes',
      website: 'https://acme.example/',
      licenseType: 'AGPL-3.0',
      licenseLink: 'https://acme.example/license',
    },
    // only what mpimg.json states: the listing keeps its own releaseNotes, website and license of Nginx
    { name: 'Nginx', version: '1.24.0' },
  ],
};

function noToken(cap: { out: () => string; err: () => string }): void {
  expect(cap.out()).not.toContain(TOKEN);
  expect(cap.err()).not.toContain(TOKEN);
}

describe('mpimg release', () => {
  it('PATCHes the listing with the image, the reason, the version, the OS and the software (variables filled in)', async () => {
    const { cap, run } = setup();
    expect(await run(['--image', String(imageId), '--reason', 'Wiki 3.1.4, security updates']), cap.err()).toBe(0);
    expect(patches()).toHaveLength(1);
    expect(patches()[0]).toMatchObject({ path: `/api/v1/vendor-portal/apps/${APP}`, status: 200, authorized: true });
    expect(patches()[0].body).toEqual({ imageId, ...EXPECTED_BODY });
    // the image was looked at before
    expect(api.calls().indexOf(`GET /v2/images/${imageId}`)).toBeLessThan(
      api.calls().indexOf(`PATCH /api/v1/vendor-portal/apps/${APP}`),
    );
    expect(cap.out()).toBe(
      `listing ${APP} "Acme Wiki" now points at image ${imageId} "acme-wiki-1.2.0-20260304-050607" (version 1.2.0); status: pending (DigitalOcean reviews the update)\n`,
    );
    expect(api.apps.get(APP)).toMatchObject({
      status: 'pending',
      customData: { imageId, version: '1.2.0', osVersion: 'Debian 12 (bookworm)' },
    });
    noToken(cap);
  });

  it('--dry-run prints the exact request and sends no update', async () => {
    const { cap, run } = setup();
    expect(await run(['--image', String(imageId), '--reason', 'Wiki 3.1.4, security updates', '--dry-run'])).toBe(0);
    expect(patches()).toHaveLength(0);
    const [first, ...rest] = cap.out().split('\n');
    expect(first).toBe(`PATCH ${api.url}/api/v1/vendor-portal/apps/${APP}`);
    expect(JSON.parse(rest.join('\n'))).toEqual({ imageId, ...EXPECTED_BODY });
    expect(cap.err()).toContain('nothing was sent');
    noToken(cap);
  });

  it('sends only what mpimg.json states: without $.listing.software the listing keeps its software table (no [] or "" that would wipe it)', async () => {
    // The Vendor API: a blank string or an empty list overwrites the listing's value, a key left out keeps it.
    api.apps.get(APP)!.customData = {
      softwareIncluded: [{ name: 'Acme Wiki', version: '3.0.0', website: 'https://acme.example/' }],
    };
    writeManifest(project.dir, { ...LISTED, listing: { appId: APP } });
    let s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'security updates']), s.cap.err()).toBe(0);
    expect(patches()[0].body).toEqual({
      imageId,
      reasonForUpdate: 'security updates',
      version: '1.2.0',
      osVersion: 'Debian 12 (bookworm)',
    });
    expect(api.apps.get(APP)!.customData.softwareIncluded).toEqual([
      { name: 'Acme Wiki', version: '3.0.0', website: 'https://acme.example/' },
    ]);
    // --dry-run shows the same body and says what the listing keeps.
    api.apps.get(APP)!.status = 'approved';
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'security updates', '--dry-run'])).toBe(0);
    expect(JSON.parse(s.cap.out().split('\n').slice(1).join('\n'))).toEqual(patches()[0].body);
    expect(s.cap.err()).toContain('dry run: left out, so the listing keeps them: softwareIncluded\n');
    // An entry without some fields sends only those it has; the dry run names the others.
    writeManifest(project.dir, LISTED);
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x', '--dry-run'])).toBe(0);
    expect(JSON.parse(s.cap.out().split('\n').slice(1).join('\n')).softwareIncluded[1]).toEqual({
      name: 'Nginx',
      version: '1.24.0',
    });
    expect(s.cap.err()).toContain(
      'softwareIncluded[1].releaseNotes, softwareIncluded[1].website, softwareIncluded[1].licenseType, softwareIncluded[1].licenseLink',
    );
    expect(patches()).toHaveLength(1);
  });

  it('--dry-run needs no token: it prints the exact request and says the image was not checked', async () => {
    const { cap, run } = setup({
      HOME: project.dir,
      XDG_CONFIG_HOME: join(project.dir, '.config'),
      PATH: process.env.PATH,
    });
    expect(
      await run(['--image', String(imageId), '--reason', 'Wiki 3.1.4, security updates', '--dry-run']),
      cap.err(),
    ).toBe(0);
    const [first, ...rest] = cap.out().split('\n');
    expect(first).toBe(`PATCH https://api.digitalocean.com/api/v1/vendor-portal/apps/${APP}`);
    expect(JSON.parse(rest.join('\n'))).toEqual({ imageId, ...EXPECTED_BODY });
    expect(cap.err()).toMatch(
      new RegExp(
        `dry run: the image was not checked \\(no DigitalOcean API token found\\); a release first asks GET https://api\\.digitalocean\\.com/v2/images/${imageId}; nothing was sent`,
      ),
    );
    expect(api.requests).toHaveLength(0);
  });

  it('a listing in review (400), an unknown app (404), a rejected token (401): clear errors, the token never shown', async () => {
    api.apps.get(APP)!.status = 'in review';
    let s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(75);
    expect(s.cap.err()).toMatch(
      /error: listing 5f8c0a1b2c3d4e5f6a7b8c9d cannot be updated now: app is in review[\s\S]*fix: an earlier update is pending or in review: wait until DigitalOcean has reviewed it/,
    );
    noToken(s.cap);

    writeManifest(project.dir, { ...LISTED, listing: { ...LISTED.listing, appId: 'no-such-app' } });
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toMatch(
      /error: no Marketplace app "no-such-app" for this token \(404\)\n\s+where: \$\.listing\.appId in mpimg\.json\n\s+fix: copy the app id from the listing's URL in the Vendor Portal/,
    );

    writeManifest(project.dir, LISTED);
    s = setup(apiEnv(api.url, project.dir, { DIGITALOCEAN_ACCESS_TOKEN: `${TOKEN}x` }));
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toMatch(/token \(from DIGITALOCEAN_ACCESS_TOKEN\) was rejected/);
    expect(s.cap.err()).not.toContain(`${TOKEN}x`);
    // nothing was accepted
    expect(patches().every((r) => r.status !== 200)).toBe(true);
  });

  it('a 403 on the PATCH (the listing or the image of another team) says so instead of blaming the token', async () => {
    // The Vendor API's README: 403 for a bad token or an app or image that is not the requestor's team's.
    api.inject({
      method: 'PATCH',
      status: 403,
      body: { id: 'forbidden', message: 'You are not authorized to perform this operation' },
    });
    const s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toMatch(
      /error: the Vendor API refused the update of listing 5f8c0a1b2c3d4e5f6a7b8c9d \(403\): You are not authorized to perform this operation\n/,
    );
    expect(s.cap.err()).toMatch(
      new RegExp(
        `fix: the token read image ${imageId} just before, so the image is in the token's team: listing 5f8c0a1b2c3d4e5f6a7b8c9d belongs to another team, or the token has no write access`,
      ),
    );
    expect(s.cap.err()).not.toMatch(/rejected the token|lacks/);
    noToken(s.cap);
  });

  it('checks the image before sending: it must exist here, be a snapshot and be available', async () => {
    const backup = api.addImage({ type: 'backup' }).id;
    const pending = api.addImage({ status: 'pending' }).id;
    for (const [id, why] of [
      [424242, /image 424242 was not found in this account/],
      [backup, /is a backup image, not a snapshot/],
      [pending, /is pending, not available/],
    ] as const) {
      const s = setup();
      expect(await s.run(['--image', String(id), '--reason', 'x'])).toBe(1);
      expect(s.cap.err()).toMatch(why);
    }
    expect(patches()).toHaveLength(0);
  });

  it('a PATCH is retried after a 429 (not acted on), never after a 5xx (it may have been)', async () => {
    api.rateLimit({ method: 'PATCH', retryAfter: 0 });
    let s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(0);
    expect(patches().map((r) => r.status)).toEqual([429, 200]);

    api.apps.get(APP)!.status = 'approved';
    api.requests.length = 0;
    api.inject({ method: 'PATCH', status: 503, afterHandling: true });
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(patches().map((r) => r.status)).toEqual([503]);
    expect(s.cap.err()).toMatch(
      /the update of listing 5f8c0a1b2c3d4e5f6a7b8c9d failed and it is not known whether DigitalOcean took it[\s\S]*it was not sent again: look at the listing in the Vendor Portal/,
    );
    // (it was taken: the double did the work before answering 503)
    expect(api.apps.get(APP)!.status).toBe('pending');

    api.apps.get(APP)!.status = 'approved';
    api.requests.length = 0;
    api.inject({ method: 'PATCH', status: 400, body: { id: 'bad_request', message: 'app is not a droplet 1-click' } });
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(patches()).toHaveLength(1);
    expect(s.cap.err()).toMatch(
      /the Vendor API refused the update of listing 5f8c0a1b2c3d4e5f6a7b8c9d \(400\): app is not a droplet 1-click/,
    );
  });

  it('the double answers a wrong body shape like the Vendor API (400), and the contract flags it', async () => {
    const res = await fetch(`${api.url}/api/v1/vendor-portal/apps/${APP}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ imageId: String(imageId), softwareIncluded: [{ name: 'x' }] }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe('imageId must be an integer');
    expect(api.violations).toEqual([expect.stringContaining('body/imageId: must be integer')]);
    api.allowViolations = true;
  });

  it("--images takes the listing distribution's image from dist/images.json; --if-listed without a listing exits 0", async () => {
    mkdirSync(join(project.dir, 'dist'));
    const file = join(project.dir, 'dist/images.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: '1.2.0',
        images: [{ distribution: 'debian-12-x64', imageId, verify: 'passed', ok: true, minutes: 3 }],
      }),
    );
    let s = setup();
    expect(await s.run(['--images', 'dist/images.json', '--reason', 'x', '--dry-run'])).toBe(0);
    expect(s.cap.out()).toContain(`"imageId": ${imageId}`);
    // an absolute path is taken as it is (it once became <project>/<absolute path>)
    s = setup();
    expect(await s.run(['--images', file, '--reason', 'x', '--dry-run'])).toBe(0);
    expect(s.cap.out()).toContain(`"imageId": ${imageId}`);

    writeFileSync(
      file,
      JSON.stringify({
        version: '1.2.0',
        images: [{ distribution: 'debian-12-x64', imageId, verify: 'failed', ok: false, minutes: 3 }],
      }),
    );
    s = setup();
    expect(await s.run(['--images', 'dist/images.json', '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toMatch(/did not pass \(verify: failed\)/);

    writeManifest(project.dir, MANIFEST);
    s = setup();
    expect(await s.run(['--images', 'dist/images.json', '--reason', 'x', '--if-listed'])).toBe(0);
    expect(s.cap.err()).toContain('no $.listing.appId: nothing to release');
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toMatch(
      /mpimg\.json names no Marketplace listing\n\s+where: \$\.listing\.appId in mpimg\.json/,
    );
    expect(patches()).toHaveLength(0);
  });

  it('fills the listing with the variables the bundle was made with (make bundle VAR=...), else with MPIMG_VAR_<NAME>', async () => {
    // No bundle yet: mpimg.json's defaults, with the environment's override, as `mpimg bundle` resolves them.
    let s = setup(apiEnv(api.url, project.dir, { MPIMG_VAR_NGINX_VERSION: '1.26.1' }));
    expect(await s.run(['--image', String(imageId), '--reason', 'x', '--dry-run']), s.cap.err()).toBe(0);
    expect(
      JSON.parse(s.cap.out().split('\n').slice(1).join('\n')).softwareIncluded.map(
        (x: { version: string }) => x.version,
      ),
    ).toEqual(['3.1.4', '1.26.1']);
    // The image was built from a bundle of WIKI_VERSION=3.2.0: the listing says so, whatever the environment says now.
    writeBundle(loadProject(project.dir, { overrides: { WIKI_VERSION: '3.2.0' } }));
    s = setup(apiEnv(api.url, project.dir, { MPIMG_VAR_NGINX_VERSION: '1.26.1' }));
    expect(await s.run(['--image', String(imageId), '--reason', 'x', '--dry-run']), s.cap.err()).toBe(0);
    const body = JSON.parse(s.cap.out().split('\n').slice(1).join('\n'));
    expect(body.softwareIncluded.map((x: { version: string }) => x.version)).toEqual(['3.2.0', '1.24.0']);
    expect(body.softwareIncluded[0].releaseNotes).toBe('https://acme.example/wiki/3.2.0/notes');
    // An override of a name mpimg.json does not have is refused, as by `mpimg bundle`.
    rmSync(join(project.dir, 'dist'), { recursive: true });
    s = setup(apiEnv(api.url, project.dir, { MPIMG_VAR_NO_SUCH: '1' }));
    expect(await s.run(['--image', String(imageId), '--reason', 'x', '--dry-run'])).toBe(2);
    expect(s.cap.err()).toContain('MPIMG_VAR_NO_SUCH: mpimg.json has no variable "NO_SUCH"');
    expect(patches()).toHaveLength(0);
  });

  it('through the CLI: --help, a missing reason or image (exit 2), without API calls', async () => {
    const cap = captureContext({ cwd: project.dir, env: apiEnv(api.url, project.dir) });
    expect(await main(['release', '--help'], cap.ctx)).toBe(0);
    expect(cap.out()).toContain('Usage: mpimg release (--image <id> | --images <file>) --reason "<text>"');
    expect(await main(['release', '--image', String(imageId)], cap.ctx)).toBe(2);
    expect(cap.err()).toContain('missing --reason');
    expect(await main(['release', '--reason', 'x'], cap.ctx)).toBe(2);
    expect(cap.err()).toContain('missing --image <id>');
    // a terminal escape or an endless text never reaches the reviewers
    expect(await main(['release', '--image', String(imageId), '--reason', 'fixed \x1b[31mred\x1b[0m'], cap.ctx)).toBe(
      2,
    );
    expect(cap.err()).toContain('--reason must be plain text of at most 1000 characters');
    expect(await main(['release', '--image', String(imageId), '--reason', 'x'.repeat(1001)], cap.ctx)).toBe(2);
    expect(api.requests).toHaveLength(0);
  });

  it('a hostile reason (quotes, $(...), backticks, a second line) is sent as written, never run', async () => {
    const reason = 'It\'s "v2" $(touch pwned) `touch ticked` ${HOME}\n- second line';
    const { cap, run } = setup();
    expect(await run(['--image', String(imageId), '--reason', reason]), cap.err()).toBe(0);
    expect((patches()[0].body as { reasonForUpdate: string }).reasonForUpdate).toBe(reason);
    expect(existsSync(join(project.dir, 'pwned')) || existsSync(join(project.dir, 'ticked'))).toBe(false);
    noToken(cap);
  });

  it('the OS of the listing follows the build distribution; $.listing.osVersion and .distribution win', () => {
    const m = (extra: Partial<Manifest>) => ({ ...(MANIFEST as Manifest), ...extra });
    expect(osVersionOf(m({ distributions: ['ubuntu-24-04-x64'] }))).toBe('Ubuntu 24.04 LTS');
    expect(osVersionOf(m({ distributions: ['debian-12-x64'], droplet: { image: 'rockylinux-9-x64' } }))).toBe(
      'Rocky Linux 9',
    );
    expect(osVersionOf(m({ distributions: ['ubuntu-26-04-x64'] }))).toBe('Ubuntu 26.04');
    expect(
      osVersionOf(
        m({ distributions: ['debian-12-x64', 'almalinux-9-x64'], listing: { distribution: 'almalinux-9-x64' } }),
      ),
    ).toBe('AlmaLinux 9');
    expect(osVersionOf(m({ listing: { osVersion: 'Debian 12 (stable)' } }))).toBe('Debian 12 (stable)');
    // an unknown placeholder never reaches the body: the schema refuses it, and so does the body builder
    const bad = { ...LISTED, variables: {} };
    expect(validateManifest(bad).problems.map((p) => p.message)).toContain(
      '{{WIKI_VERSION}} is not a variable of $.variables',
    );
    expect(() => releaseBody(bad as Manifest, 1, 'x')).toThrow(
      /\{\{WIKI_VERSION\}\} in \$\.listing\.software\[0\]\.version is not a variable/,
    );
  });
});
