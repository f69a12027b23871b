/**
 * Changing keys of a JSON file the vendor writes by hand (mpimg.json, package.json) without
 * rewriting the rest: the text outside the changed members stays byte for byte as it was (their
 * compact arrays, key order, spacing). Only the members whose value differs are touched.
 */

interface Member {
  key: string;
  /** Offset of the key's opening quote. */
  keyStart: number;
  valueStart: number;
  valueEnd: number;
  /** The member's value when it is an object (its members), else undefined. */
  object?: ObjectNode;
}

interface ObjectNode {
  start: number; // '{'
  end: number; // offset after '}'
  members: Member[];
}

/** A small scanner that records where each object member's key and value are. */
class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i])) this.i++;
  }

  value(): ObjectNode | undefined {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') {
      this.i++;
      this.ws();
      if (this.s[this.i] === ']') {
        this.i++;
        return undefined;
      }
      for (;;) {
        this.value();
        this.ws();
        const d = this.s[this.i++];
        if (d === ']') return undefined;
        if (d !== ',') throw new Error(`unexpected ${JSON.stringify(d)} at ${this.i - 1}`);
      }
    }
    if (c === '"') {
      this.string();
      return undefined;
    }
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.s.slice(this.i, this.i + 64));
    if (!m) throw new Error(`unexpected ${JSON.stringify(c)} at ${this.i}`);
    this.i += m[0].length;
    return undefined;
  }

  string(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length && this.s[this.i] !== '"') this.i += this.s[this.i] === '\\' ? 2 : 1;
    this.i++;
    return JSON.parse(this.s.slice(start, this.i)) as string;
  }

  object(): ObjectNode {
    const start = this.i;
    this.i++;
    const members: Member[] = [];
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { start, end: this.i, members };
    }
    for (;;) {
      this.ws();
      const keyStart = this.i;
      const key = this.string();
      this.ws();
      if (this.s[this.i++] !== ':') throw new Error(`expected ":" at ${this.i - 1}`);
      this.ws();
      const valueStart = this.i;
      const object = this.value();
      members.push({ key, keyStart, valueStart, valueEnd: this.i, object });
      this.ws();
      const d = this.s[this.i++];
      if (d === '}') return { start, end: this.i, members };
      if (d !== ',') throw new Error(`unexpected ${JSON.stringify(d)} at ${this.i - 1}`);
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The indentation of the line `offset` is on. */
function indentAt(s: string, offset: number): string {
  const lineStart = s.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(s.slice(lineStart))![0];
}

/**
 * JSON as people write it, for a value that starts at `indent`: two-space indentation, a short
 * list of plain values on one line (`"limit": ["22/tcp"]`), objects one key per line.
 */
export function formatJson(v: unknown, indent: string): string {
  if (Array.isArray(v)) {
    const flat = `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
    if (v.every((x) => x === null || typeof x !== 'object') && indent.length + flat.length <= 90) return flat;
    const inner = `${indent}  `;
    return `[\n${v.map((x) => `${inner}${formatJson(x, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    const inner = `${indent}  `;
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${formatJson(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v);
}

/** JSON text of `value` at `indent`: formatJson when the file is multi-line there, else one line. */
function render(value: unknown, indent: string, pretty: boolean): string {
  return pretty ? formatJson(value, indent) : JSON.stringify(value);
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function diff(
  s: string,
  node: ObjectNode,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  edits: Edit[],
): void {
  const pretty = s.slice(node.start, node.end).includes('\n');
  const byKey = new Map(node.members.map((m) => [m.key, m]));
  // removed members: each with the comma that joins it to the next one; a trailing run of removed
  // members from the end of the last kept one (or the opening brace)
  const keptIdx = node.members.map((m, idx) => (m.key in after ? idx : -1)).filter((idx) => idx >= 0);
  const lastKept = keptIdx.length ? keptIdx[keptIdx.length - 1] : -1;
  node.members.forEach((m, idx) => {
    if (m.key in after || idx > lastKept) return;
    edits.push({ start: m.keyStart, end: node.members[idx + 1].keyStart, text: '' });
  });
  const adds = Object.keys(after).some((k) => !node.members.some((m) => m.key === k));
  if (lastKept < node.members.length - 1 && (lastKept >= 0 || !adds)) {
    const from = lastKept >= 0 ? node.members[lastKept].valueEnd : node.start + 1;
    const to = lastKept >= 0 ? node.members[node.members.length - 1].valueEnd : node.end - 1;
    edits.push({ start: from, end: to, text: '' });
  }
  const added: string[] = [];
  for (const [key, value] of Object.entries(after)) {
    const m = byKey.get(key);
    if (!m) {
      added.push(key);
      continue;
    }
    const old = before[key];
    if (JSON.stringify(old) === JSON.stringify(value)) continue;
    if (m.object && isObject(old) && isObject(value)) {
      diff(s, m.object, old, value, edits);
      continue;
    }
    // laid out as the vendor laid out this member: a value on its own line may span lines, one
    // written on a line with other members (or compact) stays on one line
    const multi = s.slice(m.valueStart, m.valueEnd).includes('\n') || (pretty && ownLine(s, m) && !isCompact(s, m));
    edits.push({ start: m.valueStart, end: m.valueEnd, text: render(value, indentAt(s, m.keyStart), multi) });
  }
  if (added.length === 0) return;
  const last = node.members.filter((m) => m.key in after).at(-1);
  const inner = last ? indentAt(s, last.keyStart) : `${indentAt(s, node.start)}  `;
  const text = added
    .map(
      (k) =>
        (pretty ? `\n${inner}` : '') + `${JSON.stringify(k)}:${pretty ? ' ' : ''}${render(after[k], inner, pretty)}`,
    )
    .join(',');
  if (last) edits.push({ start: last.valueEnd, end: last.valueEnd, text: `,${text}` });
  else
    edits.push({
      start: node.start + 1,
      end: node.end - 1,
      text: `${text}${pretty ? `\n${indentAt(s, node.start)}` : ''}`,
    });
}

/** The member is alone on its line(s): nothing but blanks before its key and a comma after its value. */
function ownLine(s: string, m: Member): boolean {
  const lineStart = s.lastIndexOf('\n', m.keyStart - 1) + 1;
  const lineEnd = s.indexOf('\n', m.valueEnd);
  return (
    /^[ \t]*$/.test(s.slice(lineStart, m.keyStart)) &&
    /^,?[ \t]*$/.test(s.slice(m.valueEnd, lineEnd < 0 ? s.length : lineEnd))
  );
}

/** An array or object the vendor wrote on one line stays on one line. */
function isCompact(s: string, m: Member): boolean {
  const text = s.slice(m.valueStart, m.valueEnd);
  return (text.startsWith('[') || text.startsWith('{')) && !text.includes('\n');
}

/**
 * The text of `before` (a JSON object document) changed to hold `after`: members whose value is the
 * same keep their text; changed ones are replaced in place, removed ones cut out, new ones added at
 * the end of their object. Returns `text` itself when nothing differs.
 */
export function editJson(text: string, after: Record<string, unknown>): string {
  const before = JSON.parse(text) as unknown;
  if (!isObject(before)) return `${formatJson(after, '')}\n`;
  if (JSON.stringify(before) === JSON.stringify(after)) return text;
  const sc = new Scanner(text);
  sc.ws();
  const root = sc.object();
  const edits: Edit[] = [];
  diff(text, root, before, after, edits);
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
