/** Makes a unit of the build list: its definition plus its standard task. */
import { standard } from '../standard/registry.js';
import type { BuildStep, BuildStepDef } from './types.js';

export function defineStep(def: BuildStepDef): BuildStep {
  return Object.freeze({ ...def, task: standard(def.name, def.summary, def.run) });
}
