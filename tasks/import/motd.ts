/**
 * DigitalOcean's MOTD script (/etc/update-motd.d/99-one-click): a shell script that computes the
 * droplet's address (`myip=$(hostname -I | awk ...)`) and prints a here-document or echo lines.
 * When that is all it does, its text becomes motd.txt with {{ip}} where it printed the address
 * (the package's MOTD finds the public address with the metadata service). Anything else it runs
 * keeps it a file of files/, with the reason in the report.
 */
import { argv, readShell, ShellReadError } from './shell.js';
import { prog } from './recognizers/util.js';

const IP_COMMAND =
  /^\$\(\s*(hostname\s+-I\s*\|\s*(awk\s+'\{\s*print\s*\$1\s*\}'|cut\s+-d\s*(' '|" "|\\ )\s+-f\s*1)|curl\s+(-[a-zA-Z]+\s+)*(--?[a-z-]+\s+(\d+\s+)?)*["']?http:\/\/169\.254\.169\.254\/metadata\/v1\/interfaces\/public\/0\/ipv4\/address["']?|ip\s+(-4\s+)?(-o\s+)?addr[^)]*)\s*\)$/;

export type MotdResult = { text: string } | { why: string };

/** Text of an unquoted here-document or double-quoted string, with the address and $0 mapped. */
function expand(s: string, ipVars: Set<string>, self: string, inDouble: boolean): string | { why: string } {
  let out = '';
  for (let k = 0; k < s.length; k++) {
    const c = s[k];
    if (c === '\\') {
      const n = s[k + 1];
      if (n === '$' || n === '`' || n === '\\' || (inDouble && n === '"')) {
        out += n;
        k++;
      } else if (n === '\n') k++;
      else out += c;
      continue;
    }
    if (c === '`') return { why: 'it runs a command in its text (`...`)' };
    if (c !== '$') {
      out += c;
      continue;
    }
    const rest = s.slice(k);
    const self0 = /^\$\(\s*readlink\s+-f\s+("?)\$\{?0\}?\1\s*\)|^\$\{0\}|^\$0(?![0-9])/.exec(rest);
    if (self0) {
      out += self;
      k += self0[0].length - 1;
      continue;
    }
    const v = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}|^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
    if (v && ipVars.has(v[1] ?? v[2])) {
      out += '{{ip}}';
      k += v[0].length - 1;
      continue;
    }
    if (/^\$[\s"]|^\$$/.test(rest)) {
      out += '$';
      continue;
    }
    return {
      why: `its text uses ${/^\$\(/.test(rest) ? 'a command' : `the shell value ${(v?.[0] ?? rest.slice(0, 10)).trim()}`} that only the script can compute`,
    };
  }
  return out;
}

/** The MOTD text of a DigitalOcean-style MOTD script, or why it cannot be read as one. */
export function motdText(script: string, self: string): MotdResult {
  let units;
  try {
    units = readShell(script);
  } catch (e) {
    if (e instanceof ShellReadError) return { why: `it is not shell the import can follow (${e.message})` };
    throw e;
  }
  const ipVars = new Set<string>();
  const parts: string[] = [];
  for (const u of units) {
    if (u.kind === 'blank' || u.kind === 'comment') continue;
    if (u.kind !== 'command' || !u.list || u.list.pipelines.length !== 1 || u.list.pipelines[0].commands.length !== 1)
      return { why: `line ${u.start} does more than print text` };
    const c = u.list.pipelines[0].commands[0];
    if (c.words.length === 0 && c.assigns.length === 1 && c.redirects.length === 0) {
      const a = c.assigns[0].raw;
      const eq = a.indexOf('=');
      const value = a.slice(eq + 1).replace(/^"(.*)"$/s, '$1');
      if (IP_COMMAND.test(value)) {
        ipVars.add(a.slice(0, eq));
        continue;
      }
      return { why: `line ${u.start} sets ${a.slice(0, eq)} to something other than the droplet's address` };
    }
    const w = argv(c);
    const p = prog(w);
    if (p === 'cat' && w.length === 1 && c.redirects.length === 1 && c.redirects[0].heredoc) {
      const h = c.redirects[0].heredoc;
      const body = h.quoted ? h.body : expand(h.body, ipVars, self, false);
      if (typeof body !== 'string') return body;
      parts.push(body);
      continue;
    }
    if ((p === 'echo' || p === 'printf') && c.redirects.length === 0) {
      const args = w.slice(1);
      if (args.some((x) => x.raw.startsWith('-')) || (p === 'printf' && args.length > 1))
        return { why: `line ${u.start} prints with options or a format the import does not read` };
      const texts: string[] = [];
      for (const x of args) {
        if (x.plain) {
          texts.push(x.text);
          continue;
        }
        // Only a whole double-quoted word is expanded here.
        const m = /^"([\s\S]*)"$/.exec(x.raw);
        if (!m) return { why: `line ${u.start} prints an unquoted expansion` };
        const e = expand(m[1], ipVars, self, true);
        if (typeof e !== 'string') return e;
        texts.push(e);
      }
      let line = texts.join(' ');
      if (p === 'printf') {
        if (/%/.test(line.replace(/%%/g, ''))) return { why: `line ${u.start} uses a printf format` };
        line = line.replace(/%%/g, '%').replace(/\\n$/, '');
        if (/\\/.test(line.replace(/\\n/g, '')))
          return { why: `line ${u.start} prints escapes (colours?) a plain-text MOTD cannot hold` };
        line = line.replace(/\\n/g, '\n');
      }
      parts.push(line);
      continue;
    }
    return {
      why: `line ${u.start} ${p === '.' || p === 'source' ? 'reads another file into the script' : `runs ${p || 'a command'}`}`,
    };
  }
  const text = parts.join('\n');
  if (text.trim() === '') return { why: 'it prints nothing the import could read' };
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) return { why: 'its text holds control characters (colours?)' };
  return { text };
}
