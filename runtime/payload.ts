import type { Manifest } from './manifest.js';
import type { Plan } from './plan.js';

/** What `mpimg bundle` embeds into the runtime: everything the droplet needs, nothing else. */
export interface Payload {
  format: 1;
  generator: string;
  manifest: Manifest;
  plan: Plan;
  /** base64 of scripts/90-cleanup.sh and scripts/99-img-check.sh, run by `cleanup` and `check`. */
  scripts: { cleanup: string; check: string };
  /** $.variables for this build: the defaults overridden by `mpimg bundle --var` / MPIMG_VAR_<NAME>. */
  variables: Record<string, string>;
}

/** The bundler replaces this exact string literal (quotes included) with the payload's JSON. */
export const PAYLOAD_SENTINEL = '@@MPIMG_PAYLOAD@@';
