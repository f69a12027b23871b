/**
 * DigitalOcean's cleanup (90-cleanup.sh, 900-cleanup.sh) and image check (99-img-check.sh) in a
 * template: the package runs its own, fixed versions of both, so theirs are dropped. A copy that
 * matches a version DigitalOcean published is dropped silently; a modified one is named in the
 * report with the lines it has that no DigitalOcean version has, and is never kept as the
 * project's own cleanup or check. Versions are known by fingerprint only (known-scripts.ts).
 */
import { createHash } from 'node:crypto';
import { KNOWN_CHECK, KNOWN_CLEANUP, type KnownScripts } from './known-scripts.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Lines that carry meaning, with their line numbers: trimmed, blanks squeezed, comments dropped. */
export function normalizedLines(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .forEach((l, i) => {
      const t = l.trim().replace(/\s+/g, ' ');
      if (t !== '' && !t.startsWith('#')) out.push({ line: i + 1, text: t });
    });
  return out;
}

export interface DoScript {
  kind: 'cleanup' | 'check';
  /** The DigitalOcean version it is, when unmodified. */
  version?: { date: string; where: string };
  /** Its lines no DigitalOcean version has (the diff against theirs). */
  added: Array<{ line: number; text: string }>;
  /** How many of its lines DigitalOcean's versions have. */
  shared: number;
}

const sets = new Map<KnownScripts, Set<string>>();
function lineSet(k: KnownScripts): Set<string> {
  let s = sets.get(k);
  if (!s) sets.set(k, (s = new Set(k.lines)));
  return s;
}

/** One line's fingerprint as known-scripts.ts keeps it. */
export const lineFingerprint = (normalized: string): string => sha(normalized).slice(0, 16);

/**
 * Is this script DigitalOcean's cleanup or image check (as published, or modified)? `known` is the
 * table of their versions (tests give their own).
 */
export function classifyDoScript(
  text: string,
  fileName: string,
  known: { cleanup: KnownScripts; check: KnownScripts } = { cleanup: KNOWN_CLEANUP, check: KNOWN_CHECK },
): DoScript | undefined {
  const lines = normalizedLines(text);
  if (lines.length === 0) return undefined;
  const whole = sha(lines.map((l) => l.text).join('\n'));
  for (const [kind, table, nameRe] of [
    ['cleanup', known.cleanup, /clean-?up/i],
    ['check', known.check, /img[-_]?check|image[-_]?check/i],
  ] as const) {
    const set = lineSet(table);
    const shared = lines.filter((l) => set.has(lineFingerprint(l.text))).length;
    const share = shared / lines.length;
    const version = table.versions[whole];
    if (version || (lines.length >= 5 && share >= 0.6) || (nameRe.test(fileName) && share >= 0.3 && shared >= 3)) {
      // Lines of the other kind's table count as DigitalOcean's too (a cleanup that runs the check).
      const other = lineSet(kind === 'cleanup' ? known.check : known.cleanup);
      const added = lines.filter(
        (l) =>
          !set.has(lineFingerprint(l.text)) &&
          !other.has(lineFingerprint(l.text)) &&
          !/^(set -[a-z]+|set -o \w+|exit 0)$/.test(l.text),
      );
      return { kind, version, added: version ? [] : added, shared };
    }
  }
  return undefined;
}

/** Is this one line (normalised) a line of some DigitalOcean cleanup? */
export function isCleanupLine(normalized: string): boolean {
  return lineSet(KNOWN_CLEANUP).has(lineFingerprint(normalized));
}
