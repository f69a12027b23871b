/**
 * The image check's fixture table (check-cases.ts), run in rounds: one clean root holds the fixtures
 * of several checks at once and one run of the check reports on all of them. A round takes at most
 * one fixture per check, fixtures that change disjoint paths, and at most one fixture that FAILs: a
 * fixture that trips another check's FAIL besides its own still shows as a second FAIL, as it did
 * with one run per fixture. A run costs about half a CPU second; a round per fixture was 120 runs.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type CheckReport, type Run, check, checkJson, cleanRoot } from './fixture-root.js';

export type Tag = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';

export interface Case {
  id: string;
  name: string;
  tag: Tag;
  setup: (root: string) => void;
  evidence?: RegExp;
}

export interface RoundResult {
  cases: Case[];
  text: Run;
  /** The --json run, made when a fixture of the round names its evidence. */
  json?: { run: Run; report: CheckReport };
}

/** Every path of a tree with what it is (type, mode, owner, content or link target). */
function listing(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    let what = `${st.mode} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) what += ` -> ${readlinkSync(abs)}`;
    else if (st.isFile()) what += ` ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`;
    out.set(rel, what);
    if (st.isDirectory()) for (const e of readdirSync(abs)) walk(rel ? `${rel}/${e}` : e);
  };
  walk('');
  return out;
}

/** The paths a fixture adds, removes or changes in a clean root. */
function touched(c: Case, clean: Map<string, string>): string[] {
  const root = cleanRoot();
  c.setup(root);
  const after = listing(root);
  return [...new Set([...clean.keys(), ...after.keys()])].filter((p) => clean.get(p) !== after.get(p));
}

const overlaps = (a: string[], b: string[]): boolean =>
  a.some((p) => b.some((q) => p === q || p.startsWith(`${q}/`) || q.startsWith(`${p}/`)));

/** Packs the cases into rounds (first fit, in table order, so a round's make-up is the same every run). */
export function packRounds(cases: Case[]): Case[][] {
  const clean = listing(cleanRoot());
  const rounds: Array<{ cases: Case[]; paths: string[] }> = [];
  // A fixture that changes nothing is the clean root itself: those share one round whatever their checks.
  const unchanged: Case[] = [];
  for (const c of cases) {
    const paths = touched(c, clean);
    if (paths.length === 0) {
      unchanged.push(c);
      continue;
    }
    let round = rounds.find(
      (r) => !r.cases.some((o) => o.id === c.id || (c.tag === 'FAIL' && o.tag === 'FAIL')) && !overlaps(r.paths, paths),
    );
    if (!round) rounds.push((round = { cases: [], paths: [] }));
    round.cases.push(c);
    round.paths.push(...paths);
  }
  return [...rounds.map((r) => r.cases), ...(unchanged.length ? [unchanged] : [])];
}

/** Runs the check once (and once with --json when a fixture names evidence) over a root holding the round. */
export function runRound(cases: Case[]): RoundResult {
  const root = cleanRoot();
  for (const c of cases) c.setup(root);
  const text = check(root);
  return { cases, text, json: cases.some((c) => c.evidence) ? checkJson(root) : undefined };
}
