/**
 * What `mpimg validate` warns about in a project the generator made (one call from validate.ts):
 * no firewall (review rejects such images), a distribution, region
 * or size DigitalOcean is not known to offer, and a generated file that is empty (what an
 * interrupted write of an older release left; `mpimg upgrade` writes it again).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { distributionWarning, regionWarning, sizeWarning } from '../../runtime/known-values.js';
import type { Manifest } from '../../runtime/manifest.js';
import { certbotWarnings } from '../../runtime/sections/certbot.js';
import { caddyWarnings } from '../../runtime/sections/caddy.js';
import { RECORD_KEY } from '../../core/write.js';
import { generatorConfig } from '../../core/yo-rc.js';

export function projectWarnings(project: { dir: string; manifest: Manifest }): string[] {
  const m = project.manifest;
  const out: string[] = [];
  // (a firewall without its package is catalogWarnings' to say: Ubuntu's images have ufw)
  if (!m.firewall) {
    out.push(
      'mpimg.json has no $.firewall: DigitalOcean\'s review rejects images without an active firewall. Add `"firewall": {"limit": ["22/tcp"], "allow": ["80/tcp"]}` (the ports your app serves) and the firewall package (`"packages": {"apt": ["ufw"], "dnf": ["firewalld"]}` in $.build)',
    );
  }
  for (const d of m.distributions) {
    const w = distributionWarning(d);
    if (w) out.push(`$.distributions: ${w}`);
  }
  out.push(...certbotWarnings(m));
  out.push(...caddyWarnings(m));
  const region = m.droplet?.region;
  const rw = region === undefined ? undefined : regionWarning(region);
  if (rw) out.push(`$.droplet.region: ${rw}`);
  const size = m.droplet?.size;
  const sw = size === undefined ? undefined : sizeWarning(size);
  if (sw) out.push(`$.droplet.size: ${sw}`);
  out.push(...emptyGenerated(project.dir));
  return out;
}

/** Files .yo-rc.json records as generated that are empty now: no generated file is empty. */
function emptyGenerated(dir: string): string[] {
  const generated = generatorConfig(dir)[RECORD_KEY];
  const record = generated && typeof generated === 'object' ? (generated as Record<string, unknown>) : {};
  const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'; // sha256 of nothing
  return Object.entries(record)
    .filter(
      ([rel, sha]) =>
        sha !== EMPTY &&
        existsSync(join(dir, rel)) &&
        statSync(join(dir, rel)).isFile() &&
        statSync(join(dir, rel)).size === 0,
    )
    .map(
      ([rel]) =>
        `${rel} is empty, though generator-mpimg wrote it with content (an interrupted write?): \`mpimg upgrade\` writes it again`,
    );
}
