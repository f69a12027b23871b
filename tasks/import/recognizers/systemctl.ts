/**
 * `systemctl enable UNIT...` at build becomes $.services (enabled at build, after the build
 * scripts). `--now` also started it: a `systemctl start` stays in its place.
 */
import { validateManifest } from '../../../runtime/manifest.js';
import { UNIT_RE } from '../../../runtime/sections/services.js';
import { argv } from '../shell.js';
import type { Recognizer } from '../state.js';
import { comment, plainCommands, prog, quietRedirects } from './util.js';

export const systemctlEnable: Recognizer = {
  name: 'systemctl enable',
  roles: ['build'],
  match(u, view) {
    const cmds = plainCommands(u);
    if (!cmds || cmds.length !== 1 || !quietRedirects(cmds[0]) || cmds[0].assigns.length) return undefined;
    const w = argv(cmds[0]);
    if (prog(w) !== 'systemctl' || w[1]?.text !== 'enable' || !w.every((x) => x.plain)) return undefined;
    let now = false;
    const units: string[] = [];
    for (const a of w.slice(2).map((x) => x.text)) {
      if (a === '--now') now = true;
      else if (a === '-q' || a === '--quiet') continue;
      else if (a.startsWith('-')) return undefined;
      else units.push(/\.(service|socket|timer|path)$/.test(a) ? a : `${a}.service`);
    }
    if (units.length === 0 || units.some((n) => !UNIT_RE.test(n) || view.state.refused.has(`service:${n}`)))
      return undefined;
    const entries = units.map((name) => ({ name, firstBoot: 'none' as const }));
    const probe = {
      name: 'p',
      slug: 'probe',
      vendor: 'probe',
      version: '1',
      distributions: ['ubuntu-24-04-x64'],
      services: entries,
    };
    if (validateManifest(probe).problems.length) return undefined;
    // The firewall step enables the firewall itself.
    const mine = units.filter((n) => !(view.state.firewallMode === 'map' && n === 'ufw.service'));
    for (const n of mine) if (!view.state.services.includes(n)) view.state.services.push(n);
    const became = `services: ${units.join(' ')}${mine.length < units.length ? ' (ufw.service: the firewall step enables it)' : ''}`;
    if (now)
      return {
        became: `${became}; started here as before`,
        replace: `${comment(u, became)}\n${/^[ \t]*/.exec(u.text)![0]}systemctl start ${units.join(' ')}`,
        kept: true,
      };
    return { became };
  },
};
