/**
 * Where a build secret's value comes from (--secret NAME=@file, NAME=env:VAR, MPIMG_BUILD_SECRET_NAME),
 * the refusal of a value on the command line, a declared secret without a value, and the masking
 * of values in every line the tasks print.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildSecretValues,
  loadBuildSecrets,
  parseSecretOptions,
  redact,
  setBuildSecrets,
} from '../../tasks/build-secrets.js';
import { childEnv } from '../../tasks/secrets.js';
import { LineStream, TailBuffer } from '../../tasks/ssh/output.js';
import { Capture } from './helpers.js';

const VALUE = 'lic-9f3a7c1e-77b2-4d0e';
const dir = mkdtempSync(join(tmpdir(), 'mpimg-bsecret-opt-'));
const manifest = {
  build: { secrets: [{ name: 'LICENSE_KEY', description: 'from the vendor portal' }, { name: 'REPO_TOKEN' }] },
};

afterEach(() => setBuildSecrets({}));

const errorOf = (f: () => unknown): Error & { hint?: string } => {
  try {
    f();
  } catch (e) {
    return e as Error & { hint?: string };
  }
  throw new Error('no error');
};

describe('--secret', () => {
  it('NAME=@FILE takes the file content without its trailing newline; NAME=env:VAR the variable', () => {
    writeFileSync(join(dir, 'license.txt'), `${VALUE}\n`);
    const got = parseSecretOptions(
      ['LICENSE_KEY=@license.txt', 'REPO_TOKEN=env:ACME_TOKEN'],
      { ACME_TOKEN: 'tok-123456' },
      dir,
    );
    expect(Object.fromEntries(got)).toEqual({ LICENSE_KEY: VALUE, REPO_TOKEN: 'tok-123456' });
    // a value of several lines keeps its inner newlines
    writeFileSync(join(dir, 'key.pem'), 'line-one-aaaaaaaaaa\nline-two-bbbbbbbbbb\n');
    expect(parseSecretOptions(['K=@key.pem'], {}, dir).get('K')).toBe('line-one-aaaaaaaaaa\nline-two-bbbbbbbbbb');
  });

  it('refuses NAME=value, saying how to give it, without repeating the value', () => {
    const e = errorOf(() => parseSecretOptions([`LICENSE_KEY=${VALUE}`], {}, dir));
    expect(e.message).toMatch(/--secret LICENSE_KEY=<value> is refused: .*`ps`.*history/);
    expect(e.hint).toMatch(/--secret LICENSE_KEY=@FILE .*--secret LICENSE_KEY=env:VAR.*MPIMG_BUILD_SECRET_LICENSE_KEY/);
    expect(`${e.message} ${e.hint}`).not.toContain(VALUE);
  });

  it('refuses a missing file, an unset variable, a bad name, a name twice, a too short value', () => {
    expect(errorOf(() => parseSecretOptions(['K=@nope.txt'], {}, dir)).message).toMatch(
      /cannot read nope.txt \(ENOENT\)/,
    );
    expect(errorOf(() => parseSecretOptions(['K=env:NOPE'], {}, dir)).message).toMatch(/NOPE is not set/);
    expect(errorOf(() => parseSecretOptions(['k=@x'], {}, dir)).message).toMatch(/bad name/);
    expect(errorOf(() => parseSecretOptions(['K=env:A', 'K=env:A'], { A: 'aaaaaaa' }, dir)).message).toMatch(/twice/);
    expect(errorOf(() => parseSecretOptions(['K=env:A'], { A: 'ab' }, dir)).message).toMatch(/shorter than 4/);
  });

  // Regression: "    " passed (4 characters) and masked every indentation of the output; a value of several
  // short lines was masked nowhere and made the image check search for "" (every file a [FAIL]).
  it('refuses a blank value, and one of several lines none of which is long enough to mask', () => {
    expect(errorOf(() => parseSecretOptions(['K=env:A'], { A: '    ' }, dir)).message).toMatch(/shorter than 4/);
    writeFileSync(join(dir, 'pair.txt'), 'user: bob\npass: hunter22\n');
    const e = errorOf(() => parseSecretOptions(['K=@pair.txt'], {}, dir));
    expect(e.message).toBe('the build secret K (from pair.txt) has several lines and none of 16 characters or more');
    expect(e.hint).toMatch(/one secret for each part/);
    expect(`${e.message} ${e.hint}`).not.toContain('hunter22');
    const env = { MPIMG_BUILD_SECRET_LICENSE_KEY: 'abcd\nefgh' };
    expect(errorOf(() => loadBuildSecrets(manifest, new Map(), env)).message).toMatch(/LICENSE_KEY .*several lines/);
    // a key: its long lines carry it
    writeFileSync(join(dir, 'k.pem'), '-----BEGIN X-----\nAAAABBBBCCCCDDDDEEEE\nkw==\n-----END X-----\n');
    expect(parseSecretOptions(['K=@k.pem'], {}, dir).get('K')).toContain('AAAABBBBCCCCDDDDEEEE');
  });
});

describe('loadBuildSecrets', () => {
  it('takes MPIMG_BUILD_SECRET_NAME from the environment and out of it (no child inherits it)', () => {
    const env: NodeJS.ProcessEnv = {
      MPIMG_BUILD_SECRET_LICENSE_KEY: VALUE,
      MPIMG_BUILD_SECRET_REPO_TOKEN: 'tok-123456',
      KEEP: '1',
    };
    expect(Object.keys(childEnv({ ...env }))).toEqual(['KEEP']);
    loadBuildSecrets(manifest, new Map([['REPO_TOKEN', 'from-option']]), env);
    expect(Object.fromEntries(buildSecretValues())).toEqual({ LICENSE_KEY: VALUE, REPO_TOKEN: 'from-option' });
    expect(env).toEqual({ KEEP: '1' });
  });

  it('stops on a declared secret without a value, naming it and how to give it; and on an undeclared one', () => {
    const e = errorOf(() => loadBuildSecrets(manifest, new Map([['REPO_TOKEN', 'tok-123456']]), {}));
    expect(e.message).toBe(
      'the build secret LICENSE_KEY (from the vendor portal) of mpimg.json ($.build.secrets) has no value: nothing was run',
    );
    expect(e.hint).toMatch(/--secret LICENSE_KEY=@FILE/);
    expect(e.hint).toMatch(/SSH_OPTS="--secret LICENSE_KEY=@license_key.txt"/);
    expect(buildSecretValues().size).toBe(0);
    expect(errorOf(() => loadBuildSecrets(manifest, new Map([['OTHER', 'x'.repeat(8)]]), {})).message).toMatch(
      /declares no build secret OTHER/,
    );
  });

  it("a task that uses none runs without values; an outer command's values serve the inner run and come back", () => {
    const restore = loadBuildSecrets(manifest, new Map(), {}, false);
    expect(buildSecretValues().size).toBe(0);
    restore();
    // `mpimg image` sets them, its in-process `mpimg run build` (no --secret, no variables) uses them
    const outer = loadBuildSecrets(
      manifest,
      new Map([
        ['LICENSE_KEY', VALUE],
        ['REPO_TOKEN', 'tok-123456'],
      ]),
      {},
    );
    const inner = loadBuildSecrets(manifest, new Map(), {});
    expect(buildSecretValues().get('LICENSE_KEY')).toBe(VALUE);
    inner();
    expect(buildSecretValues().get('LICENSE_KEY')).toBe(VALUE);
    outer();
    expect(buildSecretValues().size).toBe(0);
  });
});

describe('masking', () => {
  it('masks every value, and each long line of a value of several lines, in what the tasks print', () => {
    setBuildSecrets({ LICENSE_KEY: VALUE, PEM: '-----BEGIN X-----\nAAAABBBBCCCCDDDDEEEE\n-----END X-----' });
    expect(redact(`key=${VALUE}; again ${VALUE}`)).toBe('key=***; again ***');
    expect(redact('got AAAABBBBCCCCDDDDEEEE from the file')).toBe('got *** from the file');
    expect(redact('-----BEGIN X----- is no secret')).toBe('-----BEGIN X----- is no secret');
    const out = new Capture();
    const tail = new TailBuffer();
    const s = new LineStream(out, () => '[scripts] ', tail);
    s.write(`licence: ${VALUE.slice(0, 6)}`);
    s.write(`${VALUE.slice(6)}\n`);
    expect(out.text).toBe('[scripts] licence: ***\n');
    expect(tail.get()).toEqual(['licence: ***']);
  });
});
