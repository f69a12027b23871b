/**
 * `useradd`/`adduser --system` lines become $.users and `mkdir -p DIR` lines $.directories: both
 * are made at build before files/ and the build scripts, so a later line finds them as before.
 * Options that mpimg.json cannot say (a fixed uid, a password, another primary group) keep the line.
 */
import { validateManifest } from '../../../runtime/manifest.js';
import { isSystemDir } from '../../../runtime/policy.js';
import type { Directory, User } from '../../../runtime/sections/accounts.js';
import { where, type Recognizer, type ScriptView } from '../state.js';
import type { Unit } from '../shell.js';
import { plainArgs, plainCommands, prog, quietRedirects } from './util.js';

/** What the rules say against these users/directories (empty: accepted). */
const problemsOf = (extra: Record<string, unknown>): string[] =>
  validateManifest({
    name: 'p',
    slug: 'probe',
    vendor: 'probe',
    version: '1',
    distributions: ['ubuntu-24-04-x64'],
    ...extra,
  }).problems.map((p) => p.message);

/**
 * A line that reads as a user or folder the rules refuse (a system folder, a home of /root, a mode
 * that lets others write where root runs code): it stays as script, and a person is told why, since
 * the image then does what mpimg.json would never be allowed to say.
 */
function refusedNote(view: ScriptView, u: Unit, what: string, problems: string[], harmless = false): void {
  // `mkdir -p /usr/local/bin`: the folder is there already and the line changes nothing: only said
  if (harmless)
    view.state.info.push({
      where: where(view, u),
      what: `${what}: a system folder, not one of $.directories; the line (which changes nothing there) stays as script`,
    });
  else
    view.state.person.push({
      where: where(view, u),
      what: `${what} is refused by mpimg's rules (${[...new Set(problems)].join('; ')}): the line stays as script; check that the image really needs it (Marketplace review may refuse it too)`,
    });
}

/** useradd's options → a user, or undefined. */
function fromUseradd(a: string[]): User | undefined {
  const u: Partial<User> & { system: boolean } = { system: false };
  let createHome = false;
  let primary: string | undefined;
  let name: string | undefined;
  for (let k = 1; k < a.length; k++) {
    const o = a[k];
    const val = () => a[++k];
    const long = /^--([a-z-]+)=(.*)$/.exec(o);
    const key = long ? `--${long[1]}` : o;
    const v = long ? () => long[2] : val;
    if (key === '-r' || key === '--system') u.system = true;
    else if (key === '-m' || key === '--create-home') createHome = true;
    else if (key === '-M' || key === '--no-create-home') createHome = false;
    else if (key === '-U' || key === '--user-group') continue;
    else if (key === '-d' || key === '--home-dir' || key === '--home') u.home = v();
    else if (key === '-s' || key === '--shell') u.shell = v();
    else if (key === '-c' || key === '--comment') u.comment = v();
    else if (key === '-G' || key === '--groups') u.groups = v()?.split(',').filter(Boolean);
    else if (key === '-g' || key === '--gid') primary = v();
    else if (/^-/.test(key)) return undefined;
    else if (name === undefined) name = o;
    else return undefined;
  }
  if (!name || (primary !== undefined && primary !== name)) return undefined;
  if (!u.home && createHome) u.home = `/home/${name}`;
  if (u.home && !createHome && !u.system) return undefined;
  // useradd's own default shell (Debian and Ubuntu: /bin/sh); mpimg's is nologin
  u.shell ??= '/bin/sh';
  return { name, ...u } as User;
}

/** adduser --system [--group] [--home H] [--shell S] [--no-create-home] [--disabled-*] NAME */
function fromAdduser(a: string[]): User | undefined {
  if (!a.includes('--system')) return undefined;
  const u: Partial<User> = { system: true };
  let name: string | undefined;
  let noHome = false;
  for (let k = 1; k < a.length; k++) {
    const o = a[k];
    if (['--system', '--group', '--disabled-password', '--disabled-login', '--quiet', '-q'].includes(o)) continue;
    else if (o === '--no-create-home') noHome = true;
    else if (o === '--home') u.home = a[++k];
    else if (o === '--shell') u.shell = a[++k];
    else if (o === '--gecos' || o === '--comment') u.comment = a[++k] || undefined;
    else if (o.startsWith('-')) return undefined;
    else if (name === undefined) name = o;
    else return undefined;
  }
  if (!name) return undefined;
  if (noHome) delete u.home;
  return { name, ...u } as User;
}

export const users: Recognizer = {
  name: 'users',
  roles: ['build'],
  match(u, view) {
    const cmds = plainCommands(u);
    if (!cmds || cmds.length !== 1 || !quietRedirects(cmds[0]) || cmds[0].assigns.length) return undefined;
    const a = plainArgs(cmds[0]);
    if (!a) return undefined;
    const p = prog(a);
    const user = p === 'useradd' ? fromUseradd(a) : p === 'adduser' ? fromAdduser(a) : undefined;
    if (!user || view.state.users.some((x) => x.name === user.name)) return undefined;
    if (view.state.refused.has(`user:${user.name}`)) return undefined;
    const alone = problemsOf({ users: [user] });
    if (alone.length)
      refusedNote(view, u, `the user ${JSON.stringify(user.name)}${user.home ? ` (home ${user.home})` : ''}`, alone);
    if (alone.length || problemsOf({ users: [...view.state.users, user] }).length) return undefined;
    view.state.users.push(user);
    return {
      became: `users: ${user.name} (${user.system ? 'system, ' : ''}${user.home ? `home ${user.home}, ` : ''}shell ${user.shell ?? '/usr/sbin/nologin'}${user.groups?.length ? `, groups ${user.groups.join(',')}` : ''})`,
    };
  },
};

/** mkdir -p [-m MODE] DIR... → directories (each absolute, plain, accepted by the rules). */
function dirsOf(a: string[], view: ScriptView): Directory[] | undefined {
  let mode: string | undefined;
  let parents = false;
  const paths: string[] = [];
  for (let k = 1; k < a.length; k++) {
    const o = a[k];
    if (o === '-p' || o === '--parents') parents = true;
    else if (o === '-m' || o === '--mode') mode = a[++k];
    else if (/^-p?m\d+$/.test(o)) mode = o.replace(/^-p?m/, '');
    else if (o === '-pm') {
      parents = true;
      mode = a[++k];
    } else if (o === '-v' || o === '--verbose') continue;
    else if (o.startsWith('-')) return undefined;
    else paths.push(o.replace(/(.)\/+$/, '$1'));
  }
  if (!parents || paths.length === 0 || paths.some((p) => !p.startsWith('/'))) return undefined;
  if (mode !== undefined && !/^0?[0-7]{3,4}$/.test(mode)) return undefined;
  const dirs = paths.map((path) => ({ path, ...(mode ? { mode: mode.length === 3 ? `0${mode}` : mode } : {}) }));
  if (dirs.some((d) => view.state.refused.has(`dir:${d.path}`))) return undefined;
  return dirs;
}

export const directories: Recognizer = {
  name: 'directories',
  roles: ['build'],
  match(u, view) {
    const cmds = plainCommands(u);
    if (!cmds || cmds.length !== 1 || !quietRedirects(cmds[0]) || cmds[0].assigns.length) return undefined;
    const a = plainArgs(cmds[0]);
    if (!a || prog(a) !== 'mkdir') return undefined;
    const dirs = dirsOf(a, view);
    if (!dirs) return undefined;
    const fresh = dirs.filter((d) => !view.state.directories.some((x) => x.path === d.path));
    const alone = problemsOf({ directories: fresh });
    const harmless = fresh.every((d) => !d.mode && isSystemDir(d.path));
    if (alone.length)
      refusedNote(
        view,
        u,
        `the folder${fresh.length > 1 ? 's' : ''} ${fresh.map((d) => d.path + (d.mode ? ` (mode ${d.mode})` : '')).join(', ')}`,
        alone,
        harmless,
      );
    if (alone.length || problemsOf({ directories: [...view.state.directories, ...fresh] }).length) return undefined;
    view.state.directories.push(...fresh);
    return { became: `directories: ${dirs.map((d) => d.path + (d.mode ? ` (mode ${d.mode})` : '')).join(', ')}` };
  },
};
