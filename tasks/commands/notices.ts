/**
 * Warnings as data: what `mpimg validate --json` prints, and the one way every command words them on
 * stderr ("warning: <where>: <what>" and "  fix: <how>", one "warning:" per line, never two).
 */
import type { Writable } from 'node:stream';

export interface Notice {
  /** A project path (with :line:column), a `$.json.path`, or none for the project as a whole. */
  path?: string;
  message: string;
  hint?: string;
}

/** A warning source may give plain text (then it is the message) or a Notice. */
export type NoticeLike = string | Notice;

export function toNotice(n: NoticeLike): Notice {
  return typeof n === 'string' ? { message: n } : n;
}

/**
 * A shellcheck finding in its gcc format ("file:line:col: warning: text [SC2115]") as a Notice whose
 * path is file:line:col; an "error" of shellcheck keeps that word, a "warning" needs none.
 */
export function shellcheckNotice(line: string): Notice {
  const m = /^(.+?:\d+:\d+): (error|warning|note|info|style): (.*)$/.exec(line);
  if (!m) return { message: line };
  const [, at, level, text] = m;
  return { path: at, message: level === 'warning' ? text : `shellcheck ${level}: ${text}` };
}

/** "warning: <path>: <message>" (and "  fix: <hint>") for each notice. */
export function writeWarnings(out: Writable, notices: Notice[]): void {
  for (const n of notices)
    out.write(`warning: ${n.path ? `${n.path}: ` : ''}${n.message}\n${n.hint ? `  fix: ${n.hint}\n` : ''}`);
}
