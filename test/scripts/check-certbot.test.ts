/**
 * The image check's certbot check (--certbot PLUGIN, as the bundle passes $.certbot.server), on staged
 * roots (--root): certbot and its plugin where Debian's packages put them, no certificate in an image
 * (its private key would be every droplet's), and on a booted droplet a certificate renewed by
 * certbot.timer. The real packages and timer on a real droplet: test/e2e/tls.test.ts.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { imageCheckArgs, missingCheckFlags } from '../../runtime/script-args.js';
import {
  CHECK_SCRIPT,
  check,
  checkJson,
  cleanRoot,
  cleanupFixtures,
  dir,
  link,
  put,
  type CheckReport,
} from './fixture-root.js';

afterAll(cleanupFixtures);

const pick = (report: CheckReport) => {
  const c = report.checks.find((x) => x.id === 'certbot');
  return c && { status: c.status, message: c.message, evidence: c.evidence };
};

/** A root with certbot and python3-certbot-nginx's files. */
function withCertbot(): string {
  const root = cleanRoot();
  put(root, 'usr/bin/certbot', '#!/bin/sh\n', 0o755);
  dir(root, 'usr/lib/python3/dist-packages/certbot_nginx');
  return root;
}

describe('the image check of $.certbot', () => {
  it('the bundle passes the plugin from mpimg.json; a check without the flag is named', () => {
    const script = readFileSync(CHECK_SCRIPT, 'utf8');
    const m = { slug: 'acme-app', vendor: 'acme', certbot: { server: 'nginx' as const } };
    expect(imageCheckArgs(m, script).slice(-2)).toEqual(['--certbot', 'nginx']);
    expect(imageCheckArgs({ slug: 'acme-app', vendor: 'acme' }, script)).not.toContain('--certbot');
    expect(missingCheckFlags(m, script)).not.toContain('--certbot');
    expect(missingCheckFlags(m, '#!/bin/bash\n')).toContain('--certbot');
  });

  it('passes an image with certbot and its plugin and no certificate', () => {
    const { run, report } = checkJson(withCertbot(), ['--certbot', 'nginx']);
    expect(run.stderr).toBe('');
    expect(pick(report)).toEqual({
      status: 'pass',
      message:
        'certbot and its nginx plugin installed; no certificate in the image (the customer gets one at first login)',
      evidence: [],
    });
  });

  it('fails without certbot, without the plugin, and with a certificate in the image', () => {
    expect(pick(checkJson(cleanRoot(), ['--certbot', 'nginx']).report)?.message).toBe(
      "mpimg.json sets up HTTPS with certbot (nginx), but certbot is not installed: run the build's packages step",
    );
    const noPlugin = pick(checkJson(withCertbot(), ['--certbot', 'apache']).report);
    expect(noPlugin?.status).toBe('fail');
    expect(noPlugin?.evidence).toEqual(["certbot's apache plugin is not installed (python3-certbot-apache)"]);
    const root = withCertbot();
    put(root, 'etc/letsencrypt/archive/shop.example.com/cert1.pem', 'x');
    link(root, 'etc/letsencrypt/live/shop.example.com/cert.pem', '../../archive/shop.example.com/cert1.pem');
    const leaked = pick(checkJson(root, ['--certbot', 'nginx']).report);
    expect(leaked?.status).toBe('fail');
    expect(leaked?.evidence).toEqual([
      '/etc/letsencrypt/live holds 1 certificate(s) with their keys: every droplet would share them (remove /etc/letsencrypt/live, archive and renewal)',
    ]);
  });

  it('--booted: a certificate needs certbot.timer enabled', () => {
    const root = withCertbot();
    put(root, 'etc/letsencrypt/archive/shop.example.com/cert1.pem', 'x');
    link(root, 'etc/letsencrypt/live/shop.example.com/cert.pem', '../../archive/shop.example.com/cert1.pem');
    const off = pick(checkJson(root, ['--booted', '--certbot', 'nginx']).report);
    expect(off?.status).toBe('fail');
    expect(off?.evidence).toEqual([
      'certbot.timer is not enabled: nothing renews the certificate (systemctl enable --now certbot.timer)',
    ]);
    link(root, 'etc/systemd/system/timers.target.wants/certbot.timer', '/lib/systemd/system/certbot.timer');
    expect(pick(checkJson(root, ['--booted', '--certbot', 'nginx']).report)).toEqual({
      status: 'pass',
      message: 'certbot (nginx) with 1 certificate(s), renewed by certbot.timer',
      evidence: [],
    });
  });

  it('refuses a plugin it does not know (usage error, exit 2)', () => {
    const r = check(withCertbot(), ['--certbot', 'caddy; id']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--certbot: 'caddy; id' is not nginx or apache");
  });
});
