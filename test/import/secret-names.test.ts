/**
 * The names first-boot secrets get: never one a variable of the project, another secret, a name the
 * shell or mpimg means something by, or a name another line of the first-boot scripts already uses;
 * the line that made the password takes its value from the secret under that name, and the project
 * validates and bundles.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { entry, importFixture, validateAndBundle } from './support.js';

/** A template folder: a build line using the variable admin_pass, and these per-instance scripts. */
function templateWith(perInstance: Record<string, string>, variables: Record<string, string> = {}): string {
  const dir = tempDir('mpimg-import-secret-names-');
  for (const [name, text] of Object.entries(perInstance)) {
    const p = path.join(dir, 'files/var/lib/cloud/scripts/per-instance', name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text, { mode: 0o755 });
  }
  const names = Object.keys(variables);
  fs.writeFileSync(
    path.join(dir, 'template.json'),
    JSON.stringify({
      variables: { application_name: 'Probe App', application_version: '1.0', ...variables },
      builders: [{ type: 'digitalocean', image: 'ubuntu-24-04-x64', region: 'nyc3', size: 's-1vcpu-1gb' }],
      provisioners: [
        { type: 'file', source: 'files/', destination: '/' },
        {
          type: 'shell',
          environment_vars: names.map((n) => `${n}={{user \`${n}\`}}`),
          inline: names.map((n) => `echo "${n} is \${${n}}" > /opt/${n}.txt`),
        },
      ],
    }),
  );
  return dir;
}

/** The secrets' names, every variable's name, and the first-boot scripts of an imported project. */
function imported(dir: string) {
  const p = importFixture(dir);
  const fb = p.files().filter((f) => f.startsWith('first-boot/'));
  return { p, fb: fb.map((f) => p.read(f)), secrets: (p.manifest.secrets ?? []).map((s: any) => s.name) };
}

/** Runs a first-boot script's text with the secrets set in the environment, printing what `show` names. */
function runWith(script: string, env: Record<string, string>, show: string): string {
  const r = spawnSync('sh', ['-c', `${script.replace(/^#!.*\n/, '')}\nprintf '%s\\n' ${show}`], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

describe('first-boot secret names', () => {
  it('a password named like a variable of the project gets its own name; the line reads it from there', () => {
    const dir = templateWith(
      {
        '01-setup':
          '#!/bin/sh\nadmin_pass=$(openssl rand -hex 16)\necho "pw=$admin_pass" > /root/.digitalocean_password\n',
      },
      { admin_pass: 'kept-in-the-build' },
    );
    const { p, fb, secrets } = imported(dir);
    expect(Object.keys(p.manifest.variables)).toContain('ADMIN_PASS');
    expect(secrets).toEqual(['ADMIN_PASS_2']);
    expect(fb[0]).toContain('\nadmin_pass=$ADMIN_PASS_2\n');
    expect(runWith(fb[0].split('\necho')[0], { ADMIN_PASS: 'var', ADMIN_PASS_2: 's3cret' }, '"$admin_pass"')).toBe(
      's3cret',
    );
    expect(entry(p.report, 'files/var/lib/cloud/scripts/per-instance/01-setup').became).toContain(
      'secrets: ADMIN_PASS_2 (32 hex, made once per droplet)',
    );
    expect(p.report.fields).toContainEqual({
      field: 'secrets.ADMIN_PASS_2',
      value: '32 hex',
      from: 'files/var/lib/cloud/scripts/per-instance/01-setup:2 (admin_pass)',
    });
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
  });
  it('secrets of the same name in any case, reserved or shell names, names the scripts expand, too long: each its own valid name', () => {
    const long = `p${'w'.repeat(70)}`;
    const dir = templateWith({
      '01-db': '#!/bin/sh\ndb_pass=$(pwgen -s 24 1)\nDB_PASS=$(openssl rand -hex 16)\necho "$db_pass $DB_PASS"\n',
      '02-app': [
        '#!/bin/sh',
        'Db_Pass=$(openssl rand -hex 16)',
        'path=$(pwgen 16 1)',
        'hostname=$(openssl rand -hex 8)',
        'ip=$(openssl rand -hex 8)',
        'mpimg_key=$(openssl rand -hex 8)',
        '__=$(openssl rand -hex 8)',
        'bash_env=$(openssl rand -hex 8)',
        'app_key=$(openssl rand -hex 8)',
        `${long}=$(openssl rand -hex 8)`,
        'echo "$APP_KEY"',
        '',
      ].join('\n'),
    });
    const { p, fb, secrets } = imported(dir);
    expect(secrets).toEqual([
      'DB_PASS_2',
      'DB_PASS',
      'DB_PASS_3',
      'APP_PATH',
      'APP_HOSTNAME',
      'APP_IP',
      'APP_MPIMG_KEY',
      'SECRET',
      'APP_BASH_ENV',
      'APP_KEY_2',
      `P${'W'.repeat(63)}`,
    ]);
    // DB_PASS is what the script's own DB_PASS line becomes (and it expands $DB_PASS): db_pass takes DB_PASS_2
    expect(fb[0]).toContain('\ndb_pass=$DB_PASS_2\n# DB_PASS: $.secrets (made at first boot)\n');
    expect(fb[1]).toContain(`\nDb_Pass=$DB_PASS_3\npath=$APP_PATH\nhostname=$APP_HOSTNAME\nip=$APP_IP\n`);
    expect(fb[1]).toContain(`\napp_key=$APP_KEY_2\n${long}=$P${'W'.repeat(63)}\necho "$APP_KEY"\n`);
    const env = Object.fromEntries(secrets.map((n: string) => [n, `v-${n}`]));
    expect(runWith(fb[0].replace(/echo.*\n/, ''), env, '"$db_pass" "$DB_PASS"')).toBe('v-DB_PASS_2\nv-DB_PASS');
    expect(runWith(fb[1].replace(/echo.*\n/, ''), env, '"$Db_Pass" "$hostname" "$__" "$app_key"')).toBe(
      'v-DB_PASS_3\nv-APP_HOSTNAME\nv-SECRET\nv-APP_KEY_2',
    );
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
  });
});
