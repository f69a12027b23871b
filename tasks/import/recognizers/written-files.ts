/**
 * A build line that writes a fixed file (`cat > /etc/app/app.conf <<'EOF' ... EOF`, `echo 'x' >
 * FILE`) or makes a link (`ln -s TARGET LINK`) is what files/ is for: the file (or link) goes into
 * the project's files/ and the line is not needed. files/ is laid down before the build scripts,
 * so this is only done when no earlier line of the build names the file or its folder (a `git
 * clone` into that folder, an earlier write of the same file), and never for what other parts own
 * (apt sources, the MOTD, cloud-init's folders, root's profile) or for temporary files.
 */
import { unsafeDropletPath } from '../../../runtime/sections/common.js';
import { CONTROL_RE } from '../../../runtime/manifest.js';
import { argv, type Unit } from '../shell.js';
import type { Recognizer, ScriptView } from '../state.js';
import { plainCommands, prog, quietRedirects } from './util.js';

const NOT_FILES =
  /^\/(tmp|var\/tmp|proc|sys|dev|run|etc\/apt|usr\/share\/keyrings|var\/lib\/cloud|etc\/update-motd\.d|etc\/ssh\/sshd_config$|root\/\.(bashrc|profile|bash_profile)$)(\/|$)/;

/** Does `text` name `p` itself (not only a path below it)? */
function names(text: string, p: string): boolean {
  for (let at = text.indexOf(p); at >= 0; at = text.indexOf(p, at + 1)) {
    const next = text[at + p.length];
    if (next === undefined || !/[A-Za-z0-9._/-]/.test(next)) return true;
  }
  return false;
}

/** Did an earlier line of the build name this path or its folder (a clone into it, a write of it)? */
function namedBefore(view: ScriptView, path: string): boolean {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const mentions = (text: string) => names(text, path) || (dir !== '/' && names(text, dir));
  if (view.state.buildTexts.some(mentions)) return true;
  return view.units
    .slice(0, view.index)
    .some((u) => (u.kind === 'command' || u.kind === 'compound') && mentions(u.text));
}

function usable(path: string, view: ScriptView): boolean {
  return (
    !unsafeDropletPath(path) &&
    !CONTROL_RE.test(path) &&
    !NOT_FILES.test(path) &&
    !view.state.filesAt.has(path) &&
    !view.state.moved.has(path) &&
    !path.endsWith('/')
  );
}

/** The fixed content a unit writes to one file, or undefined. */
function written(u: Unit, _view: ScriptView): { path: string; data: string } | undefined {
  const cmds = plainCommands(u);
  if (!cmds || cmds.length !== 1 || cmds[0].assigns.length) return undefined;
  const c = cmds[0];
  const w = argv(c);
  const p = prog(w);
  const heredoc = c.redirects.find((r) => r.heredoc)?.heredoc;
  const others = c.redirects.filter((r) => !r.heredoc);
  if (
    p === 'cat' &&
    w.length === 1 &&
    heredoc &&
    others.length === 1 &&
    others[0].op === '>' &&
    others[0].target?.plain &&
    !others[0].fd
  ) {
    if (!heredoc.quoted && /[$`\\]/.test(heredoc.body)) return undefined;
    return { path: others[0].target.text, data: `${heredoc.body}\n` };
  }
  if (
    p === 'tee' &&
    heredoc &&
    w.length === 2 &&
    w[1].plain &&
    others.every((r) => r.target?.text === '/dev/null' && (r.op === '>' || r.op === '&>'))
  ) {
    if (!heredoc.quoted && /[$`\\]/.test(heredoc.body)) return undefined;
    return { path: w[1].text, data: `${heredoc.body}\n` };
  }
  if (
    p === 'echo' &&
    !heredoc &&
    others.length === 1 &&
    others[0].op === '>' &&
    others[0].target?.plain &&
    !others[0].fd &&
    w.slice(1).every((x) => x.plain && !x.text.startsWith('-'))
  ) {
    const text = w
      .slice(1)
      .map((x) => x.text)
      .join(' ');
    if (text.includes('\\')) return undefined;
    return { path: others[0].target.text, data: `${text}\n` };
  }
  return undefined;
}

/** `ln -s[f] TARGET LINK` with a plain, absolute LINK. */
function linked(u: Unit): { path: string; target: string } | undefined {
  const cmds = plainCommands(u);
  if (!cmds || cmds.length !== 1 || cmds[0].assigns.length || !quietRedirects(cmds[0])) return undefined;
  const w = argv(cmds[0]);
  if (prog(w) !== 'ln' || !w.every((x) => x.plain)) return undefined;
  const a = w.slice(1).map((x) => x.text);
  const opts = a.filter((x) => x.startsWith('-'));
  const rest = a.filter((x) => !x.startsWith('-'));
  if (
    !opts.some((o) => /^-[a-z]*s/.test(o) || o === '--symbolic') ||
    opts.some((o) => !/^-[sfnv]+$|^--(symbolic|force|no-dereference)$/.test(o)) ||
    rest.length !== 2
  )
    return undefined;
  const [target, path] = rest;
  if (!path.startsWith('/') || CONTROL_RE.test(target) || target === '') return undefined;
  return { path: path.replace(/\/+$/, ''), target };
}

export const writtenFiles: Recognizer = {
  name: 'written files',
  roles: ['build'],
  match(u, view) {
    const st = view.state;
    const f = written(u, view);
    if (f) {
      if (!usable(f.path, view) || namedBefore(view, f.path) || CONTROL_RE.test(f.data.replace(/[\n\t]/g, '')))
        return undefined;
      st.writtenFiles.set(f.path, { data: Buffer.from(f.data) });
      st.filesAt.set(f.path, `files${f.path}`);
      st.fileModes.set(f.path, 0o644);
      return { became: `files${f.path} (the file it wrote; files/ lays it down before the build scripts)` };
    }
    const l = linked(u);
    if (l) {
      if (!usable(l.path, view) || namedBefore(view, l.path)) return undefined;
      // A link that climbs out of / is refused by the bundle; keep those lines.
      const depth = l.path.split('/').filter(Boolean).length - 1;
      let d = depth;
      for (const part of l.target.split('/')) {
        if (part === '..') d--;
        else if (part !== '' && part !== '.') d++;
        if (!l.target.startsWith('/') && d < 0) return undefined;
      }
      st.writtenFiles.set(l.path, { link: l.target });
      st.filesAt.set(l.path, `files${l.path}`);
      return { became: `files${l.path} (a link to ${l.target}; files/ lays it down before the build scripts)` };
    }
    return undefined;
  },
};
