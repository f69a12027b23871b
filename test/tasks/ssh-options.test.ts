import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sshdPerFile } from '../helpers/sshd-run.js';
import type { MpimgError } from '../../core/errors.js';
import { connectTo } from './helpers.js';

// The sshOptions guard asks `ssh -G` (no network) what the options change.
const sshd = sshdPerFile();
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mpimg-tasks-sshopt-'));
});

afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The formatted error for these options, or 'accepted'. */
function verdict(sshOptions: string[], extra: Record<string, unknown> = {}): string {
  try {
    connectTo(sshd, { sshOptions, stdout: null, stderr: null, ...extra });
    return 'accepted';
  } catch (e) {
    return (e as MpimgError).format();
  }
}

describe('sshOptions guard', () => {
  it('refuses every spelling that would switch host-key checking off, naming the option and the key', () => {
    const cases: Array<[string, string]> = [
      ['"UserKnownHostsFile" /dev/null', 'userknownhostsfile'],
      ['UserKnownHostsFile /dev/null', 'userknownhostsfile'],
      ['userknownhostsfile=/dev/null', 'userknownhostsfile'],
      ['  StrictHostKeyChecking   no', 'stricthostkeychecking'],
      ['"StrictHostKeyChecking" No', 'stricthostkeychecking'],
      ['STRICTHOSTKEYCHECKING=off', 'stricthostkeychecking'],
      ['GlobalKnownHostsFile=/dev/null', 'globalknownhostsfile'],
      ['KnownHostsCommand=/bin/echo 127.0.0.1 ssh-ed25519 AAAA', 'knownhostscommand'],
      ['NoHostAuthenticationForLocalhost=yes', 'nohostauthenticationforlocalhost'],
      ['VerifyHostKeyDNS yes', 'verifyhostkeydns'],
      ['BatchMode=no', 'none: BatchMode=no is the default, so nothing changes'],
      ['batchmode yes', 'batchmode'],
      ['ControlMaster=yes', 'controlmaster'],
      ['ControlPath=/tmp/elsewhere-%C', 'controlpath'],
      ['ControlPersist 5', 'controlpersist'],
    ];
    for (const [option, key] of cases) {
      const text = verdict(['ServerAliveCountMax=6', option]);
      if (key.startsWith('none')) {
        expect(text, option).toBe('accepted');
        continue;
      }
      expect(text, option).toContain(`ssh option "${option}" changes ${key} (`);
      expect(text, option).toContain('which is managed by mpimg');
      expect(text, option).toMatch(/where: sshOptions\n {2}fix: /);
    }
    expect(verdict(['StrictHostKeyChecking=no'])).toMatch(
      /"ask" -> "false"[\s\S]*host-key checking cannot be turned off/,
    );
  });

  it('judges options that act through the ssh config (a Hostname a Match block reacts to)', () => {
    const cfg = join(work, 'match.cfg');
    writeFileSync(cfg, 'Match exec "test %h = evil.example"\n  StrictHostKeyChecking no\n');
    expect(verdict(['Hostname=evil.example'], { sshConfigFile: cfg })).toMatch(
      /"Hostname=evil\.example" changes stricthostkeychecking/,
    );
    expect(verdict(['Hostname=127.0.0.1'], { sshConfigFile: cfg })).toBe('accepted');
  });

  it('says which option ssh itself rejects', () => {
    expect(verdict(['ServerAliveCountMax=6', 'NoSuchOption=1'])).toMatch(
      /ssh rejects the option "NoSuchOption=1": .*Bad configuration option: nosuchoption/,
    );
    expect(verdict(['Include /etc/passwd'])).toMatch(/ssh rejects the option "Include \/etc\/passwd"/);
    expect(verdict(['StrictHostKeyChecking=no\nfoo'])).toMatch(/bad ssh option/);
  });

  it('lets other options through, and they work', async () => {
    expect(
      verdict(['ProxyJump=bastion.example.com', 'CheckHostIP=yes', 'HostKeyAlias=build-droplet', 'LogLevel=ERROR']),
    ).toBe('accepted');
    const { c } = connectTo(sshd, {
      sshOptions: ['ServerAliveCountMax=6', 'LogLevel=ERROR'],
      stdout: null,
      stderr: null,
    });
    try {
      expect((await c.run('echo through', { quiet: true })).stdout).toBe('through\n');
    } finally {
      c.close();
    }
  });
});
