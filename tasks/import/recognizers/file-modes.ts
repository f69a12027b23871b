/**
 * `chmod +x FILE` (or 0755, 0600, ...) of a file files/ lays down: files/ keeps modes, so the mode
 * goes onto the project's copy and the line is not needed.
 */
import type { Recognizer } from '../state.js';
import { plainArgs, plainCommands, prog, quietRedirects } from './util.js';

/** The mode after `chmod SPEC` on a file of mode `mode`, for the specs build scripts use. */
export function applyMode(spec: string, mode: number): number | undefined {
  if (/^0?[0-7]{3,4}$/.test(spec)) return parseInt(spec, 8);
  const m = /^([ugoa]*)([+-])([rwx]+)$/.exec(spec);
  if (!m) return undefined;
  const who = m[1] === '' || m[1].includes('a') ? 'ugo' : m[1];
  let bits = 0;
  for (const w of who) {
    const shift = w === 'u' ? 6 : w === 'g' ? 3 : 0;
    for (const p of m[3]) bits |= (p === 'r' ? 4 : p === 'w' ? 2 : 1) << shift;
  }
  // chmod +w without a who leaves out what the umask would (022): group and other stay unwritable
  if (m[1] === '' && m[3].includes('w')) bits &= ~0o022;
  return m[2] === '+' ? mode | bits : mode & ~bits;
}

export const fileModes: Recognizer = {
  name: 'file modes',
  roles: ['build'],
  match(u, view) {
    const cmds = plainCommands(u);
    if (!cmds || cmds.length !== 1 || !quietRedirects(cmds[0])) return undefined;
    const a = plainArgs(cmds[0]);
    if (!a || prog(a) !== 'chmod' || a.length < 3) return undefined;
    const [, spec, ...paths] = a;
    const st = view.state;
    if (!paths.every((p) => st.filesAt.has(p) && st.fileModes.has(p) && !st.moved.has(p))) return undefined;
    const next = new Map<string, number>();
    for (const p of paths) {
      const m = applyMode(spec, st.fileModes.get(p)!);
      if (m === undefined) return undefined;
      next.set(p, m);
    }
    for (const [p, m] of next) st.fileModes.set(p, m);
    return {
      became: `the mode of ${paths.map((p) => st.filesAt.get(p)).join(', ')} (${[...next.values()].map((m) => `0${m.toString(8)}`).join(', ')}): files/ keeps modes`,
    };
  },
};
