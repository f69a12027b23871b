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
  cleanup,
  cleanupFixtures,
  dir,
  link,
  exists,
  put,
  SLUG,
  VENDOR,
  type CheckReport,
} from './fixture-root.js';

afterAll(cleanupFixtures);

const pick = (report: CheckReport) => {
  const c = report.checks.find((x) => x.id === 'certbot');
  return c && { status: c.status, message: c.message, evidence: c.evidence };
};

/** The first-login hook in root's .bashrc, as the bundle installs it (and the runner removes it once done). */
const HOOK = `# >>> mpimg:${SLUG} first-login >>>\n[ -x /opt/${VENDOR}/${SLUG}/first-login-run ] && /opt/${VENDOR}/${SLUG}/first-login-run\n# <<< mpimg:${SLUG} first-login <<<\n`;

/** A root with certbot and python3-certbot-nginx's files, and the first-login hook that asks for the domain. */
function withCertbot(): string {
  const root = cleanRoot();
  put(root, 'usr/bin/certbot', '#!/bin/sh\n', 0o755);
  dir(root, 'usr/lib/python3/dist-packages/certbot_nginx');
  put(root, 'root/.bashrc', HOOK);
  put(root, `opt/${VENDOR}/${SLUG}/first-login-run`, '#!/bin/sh\n', 0o755);
  return root;
}

/** A Debian nginx site as certbot --nginx leaves it. */
const CERTBOT_SITE = `server {
  server_name shop.example.com;
  root /var/www/html;
  listen 443 ssl; # managed by Certbot
  ssl_certificate /etc/letsencrypt/live/shop.example.com/fullchain.pem; # managed by Certbot
  ssl_certificate_key /etc/letsencrypt/live/shop.example.com/privkey.pem; # managed by Certbot
}
`;

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
      '/etc/letsencrypt/archive holds 1 file(s) of a certbot run on the build droplet: every droplet would share them (the cleanup removes them)',
    ]);
  });

  it('the snapshot of a build droplet whose first login ran certbot: the cleanup removes its keys, the check names what a rebuild fixes', () => {
    const root = withCertbot();
    // what the first login on the build droplet left: no hook, the account key, the certificate, the edited site
    put(root, 'root/.bashrc', '# ~/.bashrc\n');
    put(
      root,
      'etc/letsencrypt/accounts/acme.example/directory/0123abcd/private_key.json',
      '{"n": "ACCOUNTKEYBYTES"}',
      0o400,
    );
    put(root, 'etc/letsencrypt/archive/shop.example.com/cert1.pem', 'cert');
    put(root, 'etc/letsencrypt/archive/shop.example.com/privkey1.pem', 'key', 0o600);
    link(root, 'etc/letsencrypt/live/shop.example.com/cert.pem', '../../archive/shop.example.com/cert1.pem');
    put(root, 'etc/letsencrypt/renewal/shop.example.com.conf', 'server = https://acme.example/dir\n');
    put(root, 'etc/letsencrypt/options-ssl-nginx.conf', 'ssl_session_cache shared:le_nginx_SSL:10m;\n');
    put(root, 'etc/nginx/sites-available/default', CERTBOT_SITE);
    link(root, 'etc/nginx/sites-enabled/default', '/etc/nginx/sites-available/default');
    put(root, `var/lib/mpimg/${SLUG}/tls-domain`, 'shop.example.com\n', 0o600);
    const site =
      '/etc/nginx/sites-available/default uses a certificate of /etc/letsencrypt/live (certbot configured it on the build droplet): no droplet has it, so the web server would not start; build from a fresh droplet, or undo certbot\'s lines ("# managed by Certbot")';
    const hook =
      '/root/.bashrc has no mpimg first-login hook (the first login already ran on the build droplet?): no droplet would be asked for its domain; build from a fresh droplet';
    const before = pick(checkJson(root, ['--certbot', 'nginx']).report);
    expect(before?.status).toBe('fail');
    expect(before?.evidence).toEqual([
      '/etc/letsencrypt/live holds 1 certificate(s) with their keys: every droplet would share them (remove /etc/letsencrypt/live, archive and renewal)',
      '/etc/letsencrypt/accounts holds 1 file(s) of a certbot run on the build droplet (the ACME account key): every droplet would share them (the cleanup removes them)',
      '/etc/letsencrypt/renewal holds 1 file(s) of a certbot run on the build droplet: every droplet would share them (the cleanup removes them)',
      '/etc/letsencrypt/archive holds 2 file(s) of a certbot run on the build droplet: every droplet would share them (the cleanup removes them)',
      site,
      hook,
    ]);

    const r = cleanup(root);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toContain('ACCOUNTKEYBYTES');
    for (const d of ['accounts', 'archive', 'live', 'renewal'])
      expect(exists(root, `etc/letsencrypt/${d}`), d).toBe(false);
    // certbot's shared settings are no secret; the recorded domain (the MOTD's) goes with the other records
    expect(exists(root, 'etc/letsencrypt/options-ssl-nginx.conf')).toBe(true);
    expect(exists(root, `var/lib/mpimg/${SLUG}/tls-domain`)).toBe(false);
    // what only a rebuild (or the vendor's hand) undoes stays named
    expect(pick(checkJson(root, ['--certbot', 'nginx']).report)?.evidence).toEqual([site, hook]);
    expect(cleanup(root).stdout).toMatch(/0 change\(s\)/);
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
