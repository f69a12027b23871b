/**
 * The plan: a pure, ordered list of file operations computed at bundle time from the manifest.
 * Executed by the node runtime (runtime/executor.ts) or rendered as a POSIX-sh installer
 * (tasks/bundle/sh-installer.ts); both must leave byte-identical trees.
 */

export interface DirOp {
  kind: 'dir';
  path: string;
  mode: number;
}

export interface FileOp {
  kind: 'file';
  path: string;
  mode: number;
  /** base64 of the exact bytes. */
  content: string;
  sha256: string;
}

export interface BlockOp {
  kind: 'block';
  /** The shared file that receives the block, e.g. /root/.bashrc. */
  path: string;
  /** Marker id, "<slug> <what>": lines `# >>> mpimg:<id> >>>` ... `# <<< mpimg:<id> <<<`. */
  id: string;
  /** The whole block including both marker lines, ending with "\n". */
  text: string;
  /** start: prepended (removal is then byte-exact whatever the file ends with); end: appended. */
  position: 'start' | 'end';
  /** Mode when the file has to be created. */
  createMode: number;
}

export type Op = DirOp | FileOp | BlockOp;

export interface Plan {
  name: string;
  slug: string;
  vendor: string;
  version: string;
  /** /opt/<vendor>/<slug> */
  home: string;
  ops: Op[];
}

export const startMarker = (id: string): string => `# >>> mpimg:${id} >>>`;
export const endMarker = (id: string): string => `# <<< mpimg:${id} <<<`;

/**
 * Where the executors record what they created that the plan does not own outright: directories, and
 * shared files made just to hold a block (one path per line, in creation order), for an exact uninstall.
 */
export const createdDirsFile = (plan: Plan): string => `${plan.home}/.created`;

/**
 * Finds the block's line range in `text` (latin1 string, so bytes map 1:1 to chars).
 * Returns [startOffset, endOffset) covering the marker lines and their newlines, or null.
 */
export function findBlock(text: string, id: string): [number, number] | null {
  const lines = text.split('\n');
  let offset = 0;
  let start = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const hasNl = i < lines.length - 1;
    if (start < 0 && line === startMarker(id)) start = offset;
    else if (start >= 0 && line === endMarker(id)) return [start, offset + line.length + (hasNl ? 1 : 0)];
    offset += line.length + (hasNl ? 1 : 0);
  }
  return null;
}

export function removeBlock(text: string, id: string): string {
  const range = findBlock(text, id);
  return range ? text.slice(0, range[0]) + text.slice(range[1]) : text;
}

/** Puts the block in place: replaced where it is, else prepended or appended. */
export function ensureBlock(text: string, op: Pick<BlockOp, 'id' | 'text' | 'position'>): string {
  const range = findBlock(text, op.id);
  if (range) return text.slice(0, range[0]) + op.text + text.slice(range[1]);
  if (op.position === 'start') return op.text + text;
  const sep = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
  return text + sep + op.text;
}

export function describeOp(op: Op): string {
  const mode = (m: number) => m.toString(8).padStart(4, '0');
  switch (op.kind) {
    case 'dir':
      return `dir   ${mode(op.mode)} ${op.path}`;
    case 'file':
      return `file  ${mode(op.mode)} ${op.path} (${Buffer.from(op.content, 'base64').length} bytes)`;
    case 'block':
      return `block      ${op.path} [mpimg:${op.id}] (${op.position})`;
  }
}
