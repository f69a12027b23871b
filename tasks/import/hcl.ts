/**
 * A reader for HCL2 as Packer templates (*.pkr.hcl) use it: blocks with labels, attributes, quoted
 * strings and heredocs whose ${...} and %{...} stay as text, numbers, booleans, lists and maps. Any
 * other expression (a function call, `var.x`, a conditional) is kept as its source text. Nothing is
 * evaluated: the importer maps what it knows and reports the rest.
 */

export type TemplatePart = { lit: string } | { interp: string } | { directive: string };

export type HclValue =
  | { kind: 'string'; parts: TemplatePart[]; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'bool'; value: boolean; line: number }
  | { kind: 'null'; line: number }
  | { kind: 'list'; items: HclValue[]; line: number }
  | { kind: 'object'; entries: Array<[string, HclValue]>; line: number }
  | { kind: 'expr'; text: string; line: number };

export interface HclBlock {
  type: string;
  labels: string[];
  body: HclBody;
  line: number;
}

export interface HclBody {
  attributes: Array<{ name: string; value: HclValue; line: number }>;
  blocks: HclBlock[];
}

export class HclReadError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_-]/;

class Parser {
  private i = 0;
  private line = 1;

  constructor(private readonly s: string) {}

  parseFile(): HclBody {
    const body = this.body(false);
    this.skipSpace(true);
    if (this.i < this.s.length) this.fail(`unexpected "${this.s[this.i]}"`);
    return body;
  }

  private fail(message: string): never {
    throw new HclReadError(message, this.line);
  }

  /** Spaces, tabs and comments; newlines too when `newlines`. */
  private skipSpace(newlines: boolean): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else if (c === '\n' && newlines) {
        this.i++;
        this.line++;
      } else if (c === '#' || (c === '/' && s[this.i + 1] === '/')) {
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
      } else if (c === '/' && s[this.i + 1] === '*') {
        const end = s.indexOf('*/', this.i + 2);
        if (end < 0) this.fail('a /* comment is never closed');
        this.line += s.slice(this.i, end).split('\n').length - 1;
        this.i = end + 2;
      } else break;
    }
  }

  private ident(): string {
    const s = this.s;
    if (!IDENT_START.test(s[this.i] ?? '')) this.fail(`expected a name, found "${s[this.i] ?? 'the end'}"`);
    const start = this.i;
    while (this.i < s.length && IDENT.test(s[this.i])) this.i++;
    return s.slice(start, this.i);
  }

  private body(inBlock: boolean): HclBody {
    const body: HclBody = { attributes: [], blocks: [] };
    for (;;) {
      this.skipSpace(true);
      if (this.i >= this.s.length) {
        if (inBlock) this.fail('a block is never closed with "}"');
        return body;
      }
      if (this.s[this.i] === '}') {
        if (!inBlock) this.fail('"}" closes nothing');
        this.i++;
        return body;
      }
      const line = this.line;
      const name = this.ident();
      this.skipSpace(false);
      if (this.s[this.i] === '=' && this.s[this.i + 1] !== '=') {
        this.i++;
        this.skipSpace(false);
        const value = this.expression();
        body.attributes.push({ name, value, line });
        this.endOfLine();
      } else {
        const labels: string[] = [];
        for (;;) {
          this.skipSpace(false);
          const c = this.s[this.i];
          if (c === '{') break;
          if (c === '"') {
            const v = this.quoted();
            if (v.parts.some((p) => !('lit' in p))) this.fail('a block label cannot hold ${...}');
            labels.push(v.parts.map((p) => (p as { lit: string }).lit).join(''));
          } else if (IDENT_START.test(c ?? '')) labels.push(this.ident());
          else this.fail(`expected "=" or a block after "${name}"`);
        }
        this.i++;
        const inner = this.body(true);
        body.blocks.push({ type: name, labels, body: inner, line });
        this.endOfLine();
      }
    }
  }

  private endOfLine(): void {
    this.skipSpace(false);
    const c = this.s[this.i];
    if (c === undefined || c === '\n' || c === '}') return;
    this.fail(`expected the end of the line, found "${c}"`);
  }

  private expression(): HclValue {
    const s = this.s;
    const line = this.line;
    const start = this.i;
    const first = this.primary();
    this.skipSpace(false);
    const c = s[this.i];
    // A lone value ends here; anything else (operators, .attr, [index], a call) is kept as text.
    if (
      c === undefined ||
      c === '\n' ||
      c === ',' ||
      c === ']' ||
      c === '}' ||
      c === ')' ||
      c === ':' ||
      (c === '=' && s[this.i + 1] !== '=')
    )
      return first;
    this.i = start;
    this.line = line;
    return { kind: 'expr', text: this.rawExpression(), line };
  }

  private primary(): HclValue {
    const s = this.s;
    const line = this.line;
    const c = s[this.i];
    if (c === '"') return this.quoted();
    if (c === '<' && s[this.i + 1] === '<') return this.heredoc();
    if (c === '[') {
      this.i++;
      const items: HclValue[] = [];
      for (;;) {
        this.skipSpace(true);
        if (s[this.i] === ']') {
          this.i++;
          return { kind: 'list', items, line };
        }
        items.push(this.expression());
        this.skipSpace(true);
        if (s[this.i] === ',') this.i++;
        else if (s[this.i] !== ']') this.fail(`expected "," or "]" in a list, found "${s[this.i] ?? 'the end'}"`);
      }
    }
    if (c === '{') {
      this.i++;
      const entries: Array<[string, HclValue]> = [];
      for (;;) {
        this.skipSpace(true);
        if (s[this.i] === '}') {
          this.i++;
          return { kind: 'object', entries, line };
        }
        let key: string;
        if (s[this.i] === '"') {
          const k = this.quoted();
          key = k.parts.map((p) => ('lit' in p ? p.lit : '${' + ('interp' in p ? p.interp : '') + '}')).join('');
        } else key = this.ident();
        this.skipSpace(false);
        if (s[this.i] !== '=' && s[this.i] !== ':') this.fail(`expected "=" or ":" after "${key}"`);
        this.i++;
        this.skipSpace(false);
        entries.push([key, this.expression()]);
        this.skipSpace(false);
        if (s[this.i] === ',') this.i++;
      }
    }
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(this.i, this.i + 40));
    if (num) {
      this.i += num[0].length;
      return { kind: 'number', value: Number(num[0]), line };
    }
    if (IDENT_START.test(c ?? '')) {
      const start = this.i;
      const id = this.ident();
      if (id === 'true' || id === 'false') return { kind: 'bool', value: id === 'true', line };
      if (id === 'null') return { kind: 'null', line };
      return { kind: 'expr', text: s.slice(start, this.i), line };
    }
    this.fail(`unexpected "${c ?? 'end of file'}" in a value`);
  }

  /** Source text of an expression up to a newline, ",", "]" or "}" outside brackets and strings. */
  private rawExpression(): string {
    const s = this.s;
    const start = this.i;
    let depth = 0;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === '"') {
        this.quoted();
        continue;
      }
      if (c === '<' && s[this.i + 1] === '<' && /[A-Za-z-]/.test(s[this.i + 2] ?? '')) {
        this.heredoc();
        continue;
      }
      if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') {
        if (depth === 0) break;
        depth--;
      } else if (depth === 0 && (c === '\n' || c === ',')) break;
      else if (c === '\n') this.line++;
      else if (c === '#' || (c === '/' && s[this.i + 1] === '/')) {
        if (depth === 0) break;
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
        continue;
      }
      this.i++;
    }
    if (depth !== 0) this.fail('a bracket is never closed');
    return s.slice(start, this.i).trim();
  }

  /** A quoted template: literal text, ${...} and %{...} kept as text. */
  private quoted(): { kind: 'string'; parts: TemplatePart[]; line: number } {
    const s = this.s;
    const line = this.line;
    this.i++;
    const parts: TemplatePart[] = [];
    let lit = '';
    for (;;) {
      const c = s[this.i];
      if (c === undefined || c === '\n') this.fail('a quoted string is never closed on its line');
      if (c === '"') {
        this.i++;
        break;
      }
      if (c === '\\') {
        const n = s[this.i + 1];
        const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };
        if (n in map) {
          lit += map[n];
          this.i += 2;
        } else if (n === 'u' || n === 'U') {
          const len = n === 'u' ? 4 : 8;
          const hex = s.slice(this.i + 2, this.i + 2 + len);
          if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== len) this.fail('bad \\u escape');
          lit += String.fromCodePoint(parseInt(hex, 16));
          this.i += 2 + len;
        } else this.fail(`unknown escape "\\${n}"`);
        continue;
      }
      if ((c === '$' || c === '%') && s[this.i + 1] === '{') {
        if (lit) parts.push({ lit });
        lit = '';
        const inner = this.templateSequence();
        parts.push(c === '$' ? { interp: inner } : { directive: inner });
        continue;
      }
      if ((c === '$' || c === '%') && s[this.i + 1] === c && s[this.i + 2] === '{') {
        // $${ and %%{ are the escapes for a literal ${ and %{
        lit += `${c}{`;
        this.i += 3;
        continue;
      }
      lit += c;
      this.i++;
    }
    if (lit || parts.length === 0) parts.push({ lit });
    return { kind: 'string', parts, line };
  }

  /** At "${" or "%{": the text inside, up to the matching "}". */
  private templateSequence(): string {
    const s = this.s;
    this.i += 2;
    const start = this.i;
    let depth = 0;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === '"') {
        this.quoted();
        continue;
      }
      if (c === '{') depth++;
      else if (c === '}') {
        if (depth === 0) {
          const text = s.slice(start, this.i);
          this.i++;
          return text.trim().replace(/^~|~$/g, '').trim();
        }
        depth--;
      } else if (c === '\n') this.line++;
      this.i++;
    }
    this.fail('a ${ is never closed');
  }

  private heredoc(): { kind: 'string'; parts: TemplatePart[]; line: number } {
    const s = this.s;
    const line = this.line;
    const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n/.exec(s.slice(this.i, this.i + 200));
    if (!m) this.fail('bad heredoc start (expected <<NAME or <<-NAME and a new line)');
    this.i += m[0].length;
    this.line++;
    const lines: string[] = [];
    for (;;) {
      if (this.i >= s.length) this.fail(`heredoc "${m[2]}" is never ended`);
      const nl = s.indexOf('\n', this.i);
      const end = nl < 0 ? s.length : nl;
      const text = s.slice(this.i, end).replace(/\r$/, '');
      this.i = nl < 0 ? s.length : nl + 1;
      this.line++;
      if (text.trim() === m[2]) {
        // the newline after the closing marker ends the attribute
        if (nl >= 0) {
          this.i = nl;
          this.line--;
        }
        break;
      }
      lines.push(text);
    }
    let body = lines;
    if (m[1] === '-') {
      const indents = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)![0].length);
      const cut = indents.length ? Math.min(...indents) : 0;
      body = lines.map((l) => l.slice(cut));
    }
    const text = body.map((l) => `${l}\n`).join('');
    // The body is a template like a quoted string, without the escapes.
    const parts: TemplatePart[] = [];
    let lit = '';
    let k = 0;
    while (k < text.length) {
      const c = text[k];
      if ((c === '$' || c === '%') && text[k + 1] === c && text[k + 2] === '{') {
        lit += `${c}{`;
        k += 3;
      } else if ((c === '$' || c === '%') && text[k + 1] === '{') {
        const close = text.indexOf('}', k + 2);
        if (close < 0) this.fail('a ${ in a heredoc is never closed');
        if (lit) parts.push({ lit });
        lit = '';
        const inner = text.slice(k + 2, close).trim();
        parts.push(c === '$' ? { interp: inner } : { directive: inner });
        k = close + 1;
      } else {
        lit += c;
        k++;
      }
    }
    if (lit || parts.length === 0) parts.push({ lit });
    return { kind: 'string', parts, line };
  }
}

/** Parses an HCL2 file; throws HclReadError with the line. */
export function readHcl(text: string): HclBody {
  return new Parser(text.replace(/^\uFEFF/, '')).parseFile();
}

/** The attribute of a body by name (the last one when repeated), or undefined. */
export function attr(body: HclBody, name: string): HclValue | undefined {
  for (let k = body.attributes.length - 1; k >= 0; k--)
    if (body.attributes[k].name === name) return body.attributes[k].value;
  return undefined;
}
