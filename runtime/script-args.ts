/**
 * What the cleanup and the image check are told of the project, as arguments made from mpimg.json
 * whenever they run (never copied into the scripts by hand): the firewall's rules, and where first
 * boot leaves one droplet's secrets (the credentials file, the templates it fills in, the package-made
 * secrets it makes anew: $.regenerate). A project's
 * own copy of a script that has no such option (an older or a hand-written one) is not given it.
 */
import type { Manifest } from './manifest.js';
import { runtimeHome } from './policy.js';
import { certbotCheckArg } from './sections/certbot.js';
import { credentialsFile } from './sections/credentials.js';
import { fail2banCheckArg } from './sections/fail2ban.js';
import { dockerCheckArg } from './sections/docker.js';
import { checkArgs } from './sections/firewall.js';
import { regeneratedPaths } from './sections/regenerate.js';
import { securityUpdatesCheckArg } from './sections/security-updates.js';

type Project = Pick<
  Manifest,
  | 'slug'
  | 'vendor'
  | 'credentials'
  | 'files'
  | 'firewall'
  | 'regenerate'
  | 'fail2ban'
  | 'securityUpdates'
  | 'certbot'
  | 'caddy'
  | 'docker'
>;

/** The script has this option (its argument parser has a `--flag)` case). */
export const knowsFlag = (script: string, flag: string): boolean => script.includes(`${flag})`);

/** The credentials file and the runtime home (where each template's unfilled copy is). */
function secretArgs(m: Project, script: string, withTemplates: boolean): string[] {
  const out: string[] = [];
  if (knowsFlag(script, '--credentials')) out.push('--credentials', credentialsFile(m));
  if (knowsFlag(script, '--regenerate')) for (const p of regeneratedPaths(m.regenerate)) out.push('--regenerate', p);
  if (withTemplates && knowsFlag(script, '--template') && m.files?.templates?.length) {
    out.push('--runtime-home', runtimeHome(m.vendor, m.slug));
    for (const t of m.files.templates) out.push('--template', t);
  }
  return out;
}

/** $.fail2ban's jails and $.securityUpdates' reboot policy, for a check that knows the flags. */
function hardeningArgs(m: Project, script: string): string[] {
  const out: string[] = [];
  if (m.fail2ban?.jails.length && knowsFlag(script, '--fail2ban')) out.push('--fail2ban', fail2banCheckArg(m.fail2ban));
  if (m.certbot && knowsFlag(script, '--certbot')) out.push('--certbot', certbotCheckArg(m.certbot));
  if (m.securityUpdates?.automatic && knowsFlag(script, '--security-updates'))
    out.push('--security-updates', securityUpdatesCheckArg(m.securityUpdates));
  if (m.docker && knowsFlag(script, '--docker')) out.push('--docker', dockerCheckArg(m.docker, m.slug));
  return out;
}

/** The image check's arguments from mpimg.json (before the caller's own). */
export const imageCheckArgs = (m: Project, checkScript: string): string[] => [
  ...checkArgs(m.firewall, checkScript),
  ...secretArgs(m, checkScript, true),
  ...hardeningArgs(m, checkScript),
  ...(m.caddy && knowsFlag(checkScript, '--caddy') ? ['--caddy'] : []),
];

/** The cleanup's arguments from mpimg.json (before the caller's own). */
export const cleanupArgs = (m: Project, cleanupScript: string): string[] => [
  ...secretArgs(m, cleanupScript, false),
  ...(m.caddy && knowsFlag(cleanupScript, '--caddy') ? ['--caddy'] : []),
];

/** The options of mpimg.json's facts the project's own check lacks (for a note: they are not checked). */
export const missingCheckFlags = (m: Project, checkScript: string): string[] =>
  [
    m.firewall ? '--firewall' : '',
    '--credentials',
    m.files?.templates?.length ? '--template' : '',
    m.fail2ban ? '--fail2ban' : '',
    m.securityUpdates?.automatic ? '--security-updates' : '',
    m.caddy ? '--caddy' : '',
    m.certbot ? '--certbot' : '',
    m.docker ? '--docker' : '',
  ].filter((f) => f && !knowsFlag(checkScript, f));
