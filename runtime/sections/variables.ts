/** $.variables: named values (APP_VERSION, ...) with defaults, overridable per build. */
import type { Schema } from '../schema.js';
import { obj, str } from './common.js';

export const VARIABLE_NAME_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

export type Variable = string | { default: string; description?: string };

export const VARIABLES_SCHEMA: Schema = {
  type: 'object',
  description: 'Named values with defaults, e.g. {"APP_VERSION": "2.4.1"}. Override one per build with `mpimg bundle --var APP_VERSION=2.5.0` (or MPIMG_VAR_APP_VERSION=2.5.0 in the environment). They reach build scripts as environment, first-boot and first-login scripts through the helper library, the MOTD as {{APP_VERSION}}, and the Packer template.',
  propertyNames: { pattern: VARIABLE_NAME_RE.source },
  additionalProperties: {
    anyOf: [
      str({ description: 'The default value.' }),
      obj({ default: str({ description: 'The default value.' }), description: str({ description: 'What it is for.' }) }, { required: ['default'] }),
    ],
  },
  'x-hint': 'names of capital letters, digits and "_", starting with a letter (e.g. APP_VERSION); values are strings',
};

/** The value of every variable: defaults, then the overrides given for this build. */
export function resolveVariables(vars: Record<string, Variable> | undefined, overrides: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars ?? {})) out[k] = typeof v === 'string' ? v : v.default;
  for (const [k, v] of Object.entries(overrides)) out[k] = v;
  return out;
}
