/** Defaults derived from other answers: folder → name → slug → vendor. Pure string functions. */

/** "acme-wiki" → "Acme Wiki"; an empty or odd folder name gives "My Image". */
export function deriveName(folderName: string): string {
  const words = folderName.split(/[^A-Za-z0-9]+/).filter(Boolean);
  if (words.length === 0) return 'My Image';
  return words.map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
}

/** "Acme Wiki 2!" → "acme-wiki-2": lower-case, runs of other characters become one "-". */
export function deriveSlug(name: string): string {
  let s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  if (s.length < 2) s = s ? `${s}-image` : 'image';
  return s;
}

/** The company folder: the first word of the slug ("acme-wiki" → "acme"). */
export function deriveVendor(slug: string): string {
  // Sanitised so that a bad --slug is reported once, for --slug, and not again for the vendor.
  const first = slug
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .find((w) => w !== '');
  return first ?? 'vendor';
}
