/**
 * THE rule source of mpimg.json: one JSON Schema (in the subset runtime/schema.ts validates), put
 * together from one module per section (sections/): each holds its keys' rules, x-checks, docs text
 * and TypeScript type; this file only assembles them, in the order editors and docs/manifest.md
 * show. validateManifest (generator, bundler, runtime) validates with it; `npm run build` publishes
 * it as mpimg.schema.json for editors. What only code can say (reserved names, duplicates, unsafe
 * paths) is an `x-check`, also described in the schema's text.
 */
import type { Check, Problem } from './schema.js';
import { ACME_CHECKS } from './sections/acme.js';
import { ACCOUNT_CHECKS, DIRECTORIES_SCHEMA, USERS_SCHEMA } from './sections/accounts.js';
import { BUILD_CHECKS, BUILD_SCHEMA } from './sections/build.js';
import { BUILD_SECRET_CHECKS } from './sections/build-secrets.js';
import { CERTBOT_CHECKS, CERTBOT_SCHEMA } from './sections/certbot.js';
import { CHECK_SCHEMA } from './sections/check.js';
import { CLEANUP_SCHEMA } from './sections/cleanup.js';
import { COMMON_CHECKS, obj } from './sections/common.js';
import { CREDENTIALS_CHECKS, CREDENTIALS_SCHEMA } from './sections/credentials.js';
import { DROPLET_SCHEMA } from './sections/droplet.js';
import { DOCKER_CHECKS, DOCKER_SCHEMA } from './sections/docker.js';
import { FILES_SCHEMA, SEEDED_SCHEMA } from './sections/files.js';
import { FAIL2BAN_CHECKS, FAIL2BAN_SCHEMA } from './sections/fail2ban.js';
import { CADDY_CHECKS, CADDY_SCHEMA } from './sections/caddy.js';
import { FIREWALL_CHECKS, FIREWALL_SCHEMA } from './sections/firewall.js';
import { FIRST_BOOT_CHECKS, FIRST_BOOT_PROPERTIES } from './sections/first-boot.js';
import { IDENTITY_CHECKS, IDENTITY_PROPERTIES, IDENTITY_REQUIRED } from './sections/identity.js';
import { LISTING_CHECKS, LISTING_SCHEMA } from './sections/listing.js';
import { FIRST_LOGIN_SCHEMA, LOGIN_HOLD_SCHEMA, MOTD_SCHEMA } from './sections/login.js';
import { REGENERATE_CHECKS, REGENERATE_SCHEMA } from './sections/regenerate.js';
import { SECRET_CHECKS, SECRETS_SCHEMA } from './sections/secrets.js';
import { SECURITY_UPDATES_CHECKS, SECURITY_UPDATES_SCHEMA } from './sections/security-updates.js';
import { SERVICES_SCHEMA } from './sections/services.js';
import { SNAPSHOT_SCHEMA } from './sections/snapshot.js';
import { VARIABLE_CHECKS, VARIABLES_SCHEMA } from './sections/variables.js';
import { VERIFY_SCHEMA } from './sections/verify.js';

export const SCHEMA_ID = 'https://raw.githubusercontent.com/generator-mpimg/generator-mpimg/main/mpimg.schema.json';

export { RESERVED_VENDORS } from './policy.js';

export const MANIFEST_SCHEMA = obj(
  {
    ...IDENTITY_PROPERTIES,
    ...FIRST_BOOT_PROPERTIES,
    firstLogin: FIRST_LOGIN_SCHEMA,
    motd: MOTD_SCHEMA,
    files: FILES_SCHEMA,
    seeded: SEEDED_SCHEMA,
    loginHold: LOGIN_HOLD_SCHEMA,
    variables: VARIABLES_SCHEMA,
    secrets: SECRETS_SCHEMA,
    regenerate: REGENERATE_SCHEMA,
    users: USERS_SCHEMA,
    directories: DIRECTORIES_SCHEMA,
    services: SERVICES_SCHEMA,
    firewall: FIREWALL_SCHEMA,
    fail2ban: FAIL2BAN_SCHEMA,
    caddy: CADDY_SCHEMA,
    certbot: CERTBOT_SCHEMA,
    docker: DOCKER_SCHEMA,
    securityUpdates: SECURITY_UPDATES_SCHEMA,
    credentials: CREDENTIALS_SCHEMA,
    build: BUILD_SCHEMA,
    cleanup: CLEANUP_SCHEMA,
    check: CHECK_SCHEMA,
    droplet: DROPLET_SCHEMA,
    snapshot: SNAPSHOT_SCHEMA,
    verify: VERIFY_SCHEMA,
    listing: LISTING_SCHEMA,
  },
  { required: IDENTITY_REQUIRED },
);

/** The published form (`$schema`, `$id`, title) around the rules. */
export function schemaDocument(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: SCHEMA_ID,
    title: 'mpimg.json: a DigitalOcean Marketplace 1-click image project (generator-mpimg)',
    ...MANIFEST_SCHEMA,
  };
}

export const MANIFEST_CHECKS: Record<string, Check> = {
  ...COMMON_CHECKS,
  ...IDENTITY_CHECKS,
  ...FIRST_BOOT_CHECKS,
  ...BUILD_CHECKS,
  ...BUILD_SECRET_CHECKS,
  ...ACCOUNT_CHECKS,
  ...FIREWALL_CHECKS,
  ...FAIL2BAN_CHECKS,
  ...CADDY_CHECKS,
  ...DOCKER_CHECKS,
  ...ACME_CHECKS,
  ...CERTBOT_CHECKS,
  ...SECURITY_UPDATES_CHECKS,
  ...CREDENTIALS_CHECKS,
  ...LISTING_CHECKS,
  ...VARIABLE_CHECKS,
  ...SECRET_CHECKS,
  ...REGENERATE_CHECKS,
};

export type { Problem };
