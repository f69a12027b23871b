import type { Image } from './types.js';

/** Columns of `doctl compute image list-user`, in doctl's order. */
export const LIST_USER_COLUMNS = [
  'ID',
  'Name',
  'Type',
  'Distribution',
  'Slug',
  'Public',
  'Min Disk',
  'Created',
] as const;

/** doctl prints through a tab writer with 4 spaces of padding; the last column is not padded. */
const PADDING = 4;

export function listUserCells(img: Image): string[] {
  return [
    String(img.id),
    img.name ?? '',
    img.type ?? '',
    img.distribution ?? '',
    img.slug ?? '',
    String(Boolean(img.public)),
    String(img.min_disk_size ?? 0),
    img.created_at ?? '',
  ];
}

/** Display width in code points, which is what the tab writer counts. */
function width(s: string): number {
  return [...s].length;
}

/** Aligns rows the way doctl does: each column as wide as its widest cell plus the padding. */
export function alignColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows)
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, width(c));
    });
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] + PADDING - width(c)))).join(''))
    .join('\n');
}

/** Header and one line per image, exactly like `doctl compute image list-user` (no trailing newline). */
export function formatListUser(images: Image[], opts: { noHeader?: boolean } = {}): string {
  const rows = images.map(listUserCells);
  return alignColumns(opts.noHeader ? rows : [[...LIST_USER_COLUMNS], ...rows]);
}
