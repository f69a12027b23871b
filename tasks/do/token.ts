import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { MpimgError } from '../../core/errors.js';

/** Where the token came from: reported to the user instead of the token itself. */
export type TokenSource = 'DIGITALOCEAN_ACCESS_TOKEN' | 'DIGITALOCEAN_TOKEN' | 'doctl config';

export interface ResolvedToken {
  token: string;
  source: TokenSource;
  /** The doctl config file, when the token came from it. */
  file?: string;
}

/**
 * doctl's config file: DIGITALOCEAN_CONFIG (doctl's --config as an environment variable), else the OS
 * user-config folder (Go's os.UserConfigDir): $XDG_CONFIG_HOME or ~/.config on Linux, ~/Library/
 * Application Support on macOS. HOME/XDG_CONFIG_HOME are read from the env passed in so tests never
 * look at the real home.
 */
export function doctlConfigPath(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string {
  if (env.DIGITALOCEAN_CONFIG?.trim()) return resolve(env.DIGITALOCEAN_CONFIG.trim());
  const home = env.HOME ?? homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'doctl', 'config.yaml');
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'doctl', 'config.yaml');
  return join(home, '.config', 'doctl', 'config.yaml');
}

function unquote(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))))
    return v.slice(1, -1);
  return v.replace(/\s+#.*$/, '');
}

/** A top-level `key: value` of doctl's YAML config (nested keys are indented and never match). */
function topLevel(lines: string[], key: string): string | undefined {
  for (const line of lines) {
    const m = new RegExp(`^${key}:[ \t]*(.*)$`).exec(line);
    if (m) return unquote(m[1]) || undefined;
  }
  return undefined;
}

/**
 * The token of doctl's current context: `context:` (or DIGITALOCEAN_CONTEXT) names an entry of
 * `auth-contexts:`; the default context uses the top-level `access-token:`.
 */
export function doctlContextToken(yaml: string, context?: string): string | undefined {
  const lines = yaml.split(/\r?\n/);
  const top = (key: string) => topLevel(lines, key);
  const ctx = context || top('context');
  if (ctx && ctx !== 'default') {
    let inside = false;
    for (const line of lines) {
      if (/^auth-contexts:\s*$/.test(line)) {
        inside = true;
        continue;
      }
      if (inside && /^\S/.test(line)) break;
      const m = inside ? /^[ \t]+([^:#]+?):[ \t]*(.*)$/.exec(line) : null;
      if (m && unquote(m[1]) === ctx) return unquote(m[2]) || undefined;
    }
    return undefined;
  }
  return top('access-token');
}

/**
 * Reads the top-level `access-token:` of doctl's YAML config. doctl writes it as a plain scalar,
 * sometimes quoted; nested keys (auth-contexts) are indented and therefore ignored here.
 */
export function parseDoctlAccessToken(yaml: string): string | undefined {
  return doctlContextToken(yaml, 'default');
}

/** doctl's config file (see doctlConfigPath) and its text; no text when there is none to read. */
function readDoctlConfig(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): { file: string; text?: string } {
  const file = doctlConfigPath(env, platform);
  try {
    return { file, text: readFileSync(file, 'utf8') };
  } catch {
    return { file };
  }
}

/** DIGITALOCEAN_ACCESS_TOKEN (doctl), then DIGITALOCEAN_TOKEN (Packer/Terraform), then doctl's config file. */
export function resolveToken(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): ResolvedToken {
  const a = env.DIGITALOCEAN_ACCESS_TOKEN?.trim();
  if (a) return { token: a, source: 'DIGITALOCEAN_ACCESS_TOKEN' };
  const b = env.DIGITALOCEAN_TOKEN?.trim();
  if (b) return { token: b, source: 'DIGITALOCEAN_TOKEN' };
  const { file, text } = readDoctlConfig(env, platform);
  const fromFile = text === undefined ? undefined : doctlContextToken(text, env.DIGITALOCEAN_CONTEXT);
  if (fromFile) return { token: fromFile, source: 'doctl config', file };
  if (text !== undefined && (env.DIGITALOCEAN_CONTEXT || /^context:/m.test(text))) {
    throw new MpimgError("doctl's current context has no access token", {
      where: `${file} (context ${env.DIGITALOCEAN_CONTEXT ?? 'from the file'})`,
      hint: 'run `doctl auth switch --context <name>` or `doctl auth init`, or export DIGITALOCEAN_ACCESS_TOKEN',
    });
  }
  throw new MpimgError('no DigitalOcean API token found', {
    where: `DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN and ${file} (access-token)`,
    hint: 'export DIGITALOCEAN_ACCESS_TOKEN=<token> (or DIGITALOCEAN_TOKEN), or run `doctl auth init`; create a token at https://cloud.digitalocean.com/account/api/tokens',
  });
}

export interface ResolvedApiUrl {
  url: string;
  /** Where it came from, for messages: the variable, the config file's key, or the default. */
  source: string;
}

/**
 * The API endpoint the way doctl finds it: DIGITALOCEAN_API_URL, else `api-url:` of its config file
 * (see doctlConfigPath), else DigitalOcean's own. Needs no token (dry runs print it).
 */
export function resolveApiUrl(
  env: NodeJS.ProcessEnv,
  defaultUrl: string,
  platform: NodeJS.Platform = process.platform,
): ResolvedApiUrl {
  const fromEnv = env.DIGITALOCEAN_API_URL?.trim();
  if (fromEnv) return { url: fromEnv, source: 'DIGITALOCEAN_API_URL' };
  const { file, text } = readDoctlConfig(env, platform);
  const fromFile = text === undefined ? undefined : topLevel(text.split(/\r?\n/), 'api-url');
  if (fromFile) return { url: fromFile, source: `api-url in ${file}` };
  return { url: defaultUrl, source: 'the default' };
}
