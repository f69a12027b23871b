/**
 * The signing key of a third-party apt repository: fetched (only with --fetch-keys) and checked to
 * be an OpenPGP public key, whose fingerprints go into the report for a person to compare.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** An OpenPGP public key (armored or binary), its fingerprints when gpg can tell. */
export function keyFingerprints(data: Buffer): string[] | undefined {
  const armored = data.subarray(0, 200).toString('latin1').includes('-----BEGIN PGP PUBLIC KEY BLOCK-----');
  if (!armored && !(data.length > 0 && (data[0] & 0x80) !== 0)) return undefined;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mpimg-import-gpg-'));
  try {
    const out = execFileSync(
      'gpg',
      ['--homedir', home, '--batch', '--no-tty', '--quiet', '--with-colons', '--show-keys'],
      { input: data, stdio: ['pipe', 'pipe', 'ignore'], timeout: 30_000 },
    ).toString();
    const fprs = [...out.matchAll(/^fpr:+([0-9A-F]{40,64}):/gm)].map((m) => m[1]);
    return out.includes('\npub:') || out.startsWith('pub:') ? fprs : undefined;
  } catch {
    return armored ? [] : undefined;
  } finally {
    try {
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'all'], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* no agent */
    }
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** Fetches a key over http(s), bounded in time and size. */
export async function fetchKey(url: string): Promise<Buffer> {
  const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const data = Buffer.from(await res.arrayBuffer());
  if (data.length > 1024 * 1024) throw new Error('larger than 1 MiB: not a signing key');
  return data;
}
