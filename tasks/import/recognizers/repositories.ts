/**
 * Third-party apt repositories: a signing key fetched into a keyring (`curl URL | gpg --dearmor -o
 * /usr/share/keyrings/x.gpg`, `curl -o /etc/apt/keyrings/x.asc URL`) and a list naming it
 * (`echo "deb [signed-by=...] URI SUITE COMP" > /etc/apt/sources.list.d/x.list`, a deb822
 * here-document), or a PPA (`add-apt-repository -y ppa:o/n`), become $.build.repositories.
 *
 * A key named by URL is fetched only with --fetch-keys (the import reads no network otherwise) and
 * kept in the project under keys/, with its fingerprint in the report for a person to compare. A
 * key written inline in a deb822 list or shipped in files/ needs no network. A repository whose key
 * is not at hand stays as script.
 */
import { validateManifest } from '../../../runtime/manifest.js';
import { reservedRepository } from '../../../runtime/policy.js';
import type { Repository } from '../../../runtime/sections/build.js';
import { argv, type SimpleCommand, type Unit, type Word } from '../shell.js';
import { wordValue, type Hit, type Recognizer, type ScriptView } from '../state.js';
import { fetchKey, keyFingerprints } from './repository-keys.js';
import { plainCommands, prog, quietRedirects } from './util.js';

const KEYRING = /^\/(usr\/share\/keyrings|etc\/apt\/keyrings|etc\/apt\/trusted\.gpg\.d)\/[A-Za-z0-9._@+-]+$/;
const LIST = /^\/etc\/apt\/sources\.list\.d\/([A-Za-z0-9._@+-]+)\.(list|sources)$/;

interface KeyFetch {
  url: string;
  path: string;
}

interface ListFound {
  file: string;
  name: string;
  uris: string;
  suites: string[];
  components: string[];
  signedBy?: string;
  /** A key written inside a deb822 list (Signed-By: followed by the armored block). */
  inlineKey?: string;
}

/** `$(lsb_release -cs)`, `$(. /etc/os-release && echo "$VERSION_CODENAME")` and the like → {codename}. */
export function codenameText(s: string): string {
  let out = '';
  let k = 0;
  while (k < s.length) {
    if (s.startsWith('$(', k) || s[k] === '`') {
      const tick = s[k] === '`';
      let depth = 0;
      let j = k + (tick ? 1 : 1);
      for (; j < s.length; j++) {
        if (tick) {
          if (s[j] === '`') break;
        } else if (s[j] === '(') depth++;
        else if (s[j] === ')') {
          depth--;
          if (depth === 0) break;
        }
      }
      const inner = s.slice(k + (tick ? 1 : 2), j);
      if (
        j < s.length &&
        /lsb_release\s+(-[a-z]*c[a-z]*\s*|-c\s+-s|-s\s+-c)|VERSION_CODENAME|UBUNTU_CODENAME/.test(inner) &&
        !/curl|wget|\|\s*(ba)?sh/.test(inner)
      ) {
        out += '{codename}';
        k = j + 1;
        continue;
      }
    }
    out += s[k];
    k++;
  }
  return out;
}

/** The key URL and keyring path a unit fetches, or undefined. */
function keyFetch(u: Unit, view: ScriptView): KeyFetch | undefined {
  const list = u.list;
  if (!list || list.pipelines.length !== 1 || list.background) return undefined;
  const cmds = list.pipelines[0].commands;
  const val = (w: Word) => wordValue(w, view.env);
  const download = (c: SimpleCommand): { url?: string; out?: string; stdout: boolean } | undefined => {
    const w = argv(c);
    const p = prog(w);
    if (p !== 'curl' && p !== 'wget') return undefined;
    let url: string | undefined;
    let out: string | undefined;
    const args = w.slice(1).map(val);
    if (args.some((a) => a === undefined)) return undefined;
    for (let k = 0; k < args.length; k++) {
      const a = args[k]!;
      if (/^https?:\/\//.test(a)) url = a;
      else if (p === 'curl' && (a === '-o' || a === '--output')) out = args[++k];
      else if (p === 'wget' && (a === '-O' || a === '--output-document')) out = args[++k];
      else if (p === 'wget' && /^-[a-zA-Z]*O$/.test(a)) out = args[++k];
      else if (p === 'wget' && /^-[a-zA-Z]*O.+$/.test(a)) out = a.slice(a.indexOf('O') + 1);
      else if (p === 'wget' && a.startsWith('--output-document=')) out = a.slice(18);
      else if (p === 'curl' && a.startsWith('--output=')) out = a.slice(9);
    }
    const redirect = c.redirects.find((r) => r.op === '>' && r.target?.text !== '/dev/null');
    if (redirect) out = redirect.target?.plain ? redirect.target.text : undefined;
    return { url, out: out === '-' ? undefined : out, stdout: out === undefined || out === '-' };
  };
  const first = download(cmds[0]);
  if (!first?.url) return undefined;
  if (cmds.length === 1) return first.out && KEYRING.test(first.out) ? { url: first.url, path: first.out } : undefined;
  if (!first.stdout) return undefined;
  let keyPath: string | undefined;
  for (const c of cmds.slice(1)) {
    const w = argv(c).map(val);
    if (w.some((x) => x === undefined)) return undefined;
    const words = w as string[];
    const p = prog(words);
    if (p === 'gpg') {
      if (!words.includes('--dearmor') && !words.includes('--dearmour')) return undefined;
      const o = words.findIndex((x) => x === '-o' || x === '--output');
      if (o >= 0) keyPath = words[o + 1];
      const r = c.redirects.find((x) => x.op === '>' && x.target?.text !== '/dev/null');
      if (r) keyPath = r.target?.plain ? r.target.text : undefined;
      if (
        words
          .slice(1)
          .some((x, i) =>
            x.startsWith('-')
              ? !/^(--dearmou?r|--yes|--batch|-o|--output|--no-tty|-q|--quiet)$/.test(x)
              : words[i] !== '-o' && words[i] !== '--output',
          )
      )
        return undefined;
    } else if (p === 'tee') {
      const files = words.slice(1).filter((x) => !x.startsWith('-'));
      if (files.length !== 1 || !quietRedirects(c)) return undefined;
      keyPath = files[0];
    } else return undefined;
  }
  return keyPath && KEYRING.test(keyPath) ? { url: first.url, path: keyPath } : undefined;
}

/** "deb [opts] URI SUITE COMP..." → its parts; suites/components with {codename}. */
function debLine(line: string): Omit<ListFound, 'file' | 'name'> | undefined {
  const m = /^\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)((?:\s+\S+)*)\s*$/.exec(codenameText(line));
  if (!m) return undefined;
  const opts = (m[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const signed = opts.find((o) => o.startsWith('signed-by='))?.slice(10);
  const rest = [m[2], m[3], ...m[4].trim().split(/\s+/).filter(Boolean)];
  if (rest.some((x) => /[$`]/.test(x))) return undefined;
  return { uris: m[2], suites: [m[3]], components: m[4].trim().split(/\s+/).filter(Boolean), signedBy: signed };
}

/** deb822 (Types/URIs/Suites/Components/Signed-By) → its parts. */
function deb822(text: string): Omit<ListFound, 'file' | 'name'> | undefined {
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const raw of codenameText(text).split('\n')) {
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    if (/^\s/.test(raw) && last) {
      fields.set(last, `${fields.get(last)}\n${raw.trim() === '.' ? '' : raw.trim()}`);
      continue;
    }
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
    if (!m) return undefined;
    last = m[1].toLowerCase();
    fields.set(last, m[2]);
  }
  if ((fields.get('types') ?? '').trim() !== 'deb') return undefined;
  const uris = (fields.get('uris') ?? '').trim().split(/\s+/);
  const suites = (fields.get('suites') ?? '').trim().split(/\s+/).filter(Boolean);
  if (uris.length !== 1 || suites.length === 0) return undefined;
  for (const k of fields.keys())
    if (!['types', 'uris', 'suites', 'components', 'signed-by', 'architectures', 'enabled'].includes(k))
      return undefined;
  const signed = fields.get('signed-by') ?? '';
  const out: Omit<ListFound, 'file' | 'name'> = {
    uris: uris[0],
    suites,
    components: (fields.get('components') ?? '').trim().split(/\s+/).filter(Boolean),
  };
  if (signed.includes('BEGIN PGP PUBLIC KEY BLOCK')) out.inlineKey = `${signed.trim()}\n`;
  else if (signed.trim()) out.signedBy = signed.trim();
  if ([out.uris, ...suites, ...out.components].some((x) => /[$`]/.test(x))) return undefined;
  return out;
}

/** The repository list a unit writes, or undefined. */
function listWrite(u: Unit): ListFound | undefined {
  const list = u.list;
  if (!list || list.pipelines.length !== 1 || list.background) return undefined;
  const cmds = list.pipelines[0].commands;
  let file: string | undefined;
  let text: string | undefined;
  const echoText = (c: SimpleCommand): string | undefined => {
    const w = argv(c);
    const p = prog(w);
    if (p !== 'echo' && p !== 'printf') return undefined;
    // expansions stay as written: only the codename forms are understood
    const words = w
      .slice(1)
      .map((x) => x.text)
      .filter((x) => !/^-[ne]+$/.test(x));
    const t = words.join(' ');
    return (p === 'printf' ? t.replace(/\\n$/, '') : t).trim();
  };
  if (cmds.length === 1) {
    const c = cmds[0];
    const w = argv(c);
    const p = prog(w);
    const out = c.redirects.find((r) => (r.op === '>' || r.op === '>>') && r.target);
    const hd = c.redirects.find((r) => r.heredoc);
    if (p === 'cat' && w.length === 1 && hd?.heredoc && out?.target?.plain) {
      file = out.target.text;
      text = hd.heredoc.body;
      if (hd.heredoc.quoted && /[$`]/.test(text)) return undefined;
    } else if (p === 'tee' && hd?.heredoc) {
      const files = w.slice(1).filter((x) => !x.text.startsWith('-'));
      if (
        files.length !== 1 ||
        !files[0].plain ||
        !quietRedirects({ ...c, redirects: c.redirects.filter((r) => !r.heredoc) })
      )
        return undefined;
      file = files[0].text;
      text = hd.heredoc.body;
    } else if (out?.target?.plain) {
      file = out.target.text;
      text = echoText(c);
    } else if (p === 'add-apt-repository') {
      const args = w.slice(1).filter((x) => !/^(-y|--yes|-n|--no-update|-u|--update)$/.test(x.text));
      if (args.length !== 1 || c.redirects.length) return undefined;
      text = args[0].text;
      if (!/^deb\s/.test(text)) return undefined;
      const parsed = debLine(text);
      if (!parsed) return undefined;
      const host = /^https?:\/\/([^/]+)/.exec(parsed.uris)?.[1] ?? 'repository';
      return { file: '(add-apt-repository)', name: repoName(host), ...parsed };
    } else return undefined;
  } else if (cmds.length === 2) {
    const [src, tee] = cmds;
    const tw = argv(tee);
    if (prog(tw) !== 'tee' || !quietRedirects(tee)) return undefined;
    const files = tw.slice(1).filter((x) => !x.text.startsWith('-'));
    if (files.length !== 1 || !files[0].plain) return undefined;
    file = files[0].text;
    text = echoText(src);
  } else return undefined;
  const m = file ? LIST.exec(file) : null;
  if (!m || text === undefined) return undefined;
  const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const parsed = m[2] === 'sources' ? deb822(text) : lines.length === 1 ? debLine(lines[0]) : undefined;
  if (!parsed) return undefined;
  return { file: file!, name: repoName(m[1]), ...parsed };
}

/**
 * A repository name from a list file name: lower-case letters, digits, ".", "_", "-". A name of the
 * distribution's own repositories (ubuntu-toolchain-r-test, debian-backports) gets a prefix: the
 * rules refuse it, since its file would be the distribution's, and the vendor's list was not that file.
 */
export function repoName(s: string, prefix = 'extra'): string {
  const n =
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 63) || 'repository';
  return reservedRepository(n) ? `${prefix}-${n}`.slice(0, 63) : n;
}

/** `add-apt-repository -y ppa:owner/name` → the PPA, or undefined. */
function ppaOf(u: Unit): string | undefined {
  const cmds = plainCommands(u);
  if (!cmds || cmds.length !== 1 || !quietRedirects(cmds[0])) return undefined;
  const w = argv(cmds[0]);
  if (prog(w) !== 'add-apt-repository' || !w.every((x) => x.plain)) return undefined;
  const args = w
    .slice(1)
    .map((x) => x.text)
    .filter((x) => !/^(-y|--yes|-n|--no-update|-u|--update)$/.test(x));
  if (args.length !== 1) return undefined;
  const m = /^ppa:([a-z0-9][a-z0-9.+-]*\/[a-z0-9][a-z0-9.+-]*)$/.exec(args[0]);
  return m?.[1];
}

/** `install -d /etc/apt/keyrings`, `mkdir -p /etc/apt/keyrings`, `chmod a+r KEY`: which path. */
function keyringPrep(u: Unit): { dir?: string; file?: string } | undefined {
  const cmds = plainCommands(u);
  if (!cmds || cmds.length !== 1 || !quietRedirects(cmds[0])) return undefined;
  const w = argv(cmds[0]);
  if (!w.every((x) => x.plain)) return undefined;
  const a = w.map((x) => x.text);
  const p = prog(a);
  const paths = a.slice(1).filter((x) => x.startsWith('/'));
  if (paths.length !== 1) return undefined;
  if ((p === 'mkdir' || p === 'install') && /^\/(etc\/apt\/keyrings|usr\/share\/keyrings)\/?$/.test(paths[0])) {
    if (p === 'install' && !a.includes('-d')) return undefined;
    return { dir: paths[0].replace(/\/$/, '') };
  }
  if (p === 'chmod' && KEYRING.test(paths[0]) && a.length === 3 && /^(a\+r|644|0644|go\+r|o\+r)$/.test(a[1]))
    return { file: paths[0] };
  return undefined;
}

const probeRepo = (r: Repository): boolean =>
  validateManifest({
    name: 'p',
    slug: 'probe',
    vendor: 'probe',
    version: '1',
    distributions: ['ubuntu-24-04-x64'],
    build: { repositories: [r] },
  }).problems.length === 0;

/** The keys fetched and the lists written by one script's units. */
function sourcesIn(view: ScriptView): {
  keys: Map<string, { fetch: KeyFetch; unit: Unit }>;
  lists: Array<{ list: ListFound; unit: Unit }>;
} {
  const keys = new Map<string, { fetch: KeyFetch; unit: Unit }>();
  const lists: Array<{ list: ListFound; unit: Unit }> = [];
  for (const u of view.units) {
    const k = keyFetch(u, view);
    if (k) keys.set(k.path, { fetch: k, unit: u });
    const l = listWrite(u);
    if (l) lists.push({ list: l, unit: u });
  }
  return { keys, lists };
}

/** Where a list's signing key comes from: its bytes, or a file already in files/. */
interface SigningKey {
  keyFrom: string;
  data?: Buffer;
  file?: string;
  /** The unit that fetched it, absorbed with the list. */
  fetchedBy?: Unit;
}

/**
 * The signing key of one list: written in it, fetched by the script (with --fetch-keys), or shipped
 * in files/. Undefined, with a note for the person, when the repository stays as script.
 */
async function signingKey(
  view: ScriptView,
  name: string,
  { list, unit }: { list: ListFound; unit: Unit },
  keys: Map<string, { fetch: KeyFetch; unit: Unit }>,
): Promise<SigningKey | undefined> {
  const st = view.state;
  const trusted = [...keys.values()].filter((k) => k.fetch.path.startsWith('/etc/apt/trusted.gpg.d/'));
  if (list.inlineKey) return { keyFrom: `the key written in ${list.file}`, data: Buffer.from(list.inlineKey) };
  if (list.signedBy ? keys.has(list.signedBy) : trusted.length === 1) {
    // signed-by names the keyring; without it, the one key this script put in trusted.gpg.d
    const k = list.signedBy ? keys.get(list.signedBy)! : trusted[0];
    if (!st.options.fetchKeys) {
      st.person.push({
        where: `${view.origin}:${k.unit.start}`,
        what: `the signing key of repository "${name}" comes from ${k.fetch.url}: run the import again with --fetch-keys to keep it in the project (keys/) and move the repository into build.repositories; its lines were kept as script`,
      });
      return undefined;
    }
    try {
      return { keyFrom: k.fetch.url, data: await (st.options.fetch ?? fetchKey)(k.fetch.url), fetchedBy: k.unit };
    } catch (e) {
      st.person.push({
        where: `${view.origin}:${k.unit.start}`,
        what: `could not fetch the signing key of repository "${name}" from ${k.fetch.url} (${(e as Error).message}); its lines were kept as script`,
      });
      return undefined;
    }
  }
  if (list.signedBy && st.filesAt.has(list.signedBy)) {
    const file = st.filesAt.get(list.signedBy)!;
    return { keyFrom: `${file} (shipped in files/)`, file };
  }
  st.person.push({
    where: `${view.origin}:${unit.start}`,
    what: `repository list ${list.file} names ${list.signedBy ? `the key ${list.signedBy}, which this script does not fetch in a way the import understands` : 'no signing key (signed-by)'}: kept as script`,
  });
  return undefined;
}

/**
 * Keeps fetched or inline key bytes in the project (keys/NAME.asc or .gpg) and names them in the
 * repository; what the report says of the key, or undefined (with a note) when it is no key.
 */
function keepKey(view: ScriptView, repo: Repository, key: SigningKey, at: Unit): string | undefined {
  const st = view.state;
  if (!key.data) return key.keyFrom;
  const fprs = keyFingerprints(key.data);
  if (!fprs) {
    st.person.push({
      where: `${view.origin}:${at.start}`,
      what: `what ${key.keyFrom} gave is not an OpenPGP public key: repository "${repo.name}" kept as script`,
    });
    return undefined;
  }
  const armored = key.data.subarray(0, 200).toString('latin1').includes('BEGIN PGP');
  const rel = `keys/${repo.name}.${armored ? 'asc' : 'gpg'}`;
  st.keyFiles.set(rel, key.data);
  repo.key = { file: rel };
  return `${key.keyFrom} (kept as ${rel}${fprs.length ? `; fingerprint ${fprs.join(', ')}: compare it with the one the vendor publishes` : ''})`;
}

/** Each list whose key is at hand becomes build.repositories, with the units that made it. */
async function takeLists(view: ScriptView, taken: Set<string>): Promise<void> {
  const st = view.state;
  const { keys, lists } = sourcesIn(view);
  for (const found of lists) {
    const { list, unit } = found;
    let name = list.name;
    for (let n = 2; taken.has(name); n++) name = `${list.name}-${n}`;
    const repo: Repository = {
      name,
      uris: list.uris,
      suites: list.suites,
      ...(list.components.length ? { components: list.components } : {}),
    };
    const key = await signingKey(view, name, found, keys);
    if (!key) continue;
    if (key.file) repo.key = { file: key.file };
    const units = key.fetchedBy ? [key.fetchedBy, unit] : [unit];
    const keyFrom = keepKey(view, repo, key, units[0]);
    if (keyFrom === undefined) continue;
    if (!probeRepo(repo)) {
      st.keyFiles.delete(repo.key?.file ?? '');
      st.person.push({
        where: `${view.origin}:${unit.start}`,
        what: `repository ${list.file} does not fit build.repositories (${JSON.stringify(repo.uris)} ${(repo.suites ?? []).join(' ')}): kept as script`,
      });
      continue;
    }
    taken.add(name);
    st.repositories.push({ repo, units, keyFrom, origin: view.origin });
    const became = `build.repositories "${name}" (${repo.uris} ${(repo.suites ?? []).join(' ')}${repo.components ? ` ${repo.components.join(' ')}` : ''}; key: ${keyFrom})`;
    for (const u of units) view.claimed.set(u, { became });
  }
}

/** The keyring folder made for, and the key made readable by, a repository taken over: dropped. */
function dropKeyringPrep(view: ScriptView): void {
  const absorbedKeys = new Set(
    view.state.repositories
      .filter((r) => r.units.length > 1)
      .map((r) => r.units[0])
      .map((u) => keyFetch(u, view)?.path),
  );
  for (const u of view.units) {
    const prep = keyringPrep(u);
    if (!prep) continue;
    const hit = prep.file ? absorbedKeys.has(prep.file) : [...absorbedKeys].some((p) => p?.startsWith(`${prep.dir}/`));
    if (hit) view.claimed.set(u, { became: 'dropped (the keyring for a repository moved into build.repositories)' });
  }
}

/** `add-apt-repository ppa:o/n` on Ubuntu becomes build.repositories. */
function takePpas(view: ScriptView, taken: Set<string>): void {
  const st = view.state;
  if (!st.ubuntu) return;
  for (const u of view.units) {
    const ppa = ppaOf(u);
    if (!ppa) continue;
    let name = repoName(ppa.replace('/', '-'), 'ppa');
    for (let n = 2; taken.has(name); n++) name = `${repoName(ppa.replace('/', '-'), 'ppa')}-${n}`;
    const repo: Repository = { name, ppa };
    if (!probeRepo(repo)) continue;
    taken.add(name);
    st.repositories.push({ repo, units: [u], keyFrom: 'the PPA', origin: view.origin });
    view.claimed.set(u, { became: `build.repositories "${name}" (ppa:${ppa})` });
  }
}

export const repositories: Recognizer = {
  name: 'repositories',
  roles: ['build'],
  async prepare(view) {
    if (view.state.family !== 'apt') return;
    const taken = new Set(view.state.repositories.map((r) => r.repo.name));
    await takeLists(view, taken);
    dropKeyringPrep(view);
    takePpas(view, taken);
  },
  match(u, view): Hit | undefined {
    return view.claimed.get(u);
  },
};
