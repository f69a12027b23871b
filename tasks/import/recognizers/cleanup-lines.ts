/**
 * Single lines of DigitalOcean's cleanup inside another build script (history -c, emptying /tmp,
 * deleting keys and logs): the package's cleanup does them at the end of the build, where they
 * belong; run in the middle of a build they can cut the build's own SSH access.
 */
import { isCleanupLine } from '../do-scripts.js';
import { argv, commandsOf } from '../shell.js';
import type { Recognizer } from '../state.js';
import { prog } from './util.js';

const CLEANUP_PROGRAMS = new Set([
  'rm',
  'history',
  'cat',
  'unset',
  'find',
  'truncate',
  'touch',
  'chmod',
  'dd',
  'sync',
  'journalctl',
  'shred',
]);

export const cleanupLines: Recognizer = {
  name: 'cleanup lines',
  roles: ['build'],
  match(u) {
    if (u.kind !== 'command' || !u.list || u.text.includes('\n')) return undefined;
    const cmds = commandsOf(u);
    if (cmds.length === 0 || cmds.some((c) => !CLEANUP_PROGRAMS.has(prog(argv(c))) || c.assigns.length))
      return undefined;
    if (!isCleanupLine(u.text.trim().replace(/\s+/g, ' '))) return undefined;
    return { became: "dropped (a line of DigitalOcean's cleanup: the package's cleanup runs at the end of the build)" };
  },
};
