/**
 * Reading a shell script as data, never running it: its top-level commands ("units") with the lines
 * they span, and for a plain command list its pipelines, words, redirections and here-documents.
 * The importer removes whole units it recognises and keeps every other line byte for byte, so the
 * reader only has to find where commands start and end (quotes, $(...), here-documents, line
 * continuations, if/case/loops/functions), not to understand everything a shell can say.
 */
import { Lexer, REDIRECT_OPS, type Token } from './shell-lexer.js';
import { parseList } from './shell-list.js';
import { ShellReadError, type SimpleCommand, type Unit, type Word } from './shell-syntax.js';

export {
  ShellReadError,
  type CommandList,
  type HereDoc,
  type Pipeline,
  type Redirect,
  type SimpleCommand,
  type Unit,
  type Word,
} from './shell-syntax.js';

const OPENERS = new Set(['if', 'case', 'for', 'while', 'until', 'select', '{', 'function', '[[']);

/**
 * Splits a script into its top-level units. Throws ShellReadError when the text is not shell a
 * parser could follow (an unclosed quote or here-document): the caller then keeps it whole.
 */
export function readShell(text: string): Unit[] {
  const src = text.replace(/\r\n/g, '\n');
  const lines = src.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const tokens = new Lexer(src).run();

  const units: Unit[] = [];
  let cur: Token[] = [];
  const nest = new Nesting();
  let startLine = 0;

  const flush = (endLine: number) => {
    if (cur.length === 0) return;
    const start = startLine;
    const end = Math.max(endLine, start);
    const unitText = lines.slice(start - 1, end).join('\n');
    const unit: Unit = { start, end, kind: nest.compound ? 'compound' : 'command', text: unitText };
    if (!nest.compound) {
      const list = parseList(cur);
      if (list) unit.list = list;
      else unit.kind = 'compound';
    }
    units.push(unit);
    cur = [];
    nest.compound = false;
  };

  for (const tok of tokens) {
    if (tok.t === 'nl') {
      const last = cur[cur.length - 1];
      const continues = last && last.t === 'op' && ['&&', '||', '|', '|&'].includes(last.op);
      if (cur.length && nest.depth === 0 && !continues) flush(tok.endLine);
      nest.commandPosition = true;
      continue;
    }
    if (cur.length === 0) startLine = tok.line;
    cur.push(tok);
    if (tok.t === 'op') nest.op(tok.op);
    else nest.word(tok.word.raw, cur[cur.length - 2], tok.line);
  }
  if (nest.depth > 0)
    throw new ShellReadError('a block (if, case, a loop, { or a function) is never closed', lines.length);
  flush(lines.length);
  return [...units, ...uncovered(lines, units)].sort((a, b) => a.start - b.start);
}

/** Every line no command covers: blank or comment units of one line each. */
function uncovered(lines: string[], units: Unit[]): Unit[] {
  const covered = new Array<boolean>(lines.length + 1).fill(false);
  for (const u of units) for (let l = u.start; l <= u.end; l++) covered[l] = true;
  const out: Unit[] = [];
  for (let l = 1; l <= lines.length; l++) {
    if (covered[l]) continue;
    const t = lines[l - 1];
    out.push({ start: l, end: l, kind: t.trim() === '' ? 'blank' : 'comment', text: t });
  }
  return out;
}

/**
 * Where the reader is in the script's blocks: how deep (a unit ends only at depth 0), whether the
 * unit is compound, the case statements open, and whether the next word is in command position
 * (only there is `if` a keyword).
 */
class Nesting {
  depth = 0;
  compound = false;
  commandPosition = true;
  private caseStack: Array<'word' | 'pattern' | 'body'> = [];
  private afterFunction = false;

  op(op: string): void {
    const top = this.caseStack[this.caseStack.length - 1];
    if (op === '(') {
      if (top === 'pattern') return;
      this.depth++;
      this.compound = true;
      this.commandPosition = true;
    } else if (op === ')') {
      if (top === 'pattern') this.caseStack[this.caseStack.length - 1] = 'body';
      // else `name() {`: the body's brace follows
      else this.depth--;
      this.commandPosition = true;
    } else if (op === ';;' || op === ';&' || op === ';;&') {
      if (top === 'body') this.caseStack[this.caseStack.length - 1] = 'pattern';
      this.commandPosition = true;
    } else {
      this.commandPosition = !REDIRECT_OPS.has(op);
    }
  }

  /** A word `w` (raw), after token `prev` of the unit. */
  word(w: string, prev: Token | undefined, line: number): void {
    const top = this.caseStack[this.caseStack.length - 1];
    if (top === 'word' && w === 'in') {
      this.caseStack[this.caseStack.length - 1] = 'pattern';
      this.commandPosition = true;
      return;
    }
    if (top === 'pattern') {
      if (w === 'esac') {
        this.caseStack.pop();
        this.depth--;
        this.commandPosition = false;
      }
      return;
    }
    if (this.afterFunction) {
      // `function name {`: the body's brace follows the name
      this.afterFunction = false;
      this.commandPosition = true;
      return;
    }
    if (this.commandPosition) this.keyword(w, top, prev);
    if (this.depth < 0) throw new ShellReadError(`"${w}" closes nothing`, line);
  }

  private keyword(w: string, top: string | undefined, prev: Token | undefined): void {
    this.afterFunction = w === 'function';
    if (OPENERS.has(w) || (w === 'esac' && top === 'body')) this.compound = true;
    if (w === 'if' || w === '{' || w === 'do') this.depth++;
    else if (w === 'case') {
      this.depth++;
      this.caseStack.push('word');
    } else if (w === 'fi' || w === '}' || w === 'done') this.depth--;
    else if (w === 'esac' && top === 'body') {
      this.caseStack.pop();
      this.depth--;
    }
    // A function definition: name() { ... } (the "(" ")" come as operators).
    if (w === '{' && prev && prev.t === 'op' && prev.op === ')') this.compound = true;
    const keywordLike = ['if', 'then', 'elif', 'else', 'do', '{', '!', 'while', 'until', 'time'].includes(w);
    this.commandPosition = keywordLike;
    if (w === 'for' || w === 'select' || w === 'case') this.commandPosition = false;
  }
}

/** The non-blank, non-comment lines of a unit (what the report counts as shell lines). */
export function shellLines(u: Unit): number {
  if (u.kind === 'blank' || u.kind === 'comment') return 0;
  return u.text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).length;
}

/** Each simple command of a unit, in order (empty for blocks). */
export function commandsOf(u: Unit): SimpleCommand[] {
  return u.list ? u.list.pipelines.flatMap((p) => p.commands) : [];
}

/** The words of a command without a leading `sudo` (and its options) or `env NAME=value`. */
export function argv(c: SimpleCommand): Word[] {
  let w = c.words;
  for (;;) {
    const first = w[0]?.text;
    if (first === 'sudo') {
      w = w.slice(1);
      while (w[0] && w[0].text.startsWith('-')) {
        const opt = w[0].text;
        w = w.slice(1);
        if (['-u', '-g', '-C', '-D', '-h', '-p', '-U', '-r', '-t', '-T'].includes(opt)) w = w.slice(1);
      }
      // sudo NAME=value cmd: the environment of the command
      while (w[0] && /^[A-Za-z_][A-Za-z0-9_]*=/.test(w[0].text)) w = w.slice(1);
    } else if (first === 'env') {
      w = w.slice(1);
      while (w[0] && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w[0].text) || w[0].text.startsWith('-'))) w = w.slice(1);
    } else return w;
  }
}

/** The program a command runs (basename of its first word after sudo/env), or ''. */
export function programOf(c: SimpleCommand): string {
  const w = argv(c)[0];
  return w ? (w.text.split('/').pop() ?? '') : '';
}
