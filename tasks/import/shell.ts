/**
 * Reading a shell script as data, never running it: its top-level commands ("units") with the lines
 * they span, and for a plain command list its pipelines, words, redirections and here-documents.
 * The importer removes whole units it recognises and keeps every other line byte for byte, so the
 * reader only has to find where commands start and end (quotes, $(...), here-documents, line
 * continuations, if/case/loops/functions), not to understand everything a shell can say.
 */

export interface Word {
  /** As written, quotes and all. */
  raw: string;
  /** With quotes and escapes removed; expansions ($x, $(...), `...`) are left as written. */
  text: string;
  /** No expansion at all: `text` is exactly what the shell would pass. */
  plain: boolean;
}

export interface HereDoc {
  delimiter: string;
  /** A quoted delimiter ('EOF'): the body is literal, nothing in it is expanded. */
  quoted: boolean;
  /** The body, lines joined with "\n" (leading tabs removed for <<-), without the delimiter line. */
  body: string;
}

export interface Redirect {
  /** '>', '>>', '<', '<<', '<<-', '<<<', '>&', '<&', '&>', '&>>', '>|', '<>' */
  op: string;
  fd?: string;
  target?: Word;
  heredoc?: HereDoc;
}

export interface SimpleCommand {
  /** Leading NAME=value words. */
  assigns: Word[];
  words: Word[];
  redirects: Redirect[];
}

export interface Pipeline {
  commands: SimpleCommand[];
  negated: boolean;
}

export interface CommandList {
  pipelines: Pipeline[];
  /** The operator after each pipeline but the last: '&&', '||', ';', '&'. */
  ops: string[];
  /** Ends with '&'. */
  background: boolean;
}

export interface Unit {
  /** First and last physical line (1-based, inclusive). */
  start: number;
  end: number;
  kind: 'blank' | 'comment' | 'command' | 'compound';
  /** The unit's lines exactly as written (no final newline). */
  text: string;
  /** For 'command': the parsed list. */
  list?: CommandList;
}

export class ShellReadError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

type Token =
  | { t: 'word'; word: Word; line: number; fdPrefix?: boolean }
  | { t: 'op'; op: string; line: number }
  | { t: 'nl'; line: number; endLine: number };

const META = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);
const OPS = [
  '&&',
  '||',
  ';;&',
  ';;',
  ';&',
  '|&',
  '&>>',
  '&>',
  '>>',
  '<<<',
  '<<-',
  '<<',
  '>&',
  '<&',
  '>|',
  '<>',
  ';',
  '&',
  '|',
  '<',
  '>',
  '(',
  ')',
];
const REDIRECT_OPS = new Set(['>', '>>', '<', '<<', '<<-', '<<<', '>&', '<&', '&>', '&>>', '>|', '<>']);

class Lexer {
  private i = 0;
  private line = 1;
  readonly tokens: Token[] = [];
  private pending: Array<{ redirect: Redirect; strip: boolean }> = [];

  constructor(private readonly s: string) {}

  run(): Token[] {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\r') {
        this.i++;
      } else if (c === '\\' && s[this.i + 1] === '\n') {
        this.i += 2;
        this.line++;
      } else if (c === '\n') {
        const line = this.line;
        this.i++;
        this.line++;
        this.readHereDocs();
        this.tokens.push({ t: 'nl', line, endLine: this.line - 1 });
      } else if (c === '#') {
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
      } else {
        const op = OPS.find((o) => s.startsWith(o, this.i));
        if (op) {
          this.i += op.length;
          this.tokens.push({ t: 'op', op, line: this.line });
          if (op === '<<' || op === '<<-') this.hereDocOperator(op);
        } else {
          const line = this.line;
          const word = this.word();
          const fdPrefix = /^\d+$/.test(word.raw) && (s[this.i] === '<' || s[this.i] === '>');
          this.tokens.push({ t: 'word', word, line, fdPrefix });
        }
      }
    }
    if (this.pending.length)
      throw new ShellReadError(
        `here-document "${this.pending[0].redirect.heredoc!.delimiter}" is never ended`,
        this.line,
      );
    this.tokens.push({ t: 'nl', line: this.line, endLine: this.line });
    return this.tokens;
  }

  private hereDocOperator(op: string): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
    const w = this.word();
    if (w.raw === '') throw new ShellReadError('here-document without a delimiter', this.line);
    const redirect: Redirect = { op, heredoc: { delimiter: w.text, quoted: /['"\\]/.test(w.raw), body: '' } };
    this.tokens.push({ t: 'word', word: { raw: w.raw, text: w.text, plain: true }, line: this.line });
    // The parser takes the word as the operator's target; the body is filled in at the end of the line.
    (this.tokens[this.tokens.length - 1] as { heredoc?: Redirect }).heredoc = redirect;
    this.pending.push({ redirect, strip: op === '<<-' });
  }

  private readHereDocs(): void {
    for (const p of this.pending) {
      const h = p.redirect.heredoc!;
      const body: string[] = [];
      for (;;) {
        if (this.i >= this.s.length)
          throw new ShellReadError(`here-document "${h.delimiter}" is never ended`, this.line);
        const nl = this.s.indexOf('\n', this.i);
        const end = nl < 0 ? this.s.length : nl;
        let text = this.s.slice(this.i, end);
        this.i = nl < 0 ? this.s.length : nl + 1;
        this.line++;
        if (p.strip) text = text.replace(/^\t+/, '');
        if (text === h.delimiter || text.replace(/\r$/, '') === h.delimiter) break;
        body.push(text);
      }
      h.body = body.join('\n');
    }
    this.pending = [];
  }

  /** One word, up to an unquoted metacharacter. */
  private word(): Word {
    const s = this.s;
    const start = this.i;
    let text = '';
    // ~ and ~user at the start of a word are the shell's to expand
    let plain = s[this.i] !== '~';
    while (this.i < s.length && !META.has(s[this.i])) {
      const c = s[this.i];
      if (c === '\\') {
        if (s[this.i + 1] === '\n') {
          this.i += 2;
          this.line++;
          continue;
        }
        text += s[this.i + 1] ?? '';
        this.i += 2;
      } else if (c === "'") {
        const end = s.indexOf("'", this.i + 1);
        if (end < 0) throw new ShellReadError('a single quote is never closed', this.line);
        const body = s.slice(this.i + 1, end);
        this.line += count(body, '\n');
        text += body;
        this.i = end + 1;
      } else if (c === '"') {
        this.i++;
        for (;;) {
          if (this.i >= s.length) throw new ShellReadError('a double quote is never closed', this.line);
          const d = s[this.i];
          if (d === '"') {
            this.i++;
            break;
          }
          if (d === '\\' && '$`"\\\n'.includes(s[this.i + 1] ?? '')) {
            if (s[this.i + 1] === '\n') this.line++;
            else text += s[this.i + 1];
            this.i += 2;
          } else if (d === '$' || d === '`') {
            const from = this.i;
            if (this.expansion()) {
              plain = false;
              text += s.slice(from, this.i);
            } else {
              text += d;
              this.i++;
            }
          } else {
            if (d === '\n') this.line++;
            text += d;
            this.i++;
          }
        }
      } else if (c === '$' || c === '`') {
        const from = this.i;
        if (this.expansion()) {
          plain = false;
          text += s.slice(from, this.i);
        } else {
          text += c;
          this.i++;
        }
      } else {
        // Globs are expansions too: a word with one is not a fixed argument.
        if (c === '*' || c === '?' || c === '[') plain = false;
        text += c;
        this.i++;
      }
    }
    return { raw: s.slice(start, this.i), text, plain };
  }

  /** Skips one $name, ${...}, $(...), $((...)) or `...` at this.i; false when `$` is a plain character. */
  private expansion(): boolean {
    const s = this.s;
    if (s[this.i] === '`') {
      let j = this.i + 1;
      while (j < s.length && s[j] !== '`') {
        if (s[j] === '\\') j++;
        if (s[j] === '\n') this.line++;
        j++;
      }
      if (j >= s.length) throw new ShellReadError('a backquote is never closed', this.line);
      this.i = j + 1;
      return true;
    }
    const n = s[this.i + 1];
    if (n === '(' || n === '{') {
      this.i = this.balanced(this.i + 1);
      return true;
    }
    if (n !== undefined && /[A-Za-z0-9_@*#?$!-]/.test(n)) {
      let j = this.i + 1;
      if (/[A-Za-z_]/.test(n)) while (j < s.length && /[A-Za-z0-9_]/.test(s[j])) j++;
      else j++;
      this.i = j;
      return true;
    }
    return false;
  }

  /** From an opening ( or { at `at`, the index after its match, skipping quotes and nested ones. */
  private balanced(at: number): number {
    const s = this.s;
    const open = s[at];
    const close = open === '(' ? ')' : '}';
    let depth = 0;
    let j = at;
    while (j < s.length) {
      const c = s[j];
      if (c === '\\') {
        j += 2;
        continue;
      }
      if (c === '\n') this.line++;
      if (c === "'" && open === '(') {
        const end = s.indexOf("'", j + 1);
        if (end < 0) throw new ShellReadError('a single quote is never closed', this.line);
        this.line += count(s.slice(j + 1, end), '\n');
        j = end + 1;
        continue;
      }
      if (c === '"') {
        j++;
        while (j < s.length && s[j] !== '"') {
          if (s[j] === '\\') j++;
          else if (s[j] === '\n') this.line++;
          else if (s[j] === '$' && (s[j + 1] === '(' || s[j + 1] === '{')) {
            j = this.balanced(j + 1);
            continue;
          }
          j++;
        }
        j++;
        continue;
      }
      if (c === '#' && open === '(' && /[\s(;]/.test(s[j - 1] ?? ' ')) {
        while (j < s.length && s[j] !== '\n') j++;
        continue;
      }
      if (c === open) depth++;
      else if (c === close) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    throw new ShellReadError(`"${s.slice(at - 1, at + 1)}" is never closed`, this.line);
  }
}

const count = (s: string, c: string): number => s.split(c).length - 1;

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
  let depth = 0;
  let compound = false;
  const caseStack: Array<'word' | 'pattern' | 'body'> = [];
  let commandPosition = true;
  let afterFunction = false;
  let startLine = 0;

  const flush = (endLine: number) => {
    if (cur.length === 0) return;
    const start = startLine;
    const end = Math.max(endLine, start);
    const unitText = lines.slice(start - 1, end).join('\n');
    const unit: Unit = { start, end, kind: compound ? 'compound' : 'command', text: unitText };
    if (!compound) {
      const list = parseList(cur);
      if (list) unit.list = list;
      else unit.kind = 'compound';
    }
    units.push(unit);
    cur = [];
    compound = false;
  };

  for (const tok of tokens) {
    if (tok.t === 'nl') {
      const last = cur[cur.length - 1];
      const continues = last && last.t === 'op' && ['&&', '||', '|', '|&'].includes(last.op);
      if (cur.length && depth === 0 && !continues) flush(tok.endLine);
      commandPosition = true;
      if (caseStack.length && caseStack[caseStack.length - 1] === 'word') {
        /* `case x in` may span lines */
      }
      continue;
    }
    if (cur.length === 0) startLine = tok.line;
    cur.push(tok);
    if (tok.t === 'op') {
      const top = caseStack[caseStack.length - 1];
      if (tok.op === '(') {
        if (top === 'pattern') continue;
        depth++;
        compound = true;
        commandPosition = true;
      } else if (tok.op === ')') {
        if (top === 'pattern') {
          caseStack[caseStack.length - 1] = 'body';
          commandPosition = true;
        } else {
          depth--;
          // `name() {`: the body's brace follows
          commandPosition = true;
        }
      } else if (tok.op === ';;' || tok.op === ';&' || tok.op === ';;&') {
        if (top === 'body') caseStack[caseStack.length - 1] = 'pattern';
        commandPosition = true;
      } else {
        commandPosition = !REDIRECT_OPS.has(tok.op);
      }
      continue;
    }
    const w = tok.word.raw;
    const top = caseStack[caseStack.length - 1];
    if (top === 'word' && w === 'in') {
      caseStack[caseStack.length - 1] = 'pattern';
      commandPosition = true;
      continue;
    }
    if (top === 'pattern') {
      if (w === 'esac') {
        caseStack.pop();
        depth--;
        commandPosition = false;
      }
      continue;
    }
    if (afterFunction) {
      // `function name {`: the body's brace follows the name
      afterFunction = false;
      commandPosition = true;
      continue;
    }
    if (commandPosition) {
      afterFunction = w === 'function';
      if (OPENERS.has(w) || (w === 'esac' && top === 'body')) compound = true;
      if (w === 'if' || w === '{' || w === 'do') depth++;
      else if (w === 'case') {
        depth++;
        caseStack.push('word');
      } else if (w === 'fi' || w === '}' || w === 'done') depth--;
      else if (w === 'esac' && top === 'body') {
        caseStack.pop();
        depth--;
      }
      // A function definition: name() { ... } (the "(" ")" come as operators).
      const prev = cur[cur.length - 2];
      if (w === '{' && prev && prev.t === 'op' && prev.op === ')') compound = true;
      const keywordLike = ['if', 'then', 'elif', 'else', 'do', '{', '!', 'while', 'until', 'time'].includes(w);
      commandPosition = keywordLike;
      if (w === 'for' || w === 'select' || w === 'case') commandPosition = false;
    }
    if (depth < 0) throw new ShellReadError(`"${w}" closes nothing`, tok.line);
  }
  if (depth > 0) throw new ShellReadError('a block (if, case, a loop, { or a function) is never closed', lines.length);
  flush(lines.length);

  // Every line no command covers: blank or comment units of one line each.
  const covered = new Array<boolean>(lines.length + 1).fill(false);
  for (const u of units) for (let l = u.start; l <= u.end; l++) covered[l] = true;
  for (let l = 1; l <= lines.length; l++) {
    if (covered[l]) continue;
    const t = lines[l - 1];
    units.push({ start: l, end: l, kind: t.trim() === '' ? 'blank' : 'comment', text: t });
  }
  return units.sort((a, b) => a.start - b.start);
}

/** A plain list of simple commands (no blocks, subshells or functions), or undefined. */
function parseList(tokens: Token[]): CommandList | undefined {
  const list: CommandList = { pipelines: [], ops: [], background: false };
  let pipeline: Pipeline = { commands: [], negated: false };
  let cmd: SimpleCommand = { assigns: [], words: [], redirects: [] };
  const endCommand = () => {
    if (cmd.words.length || cmd.assigns.length || cmd.redirects.length) pipeline.commands.push(cmd);
    else if (pipeline.commands.length || pipeline.negated) return false;
    cmd = { assigns: [], words: [], redirects: [] };
    return true;
  };
  const endPipeline = () => {
    if (!endCommand() && pipeline.commands.length === 0) return false;
    if (pipeline.commands.length) list.pipelines.push(pipeline);
    pipeline = { commands: [], negated: false };
    return true;
  };
  let fd: string | undefined;
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k];
    if (tok.t === 'nl') continue;
    if (tok.t === 'op') {
      if (tok.op === '(' || tok.op === ')' || tok.op.startsWith(';;') || tok.op === ';&') return undefined;
      if (REDIRECT_OPS.has(tok.op)) {
        const next = tokens[k + 1];
        if (!next || next.t !== 'word') return undefined;
        const heredoc = (next as { heredoc?: Redirect }).heredoc;
        cmd.redirects.push(heredoc ? { ...heredoc, fd } : { op: tok.op, fd, target: next.word });
        fd = undefined;
        k++;
        continue;
      }
      if (tok.op === '|' || tok.op === '|&') {
        endCommand();
        continue;
      }
      endPipeline();
      if (tok.op === '&' && k === tokens.length - 1) list.background = true;
      list.ops.push(tok.op);
      continue;
    }
    if (tok.fdPrefix) {
      fd = tok.word.raw;
      continue;
    }
    const w = tok.word;
    if (cmd.words.length === 0 && w.raw === '!' && pipeline.commands.length === 0) {
      pipeline.negated = true;
      continue;
    }
    if (cmd.words.length === 0 && /^[A-Za-z_][A-Za-z0-9_]*\+?=/.test(w.raw)) cmd.assigns.push(w);
    else {
      if (
        cmd.words.length === 0 &&
        [
          'if',
          'then',
          'else',
          'elif',
          'fi',
          'for',
          'while',
          'until',
          'do',
          'done',
          'case',
          'esac',
          '{',
          '}',
          'function',
          '[[',
        ].includes(w.raw)
      )
        return undefined;
      cmd.words.push(w);
    }
  }
  endPipeline();
  // a trailing ';' or '&' leaves one operator more than there are gaps
  if (list.ops.length === list.pipelines.length) list.ops.pop();
  return list.pipelines.length ? list : undefined;
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
