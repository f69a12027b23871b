/**
 * Waiting for cloud-init at the start of a build (`cloud-init status --wait`, or a loop on
 * boot-finished): the package's wait-boot step does it, with a bound.
 */
import { argv } from '../shell.js';
import type { Recognizer } from '../state.js';
import { plainPipelines, prog } from './util.js';

const BOOT_FINISHED_LOOP =
  /^\s*(until|while)\s+(\[\s+!?\s*-[ef]\s+\/var\/lib\/cloud\/instance\/boot-finished\s+\]|test\s+!?\s*-[ef]\s+\/var\/lib\/cloud\/instance\/boot-finished)\s*;?\s*(do|\n\s*do)\b[\s\S]*\bdone\s*$/;

export const cloudInit: Recognizer = {
  name: 'cloud-init wait',
  roles: ['build'],
  match(u) {
    if (u.kind === 'compound')
      return BOOT_FINISHED_LOOP.test(u.text)
        ? { became: 'dropped (waiting for cloud-init: the wait-boot step does it)' }
        : undefined;
    const p = plainPipelines(u) ?? (u.list && u.list.ops.every((o) => o === '||') ? u.list.pipelines : undefined);
    if (!p || p.length === 0) return undefined;
    const [first, ...rest] = p;
    if (first.commands.length !== 1) return undefined;
    const w = argv(first.commands[0]).map((x) => x.text);
    if (
      prog(w) !== 'cloud-init' ||
      w[1] !== 'status' ||
      !w.includes('--wait') ||
      w.slice(2).some((a) => !/^(--wait|-w|--long|-l)$/.test(a))
    )
      return undefined;
    // `|| true`, `|| :` after it, or nothing
    if (rest.some((x) => x.commands.length !== 1 || !['true', ':'].includes(argv(x.commands[0])[0]?.text ?? '')))
      return undefined;
    return { became: 'dropped (waiting for cloud-init: the wait-boot step does it)' };
  },
};
