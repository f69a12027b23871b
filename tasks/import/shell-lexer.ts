// The shell reader's tokens: words (with their quoting), operators and line ends, here-document bodies
// read at the line end that follows their operator.
import { ShellReadError, type Redirect, type Word } from './shell-syntax.js';

export type Token =
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
export const REDIRECT_OPS = new Set(['>', '>>', '<', '<<', '<<-', '<<<', '>&', '<&', '&>', '&>>', '>|', '<>']);

export class Lexer {
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
