/**
 * Secrets in the environment. The DigitalOcean token is for the API client only: every child process
 * (ssh, tar, the vendor's tasks) starts from `childEnv()`, so a token never reaches a droplet, a log
 * or a build script by inheritance. A task that really needs the token asks for it with `apiToken()`.
 */

/** Environment variables that hold a DigitalOcean API token (doctl's and ours). */
export const TOKEN_VARS: readonly string[] = [
  'DIGITALOCEAN_ACCESS_TOKEN',
  'DIGITALOCEAN_TOKEN',
  'DIGITALOCEAN_API_TOKEN',
  'PKR_VAR_do_token',
  'PKR_VAR_do_access_token',
];

/**
 * Values taken out of process.env by stashTokens(). Kept under a global symbol, not in a module
 * variable: the CLI and an image project's mpimgfile may load different copies of this library, and
 * apiToken() in the project's copy must see what the CLI's copy stashed.
 */
const STASH_KEY = Symbol.for('generator-mpimg.token-stash');
const holder = globalThis as unknown as Record<symbol, Map<string, string> | undefined>;
const stash: Map<string, string> = holder[STASH_KEY] ?? (holder[STASH_KEY] = new Map<string, string>());

/** A copy of `env` without the token variables. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const k of TOKEN_VARS) delete out[k];
  // Build secret values (tasks/build-secrets.ts) reach the build only the way the tasks send them.
  for (const k of Object.keys(out)) if (k.startsWith('MPIMG_BUILD_SECRET_')) delete out[k];
  return out;
}

/**
 * Moves the token variables out of process.env (so code that spawns with the default environment
 * cannot pass them on) into a private store. Returns a function that puts them back.
 */
export function stashTokens(env: NodeJS.ProcessEnv = process.env): () => void {
  const taken: Array<[string, string]> = [];
  for (const k of TOKEN_VARS) {
    const v = env[k];
    if (v === undefined) continue;
    taken.push([k, v]);
    if (!stash.has(k)) stash.set(k, v);
    delete env[k];
  }
  return () => {
    for (const [k, v] of taken) {
      env[k] = v;
      stash.delete(k);
    }
  };
}

/**
 * The API token for a task that needs it explicitly (e.g. to call the API from a build step):
 * from the stash when the CLI took it out of the environment, else from the environment.
 */
export function apiToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const k of ['DIGITALOCEAN_ACCESS_TOKEN', 'DIGITALOCEAN_TOKEN']) {
    const v = stash.get(k) ?? env[k];
    if (v) return v;
  }
  return undefined;
}

/**
 * The token values this process knows, from `envs` and from the stash: what `mpimg run` masks in
 * the terminal output and the log, should a task print one.
 */
export function tokenValues(...envs: NodeJS.ProcessEnv[]): string[] {
  const out = new Set<string>();
  for (const env of envs) {
    for (const k of TOKEN_VARS) {
      const v = env[k];
      if (v) out.add(v);
    }
  }
  for (const v of stash.values()) out.add(v);
  return [...out];
}
