/**
 * apt lines: `apt-get update`, `upgrade`/`full-upgrade`/`dist-upgrade`, `clean`/`autoclean`/
 * `autoremove` are what the package's upgrade and cleanup steps do (dropped); `apt-get install
 * -y a b` becomes build.packages, unless an earlier kept line may change what apt can install (a
 * repository, a preseed, a downloaded script): then the line stays where it is.
 */
import { validateManifest } from '../../../runtime/manifest.js';
import { argv, type SimpleCommand } from '../shell.js';
import { wordValue, type Hit, type Recognizer, type ScriptView } from '../state.js';
import { onlyEnvAssigns, plainCommands, prog, quietRedirects } from './util.js';

const APT = new Set(['apt', 'apt-get', 'aptitude']);
/** Options that change nothing the packages step does not do itself. */
const HARMLESS = /^(-y|-q|-qq|-qy|-yq|-qqy|-yqq|-yy|--yes|--assume-yes|--quiet|--force-yes|-m|--fix-missing)$/;

type AptLine = { kind: 'update' | 'upgrade' | 'clean' } | { kind: 'install'; packages: string[] } | undefined;

/** Packages a name list holds when they are valid manifest entries. */
export function validPackages(names: string[]): boolean {
  if (names.length === 0) return false;
  const probe = {
    name: 'p',
    slug: 'probe',
    vendor: 'probe',
    version: '1',
    distributions: ['ubuntu-24-04-x64'],
    build: { packages: names },
  };
  return validateManifest(probe).problems.length === 0;
}

function aptLine(c: SimpleCommand, view: ScriptView): AptLine {
  const w = argv(c);
  if (!APT.has(prog(w)) || !onlyEnvAssigns(c) || !quietRedirects(c)) return undefined;
  let sub: string | undefined;
  const rest: string[] = [];
  for (let k = 1; k < w.length; k++) {
    const v = wordValue(w[k], view.env);
    if (v === undefined) return undefined;
    if (v === '-o' || v === '--option') {
      k++; // -o Dpkg::Options::=--force-confold and the like: the packages step sets its own
      continue;
    }
    if (v.startsWith('-o') && v.length > 2) continue;
    if (v.startsWith('-')) {
      if (HARMLESS.test(v) || (sub && ['autoremove', 'clean', 'autoclean'].includes(sub) && v === '--purge')) continue;
      return undefined;
    }
    if (!sub) sub = v;
    else rest.push(...v.split(/\s+/).filter(Boolean));
  }
  if (sub === 'update' && rest.length === 0) return { kind: 'update' };
  if (
    (sub === 'upgrade' || sub === 'full-upgrade' || sub === 'dist-upgrade' || sub === 'safe-upgrade') &&
    rest.length === 0
  )
    return { kind: 'upgrade' };
  if ((sub === 'clean' || sub === 'autoclean' || sub === 'autoremove') && rest.length === 0) return { kind: 'clean' };
  // `install` of nothing (an empty apt_packages) does nothing
  if (sub === 'install' && rest.length === 0) return { kind: 'clean' };
  if (sub === 'install' && rest.every((p) => !p.includes('/') && !p.endsWith('.deb')))
    return { kind: 'install', packages: rest };
  return undefined;
}

export const apt: Recognizer = {
  name: 'apt',
  roles: ['build'],
  match(u, view): Hit | undefined {
    const cmds = plainCommands(u);
    if (!cmds) return undefined;
    const lines = cmds.map((c) => aptLine(c, view));
    if (lines.some((l) => l === undefined)) return undefined;
    const installs = lines.flatMap((l) => (l!.kind === 'install' ? l!.packages : []));
    if (installs.length) {
      if (view.state.family !== 'apt') return undefined;
      if (view.state.aptBarrier) return undefined;
      const good = installs.filter((p) => validPackages([p]) && !view.state.refused.has(`package:${p}`));
      if (good.length === 0) return undefined;
      if (good.length < installs.length) {
        // apt's own syntax (lamp-server^, a release pin): those stay on an install line of their own
        if (cmds.length !== 1) return undefined;
        const rest = installs.filter((p) => !good.includes(p));
        const c = cmds[0];
        const w = argv(c);
        const prefix = c.words.length - w.length;
        const at = w.findIndex((x) => x.text === 'install');
        // every word but the package names, as written; the packages left for apt at the end
        const head = [...c.assigns.map((x) => x.raw), ...c.words.slice(0, prefix + at + 1).map((x) => x.raw)];
        for (let k = at + 1; k < w.length; k++) {
          const t = w[k].text;
          if (t === '-o' || t === '--option') head.push(w[k].raw, w[++k]?.raw ?? '');
          else if (t.startsWith('-')) head.push(w[k].raw);
        }
        for (const p of good) if (!view.state.packages.includes(p)) view.state.packages.push(p);
        const indent = /^[ \t]*/.exec(u.text)![0];
        const redirects = c.redirects.map((r) => `${r.fd ?? ''}${r.op}${r.target?.raw ?? ''}`);
        return {
          became: `build.packages: ${good.join(' ')}; kept for apt: ${rest.join(' ')}`,
          replace: `${indent}${[...head, ...rest.map((p) => `'${p.replace(/'/g, `'\\''`)}'`), ...redirects].join(' ')}`,
          kept: true,
        };
      }
      for (const p of installs) if (!view.state.packages.includes(p)) view.state.packages.push(p);
      const other = lines.filter((l) => l!.kind !== 'install').length;
      return {
        became: `build.packages: ${installs.join(' ')}${other ? ' (the update/upgrade/clean with it: the package does them)' : ''}`,
      };
    }
    // After a kept line that changed apt's sources, the update (and upgrade) after it are still needed.
    if (view.state.aptBarrier && lines.some((l) => l!.kind !== 'clean')) return undefined;
    const kinds = [...new Set(lines.map((l) => l!.kind))];
    const what = kinds
      .map((k) => (k === 'update' ? 'apt update' : k === 'upgrade' ? 'upgrade' : 'apt clean, or an install of nothing'))
      .join(', ');
    return { became: `dropped (${what}: the package's upgrade and cleanup steps do it)` };
  },
};
