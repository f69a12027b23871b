/**
 * Build lines about files the import moved out of files/: `chmod +x` of a per-instance script or
 * the MOTD script (first-boot steps and the MOTD are installed executable), and a `sed` that fills
 * a {{PLACEHOLDER}} of the MOTD from a template variable (the MOTD's {{VARIABLE}} does that now).
 */
import { argv } from '../shell.js';
import type { Recognizer } from '../state.js';
import { plainCommands, prog, quietRedirects } from './util.js';

export const MOTD_TARGET = /^\/etc\/update-motd\.d\//;

export const movedFiles: Recognizer = {
  name: 'moved files',
  roles: ['build'],
  match(u, view) {
    const cmds = plainCommands(u);
    if (!cmds || cmds.length !== 1 || !quietRedirects(cmds[0])) return undefined;
    const w = argv(cmds[0]);
    const p = prog(w);
    if (p === 'chmod' && w.every((x) => x.plain)) {
      const a = w.slice(1).map((x) => x.text);
      if (a.length < 2 || !/^([ugoa]*\+x|0?7[57][57])$/.test(a[0])) return undefined;
      const paths = a.slice(1);
      if (!paths.every((x) => view.state.moved.has(x))) return undefined;
      return {
        became: `dropped (${paths.map((x) => view.state.moved.get(x)).join(', ')} ${paths.length === 1 ? 'is' : 'are'} installed executable)`,
      };
    }
    if (p === 'sed') {
      // sed -i "s/{{NAME}}/${var}/g" /etc/update-motd.d/99-one-click
      const a = w.slice(1);
      const file = a[a.length - 1];
      if (!file?.plain || !view.state.moved.has(file.text) || !MOTD_TARGET.test(file.text)) return undefined;
      const exprs = a.slice(0, -1).filter((x) => x.text !== '-i' && x.text !== '-e');
      if (a.slice(0, -1).some((x) => x.text.startsWith('-') && x.text !== '-i' && x.text !== '-e')) return undefined;
      const renames: Array<[string, string]> = [];
      for (const e of exprs) {
        const m = /^s([/|#])\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}\1\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?\1g?$/.exec(e.text);
        if (!m) return undefined;
        const variable = view.envVars.get(m[3]);
        if (!variable) return undefined;
        renames.push([m[2], variable]);
      }
      if (renames.length === 0) return undefined;
      for (const [from, to] of renames) view.state.motdPlaceholders.set(from, to);
      return {
        became: `MOTD placeholders ${renames.map(([f, t]) => `{{${f}}} → {{${t}}}`).join(', ')} (filled in from $.variables)`,
      };
    }
    return undefined;
  },
};
