import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createSnapshotCommand } from '../../tasks/commands/snapshot.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand, tempDir, writeManifest } from './support.js';

let api: DoApiDouble;
let project: ReturnType<typeof tempDir>;
beforeEach(async () => {
  api = await DoApiDouble.start(TOKEN);
  api.behaviour.actionMs = { shutdown: 10, snapshot: 15 };
  project = tempDir('mpimg-snap-');
  writeManifest(project.dir);
});
afterEach(async () => {
  await api.close();
  project.cleanup();
});

const NOW = new Date('2026-03-04T05:06:07Z');

function setup(opts: { env?: NodeJS.ProcessEnv; isTTY?: boolean } = {}) {
  const cap = captureContext({ cwd: project.dir, env: opts.env ?? apiEnv(api.url, project.dir), isTTY: opts.isTTY });
  const cmd = createSnapshotCommand({ clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS, now: () => NOW });
  return { cap, run: (argv: string[]) => runCommand(cmd, argv, cap.ctx) };
}

function clean(cap: { out: () => string; err: () => string }): void {
  expect(cap.out()).not.toContain(TOKEN);
  expect(cap.err()).not.toContain(TOKEN);
}

describe('mpimg snapshot', () => {
  it('snapshots a droplet by id with the manifest\'s default name and prints the list-user line', async () => {
    const d = api.addDroplet({ name: 'build-1' });
    const { cap, run } = setup();
    expect(await run(['--droplet', String(d.id)])).toBe(0);
    const img = [...api.images.values()][0];
    expect(img.name).toBe('acme-wiki-1.2.0-20260304-050607');
    const lines = cap.out().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ID {4,}Name {4,}Type {4,}Distribution {4,}Slug {4,}Public {4,}Min Disk {4,}Created$/);
    expect(lines[1]).toBe(`${img.id}    acme-wiki-1.2.0-20260304-050607    snapshot    Debian${' '.repeat(18)}false     10          ${img.created_at}`);
    // Plain progress lines off a terminal: phase and elapsed time, no carriage returns.
    expect(cap.err()).toMatch(/^mpimg snapshot: \[00:00\] looking up droplet \d+$/m);
    expect(cap.err()).toMatch(/^mpimg snapshot: \[\d\d:\d\d\] shutting down droplet \d+$/m);
    expect(cap.err()).not.toContain('\r');
    clean(cap);
  });

  it('finds the droplet by name, uses --name, and --json prints the image object only', async () => {
    api.addDroplet({ name: 'build-2', status: 'off' });
    const { cap, run } = setup();
    expect(await run(['--droplet', 'build-2', '--name', 'acme custom', '--json'])).toBe(0);
    const img = JSON.parse(cap.out());
    expect(img).toMatchObject({ name: 'acme custom', type: 'snapshot', slug: null, public: false, regions: ['nyc3'] });
    expect(typeof img.id).toBe('number');
    clean(cap);
  });

  it('works outside a project when --name is given, and needs mpimg.json otherwise', async () => {
    const d = api.addDroplet({ status: 'off' });
    const empty = tempDir('mpimg-empty-');
    try {
      const cap = captureContext({ cwd: empty.dir, env: apiEnv(api.url, empty.dir) });
      const cmd = createSnapshotCommand({ clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS });
      expect(await runCommand(cmd, ['--droplet', String(d.id)], cap.ctx)).toBe(1);
      expect(cap.err()).toMatch(/no mpimg.json in this folder/);
      expect(api.requests).toHaveLength(0);
      expect(await runCommand(cmd, ['--droplet', String(d.id), '--name', 'x'], cap.ctx)).toBe(0);
    } finally {
      empty.cleanup();
    }
  });

  it('shows phase and ticking elapsed time on a terminal', async () => {
    const d = api.addDroplet();
    const { cap, run } = setup({ isTTY: true });
    expect(await run(['--droplet', String(d.id)])).toBe(0);
    expect(cap.err()).toMatch(/\r\x1b\[2K\[00:00\] shutting down droplet \d+ \(00:00\)/);
    expect(cap.err()).toMatch(/snapshot \d+ "acme-wiki-1\.2\.0-20260304-050607" ready\n/);
  });

  it('fails fast on a rejected token without printing it', async () => {
    const d = api.addDroplet();
    api.token = 'another-token';
    const { cap, run } = setup();
    expect(await run(['--droplet', String(d.id)])).toBe(1);
    expect(cap.err()).toMatch(/refused GET \/v2\/droplets\/\d+ with 401[\s\S]*fix: the token \(from DIGITALOCEAN_ACCESS_TOKEN\) was rejected/);
    expect(api.requests).toHaveLength(1);
    clean(cap);
  });

  it('reads the token from doctl\'s config under the HOME passed in, and never prints it', async () => {
    const d = api.addDroplet({ status: 'off' });
    const cfg = join(project.dir, '.config', 'doctl');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'config.yaml'), `access-token: ${TOKEN}\ncontext: default\n`);
    const env = apiEnv(api.url, project.dir, { DIGITALOCEAN_ACCESS_TOKEN: undefined });
    const { cap, run } = setup({ env });
    expect(await run(['--droplet', String(d.id), '--json'])).toBe(0);
    clean(cap);
  });

  it('unknown droplet: 404 with where and fix', async () => {
    const { cap, run } = setup();
    expect(await run(['--droplet', '4242'])).toBe(1);
    expect(cap.err()).toMatch(/error: droplet 4242 not found\n {2}where: --droplet\n {2}fix: /);
  });

  it('through the CLI: usage errors exit 2, a missing token names all three sources', async () => {
    const cap = captureContext({ cwd: project.dir, env: { HOME: project.dir, DIGITALOCEAN_API_URL: api.url } });
    expect(await main(['snapshot'], cap.ctx)).toBe(2);
    expect(cap.err()).toMatch(/missing --droplet/);
    expect(await main(['snapshot', '--droplet', '1', '--bogus'], cap.ctx)).toBe(2);
    expect(await main(['snapshot', '--droplet', '1'], cap.ctx)).toBe(1);
    expect(cap.err()).toMatch(/no DigitalOcean API token found[\s\S]*DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN and .*doctl\/config\.yaml/);
    expect(api.requests).toHaveLength(0);
    expect(await main(['snapshot', '--help'], cap.ctx)).toBe(0);
    expect(cap.out()).toContain('Usage: mpimg snapshot --droplet <id|name>');
  });
});
