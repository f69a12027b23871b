/**
 * The custom scopes each call of this client needs (DigitalOcean's API description names them per
 * endpoint; `<resource>:read|create|update|delete` by HTTP verb). A 403 from a custom-scoped token is
 * answered with the scopes of the call that was refused, not with "the token lacks something".
 */

interface ScopeRule {
  method: string;
  path: RegExp;
  scopes: (query: URLSearchParams, body: unknown) => string[];
}

const field = (body: unknown, key: string): unknown =>
  body && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;
const nonEmpty = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

const RULES: ScopeRule[] = [
  {
    method: 'GET',
    path: /^\/v2\/droplets$/,
    scopes: (q) => ['droplet:read', ...(q.has('tag_name') ? ['tag:read'] : [])],
  },
  // The image, the SSH keys and the tags of a new droplet are read or made with their own scopes.
  {
    method: 'POST',
    path: /^\/v2\/droplets$/,
    scopes: (_q, b) => [
      'droplet:create',
      'image:read',
      ...(nonEmpty(field(b, 'ssh_keys')) ? ['ssh_key:read'] : []),
      ...(nonEmpty(field(b, 'tags')) ? ['tag:create'] : []),
    ],
  },
  { method: 'GET', path: /^\/v2\/droplets\/\d+$/, scopes: () => ['droplet:read'] },
  { method: 'DELETE', path: /^\/v2\/droplets\/\d+$/, scopes: () => ['droplet:delete'] },
  {
    method: 'POST',
    path: /^\/v2\/droplets\/\d+\/actions$/,
    scopes: (_q, b) => ['droplet:update', ...(field(b, 'type') === 'snapshot' ? ['image:create'] : [])],
  },
  { method: 'GET', path: /^\/v2\/droplets\/\d+\/(actions|snapshots)(\/\d+)?$/, scopes: () => ['droplet:read'] },
  { method: 'GET', path: /^\/v2\/actions\/\d+$/, scopes: () => ['actions:read'] },
  { method: 'GET', path: /^\/v2\/images(\/\d+)?$/, scopes: () => ['image:read'] },
  { method: 'GET', path: /^\/v2\/account\/keys$/, scopes: () => ['ssh_key:read'] },
];

/** The scopes a call needs, or undefined for a call this table does not know (the Vendor API has none of its own). */
export function scopesFor(
  method: string,
  pathname: string,
  query: URLSearchParams = new URLSearchParams(),
  body?: unknown,
): string[] | undefined {
  const rule = RULES.find((r) => r.method === method && r.path.test(pathname));
  return rule?.scopes(query, body);
}

/** What each command needs of a custom-scoped token, for its usage text and the README. */
export const COMMAND_SCOPES: Record<'image' | 'verify' | 'outdated' | 'snapshot' | 'release', readonly string[]> = {
  image: [
    'droplet:create',
    'droplet:read',
    'droplet:update',
    'droplet:delete',
    'image:create',
    'image:read',
    'ssh_key:read',
    'tag:create',
    'tag:read',
    'actions:read',
  ],
  verify: ['droplet:create', 'droplet:read', 'droplet:delete', 'image:read', 'ssh_key:read', 'tag:create', 'tag:read'],
  // --image boots its droplet the way verify does.
  outdated: [
    'droplet:create',
    'droplet:read',
    'droplet:delete',
    'image:read',
    'ssh_key:read',
    'tag:create',
    'tag:read',
  ],
  snapshot: ['droplet:read', 'droplet:update', 'image:create', 'image:read', 'actions:read'],
  // The Vendor API names no scopes of its own: it wants write access (README "Update your App Image via API").
  release: ['image:read'],
};
