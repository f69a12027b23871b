/**
 * DigitalOcean's "please wait" hold: the build appends `Match User root` + `ForceCommand echo ...`
 * to sshd_config, and the first-boot script deletes those lines again and restarts ssh. Both become
 * $.loginHold, which is always released, even when a first-boot step fails.
 */
import { argv, type Unit } from '../shell.js';
import { wordValue, type Hit, type Recognizer, type ScriptView } from '../state.js';
import { plainCommands, prog, quietRedirects } from './util.js';

const SSHD_CONFIG = '/etc/ssh/sshd_config';

/** The text a unit appends to sshd_config (a here-document or echo/printf of one line), or undefined. */
function appendedToSshd(u: Unit, view: ScriptView): string | undefined {
  const cmds = plainCommands(u);
  if (!cmds || cmds.length !== 1) {
    // echo ... | tee -a /etc/ssh/sshd_config
    const p = u.list?.pipelines;
    if (!p || p.length !== 1 || p[0].commands.length !== 2 || u.list!.ops.length) return undefined;
    const [src, tee] = p[0].commands;
    const tw = argv(tee).map((w) => w.text);
    if (prog(tw) !== 'tee' || !tw.includes('-a') || tw[tw.length - 1] !== SSHD_CONFIG || !quietRedirects(tee))
      return undefined;
    return echoed(argv(src), view);
  }
  const c = cmds[0];
  const out = c.redirects.find((r) => r.op === '>>' && r.target?.text === SSHD_CONFIG);
  if (!out || c.redirects.some((r) => r !== out && !r.heredoc)) return undefined;
  const w = argv(c);
  if (prog(w) === 'cat' && w.length === 1) {
    const h = c.redirects.find((r) => r.heredoc)?.heredoc;
    return h?.body;
  }
  return echoed(w, view);
}

function echoed(w: ReturnType<typeof argv>, view: ScriptView): string | undefined {
  const p = prog(w);
  if (p !== 'echo' && p !== 'printf') return undefined;
  const parts = w.slice(1).map((x) => wordValue(x, view.env));
  if (parts.some((x) => x === undefined)) return undefined;
  const text = (parts as string[]).filter((x) => !/^-[ne]+$/.test(x)).join(' ');
  return p === 'printf' || parts.includes('-e') ? text.replace(/\\n/g, '\n') : text;
}

/** Lines of an append that only hold root's logins: Match User root and ForceCommand echo "...". */
function holdMessage(text: string): { message?: string } | undefined {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0) return undefined;
  let message: string | undefined;
  for (const l of lines) {
    if (/^Match\s+User\s+root$/i.test(l)) continue;
    const m = /^ForceCommand\s+(.*)$/i.exec(l);
    if (!m) return undefined;
    const e = /^echo\s+(?:"([^"$`\\]*)"|'([^']*)'|([^"'$`\\;&|<>]*))$/.exec(m[1].trim());
    if (e) message = (e[1] ?? e[2] ?? e[3]).trim();
    else if (!/^echo\b/.test(m[1].trim())) return undefined;
  }
  return { message };
}

export const holdAtBuild: Recognizer = {
  name: 'login hold (build)',
  roles: ['build'],
  match(u, view): Hit | undefined {
    const text = appendedToSshd(u, view);
    if (text === undefined) return undefined;
    const hold = holdMessage(text);
    if (!hold) return undefined;
    const msg = hold.message;
    if (msg && msg.length <= 300 && !/[\u0000-\u001f]/.test(msg)) view.state.loginHold = { message: msg };
    else if (!view.state.loginHold) view.state.loginHold = true;
    return {
      became: `loginHold${msg ? ` (message "${msg}")` : ''}: the hold is released after the first boot, also when a step fails`,
    };
  },
};

/** sed -i ... /etc/ssh/sshd_config whose every expression deletes the hold's lines. */
function stripsHold(u: Unit): boolean {
  const cmds = plainCommands(u);
  if (!cmds || cmds.length !== 1) return false;
  const w = argv(cmds[0]);
  if (prog(w) !== 'sed' || !w.every((x) => x.plain)) return false;
  const args = w.slice(1).map((x) => x.text);
  if (args[args.length - 1] !== SSHD_CONFIG || !args.some((a) => a === '-i' || a.startsWith('-i'))) return false;
  const exprs: string[] = [];
  for (let k = 0; k < args.length - 1; k++) {
    if (args[k] === '-e') exprs.push(args[++k] ?? '');
    else if (/^-i/.test(args[k]) || args[k] === '--in-place') continue;
    else if (!args[k].startsWith('-')) exprs.push(args[k]);
    else return false;
  }
  return exprs.length > 0 && exprs.every((e) => /^\/[^/]*(Match User root|ForceCommand)[^/]*\/d$/.test(e));
}

/** systemctl restart ssh / service ssh restart / systemctl reload sshd ... */
function restartsSsh(u: Unit): boolean {
  const cmds = plainCommands(u);
  if (!cmds || cmds.length !== 1 || !quietRedirects(cmds[0])) return false;
  const w = argv(cmds[0]).map((x) => x.text);
  const unit = /^(ssh|sshd)(\.service)?$/;
  if (prog(w) === 'systemctl')
    return w.length === 3 && /^(restart|reload|reload-or-restart|try-restart)$/.test(w[1]) && unit.test(w[2]);
  if (prog(w) === 'service') return w.length === 3 && unit.test(w[1]) && /^(restart|reload)$/.test(w[2]);
  return false;
}

export const holdAtFirstBoot: Recognizer = {
  name: 'login hold (first boot)',
  roles: ['first-boot'],
  match(u, view) {
    if (stripsHold(u)) {
      if (!view.state.loginHold) view.state.loginHold = true;
      return { became: 'dropped (releasing the login hold: $.loginHold does it, also when a step fails)' };
    }
    if (restartsSsh(u) && view.units.some(stripsHold))
      return { became: 'dropped (the ssh restart after releasing the hold: $.loginHold does it)' };
    return undefined;
  },
};
