/**
 * First-boot passwords: the file DigitalOcean's images save them to (/root/.digitalocean_password,
 * ..._passwords) becomes $.credentials.file, and a `chmod 0600` follows each write (the file holds
 * passwords; a plain `cat >` leaves it readable by everyone). Making the passwords stays script for
 * now, named in the report as "will map to secrets".
 */
import { argv, commandsOf } from '../shell.js';
import type { Recognizer } from '../state.js';
import { prog } from './util.js';

const CREDENTIALS = /^\/root\/\.digitalocean_passwords?$/;
const GENERATOR =
  /\$\((\s*openssl\s+rand|\s*pwgen|\s*mkpasswd|[^)]*\/dev\/urandom|\s*head\s+-c[^)]*urandom|\s*date\s+\+%s[^)]*sha256sum|\s*uuidgen)/;

export const passwords: Recognizer = {
  name: 'passwords',
  roles: ['first-boot'],
  match(u, view) {
    if (u.kind !== 'command' || !u.list) return undefined;
    const targets: string[] = [];
    for (const c of commandsOf(u)) {
      for (const r of c.redirects)
        if ((r.op === '>' || r.op === '>>') && r.target?.plain && CREDENTIALS.test(r.target.text))
          targets.push(r.target.text);
      const w = argv(c);
      if (prog(w) === 'tee') for (const x of w.slice(1)) if (x.plain && CREDENTIALS.test(x.text)) targets.push(x.text);
    }
    if (targets.length) {
      const file = targets[0];
      view.state.credentialsFile ??= file;
      const indent = /^[ \t]*/.exec(u.text)![0];
      return {
        became: `credentials.file ${file} (the write stays; "chmod 0600 ${file}" added after it)`,
        replace: `${u.text}\n${indent}chmod 0600 ${file}`,
        kept: true,
      };
    }
    const assign =
      u.list.pipelines.length === 1 && u.list.pipelines[0].commands.length === 1
        ? u.list.pipelines[0].commands[0]
        : undefined;
    if (
      assign &&
      assign.words.length === 0 &&
      assign.assigns.length >= 1 &&
      assign.assigns.some((a) => GENERATOR.test(a.raw))
    ) {
      const names = assign.assigns.filter((a) => GENERATOR.test(a.raw)).map((a) => a.raw.split('=')[0]);
      return { became: `kept: makes ${names.join(', ')} (will map to secrets)`, replace: u.text, kept: true };
    }
    return undefined;
  },
};
