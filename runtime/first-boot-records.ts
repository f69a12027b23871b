/**
 * What first boot makes on a droplet that the plan does not name, for `status` and `uninstall` of both
 * executors (the node runtime reads these lists here; the sh twin gets them written in by the bundler):
 * the units marked afterFirstBoot and the record that releases them, and what uninstall leaves (the
 * templates filled in with this droplet's secrets, the credentials file, first boot's records and
 * logs). Uninstall keeps those: they hold the droplet's passwords, which its services and customer
 * use, so it names each with how to remove it rather than taking them away. Node 18 APIs only.
 */
import type { Plan } from './plan.js';
import { afterFirstBootDropIn, firstBootReady } from './sections/services.js';

/** The root-only folder of the runtime home with the unfilled copies of the templates. */
export const templatesDir = (home: string): string => `${home}/templates`;

/** The units the plan lays a drop-in for (afterFirstBoot), in plan order. */
export function heldUnits(plan: Pick<Plan, 'ops' | 'slug'>): string[] {
  const re = /^\/etc\/systemd\/system\/(.+)\.d\/[^/]+$/;
  return plan.ops.flatMap((op) => {
    const unit = op.kind === 'file' ? re.exec(op.path)?.[1] : undefined;
    return unit && op.path === afterFirstBootDropIn(plan.slug, unit) ? [unit] : [];
  });
}

/** The record that releases them (their drop-in's ConditionPathExists). */
export const readyRecord = (plan: Pick<Plan, 'state'>): string => firstBootReady(plan.state);

/** How `status` words the units (the sh twin prints the same). */
export function heldLine(units: string[], released: boolean, ready: string): string {
  const how = released
    ? `released (first boot made ${ready})`
    : `held until first boot set this droplet up (no ${ready})`;
  return `  units marked afterFirstBoot, ${how}: ${units.join(', ')}`;
}

export interface Leftover {
  op: 'file' | 'dir';
  path: string;
  note: string;
}

/**
 * What uninstall leaves when it is there, in this order: each template the image did not carry at
 * its path (first boot wrote it there with the secrets), the credentials file, the state and log folders.
 */
export function leftovers(plan: Pick<Plan, 'ops' | 'home' | 'state' | 'logs'>, credentials: string): Leftover[] {
  const copies = `${templatesDir(plan.home)}/`;
  const planned = new Set(plan.ops.map((op) => op.path));
  const templates = plan.ops
    .filter((op) => op.kind === 'file' && op.path.startsWith(copies))
    .map((op) => op.path.slice(copies.length - 1))
    .filter((target) => !planned.has(target));
  return [
    ...templates.map((path) => ({
      op: 'file' as const,
      path,
      note: "filled in at first boot, it holds this droplet's secrets: remove it (rm) once nothing uses it",
    })),
    {
      op: 'file',
      path: credentials,
      note: 'the passwords first boot saved: remove it (rm) once they are kept elsewhere',
    },
    {
      op: 'dir',
      path: plan.state,
      note: "first boot's records of this droplet: remove it (rm -r) once they are not needed",
    },
    { op: 'dir', path: plan.logs, note: "first boot's logs: remove it (rm -r) once they are not needed" },
  ];
}
