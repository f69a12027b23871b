/**
 * Real OpenPGP keys for tests, made with this machine's gpg in a throwaway GNUPGHOME (never the
 * user's keyring): no passphrase, ed25519, quick to make.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp.js';

export interface TestKey {
  /** The GNUPGHOME holding the secret key (for signing). */
  home: string;
  /** 40 hex digits, upper case, as gpg prints it. */
  fingerprint: string;
  /** The public key, ASCII-armored and binary. */
  armored: string;
  binary: Buffer;
  /** gpg with this home, batch mode. */
  gpg(args: string[], input?: string | Buffer): Buffer;
}

export function makeKey(uid = 'Acme Repository <repo@acme.example>'): TestKey {
  const home = tempDir('mpimg-gnupg-');
  // No agent sockets in a path too long for them, no keyboxd: a home of its own, settings for batch use.
  writeFileSync(join(home, 'gpg.conf'), 'no-greeting\n');
  const gpg = (args: string[], input?: string | Buffer): Buffer =>
    execFileSync(
      'gpg',
      ['--homedir', home, '--batch', '--quiet', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args],
      { input, stdio: ['pipe', 'pipe', 'pipe'] },
    );
  gpg(['--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
  const colons = gpg(['--with-colons', '--list-keys', uid]).toString();
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1];
  return {
    home,
    fingerprint,
    armored: gpg(['--armor', '--export', fingerprint]).toString(),
    binary: gpg(['--export', fingerprint]),
    gpg,
  };
}

/** Stops the gpg-agent a key's home started (signing needs it), so no daemon outlives the test. */
export function stopAgent(key: TestKey): void {
  try {
    execFileSync('gpgconf', ['--homedir', key.home, '--kill', 'all'], { stdio: 'ignore' });
  } catch {
    /* no agent ran */
  }
}

/** The primary fingerprints gpg finds in a key file (as the build script checks them). */
export function fingerprintsOf(file: string): string[] {
  const home = tempDir('mpimg-gnupg-show-');
  const out = execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', '--show-keys', '--with-colons', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
  const fprs: string[] = [];
  let pub = false;
  for (const line of out.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'pub') pub = true;
    else if (f[0] === 'fpr' && pub) {
      fprs.push(f[9]);
      pub = false;
    }
  }
  return fprs;
}
