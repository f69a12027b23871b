import { describe, expect, it } from 'vitest';
import { formatListUser, LIST_USER_COLUMNS } from '../../tasks/do/format.js';
import type { Image } from '../../tasks/do/types.js';

function image(p: Partial<Image>): Image {
  return {
    id: 1,
    name: 'x',
    type: 'snapshot',
    distribution: 'Debian',
    slug: null,
    public: false,
    regions: ['nyc3'],
    created_at: '2026-01-02T03:04:05Z',
    min_disk_size: 10,
    ...p,
  };
}

describe('doctl compute image list-user layout', () => {
  it('reproduces the reference row byte for byte (4-space padding, blank Type column, unpadded last column)', () => {
    const text = formatListUser([
      image({
        id: 6376602,
        name: 'Ruby on Rails on 14.04 (Nginx + Unicorn)',
        type: '',
        distribution: 'Ubuntu',
        slug: 'ruby-on-rails',
        public: false,
        min_disk_size: 20,
        created_at: '2014-09-26T20:20:24Z',
      }),
    ]);
    const [header, row] = text.split('\n');
    expect(row).toBe(
      '6376602    Ruby on Rails on 14.04 (Nginx + Unicorn)            Ubuntu          ruby-on-rails    false     20          2014-09-26T20:20:24Z',
    );
    expect(header).toBe(
      'ID         Name                                        Type    Distribution    Slug             Public    Min Disk    Created',
    );
    expect(text.endsWith('\n')).toBe(false);
  });

  it('keeps the header columns in doctl order and aligns a snapshot row (empty slug) under them', () => {
    const text = formatListUser([image({ id: 123456789, name: 'acme-wiki-1.2.0-20260102-030405' })]);
    const [header, row] = text.split('\n');
    expect(header.split(/ {4,}/)).toEqual([...LIST_USER_COLUMNS]);
    // Distribution is 12 wide (+4), the empty Slug column is 4 wide (+4): 10 + 8 spaces after "Debian".
    expect(row).toBe(
      `123456789    acme-wiki-1.2.0-20260102-030405    snapshot    Debian${' '.repeat(18)}false     10          2026-01-02T03:04:05Z`,
    );
    // Every column starts where its header starts.
    for (const col of ['Name', 'Type', 'Distribution', 'Public', 'Min Disk', 'Created']) {
      const at = header.indexOf(col);
      expect(row[at - 1]).toBe(' ');
      expect(row[at]).not.toBe(' ');
    }
  });

  it('widens the Name column for long (and non-ASCII) names, padding counted in characters', () => {
    const long = `Acme Wiki ${'very long name '.repeat(6)}é`;
    const text = formatListUser([image({ id: 42, name: long, public: true })]);
    const [header, row] = text.split('\n');
    expect(row.startsWith(`42    ${long}    snapshot    `)).toBe(true);
    expect([...header].indexOf('T')).toBe([...row].indexOf('s', 6 + [...long].length));
    expect(row).toContain('    true      10          2026-01-02T03:04:05Z');
    expect(formatListUser([image({ id: 42 })], { noHeader: true })).toBe(
      '42    x    snapshot    Debian        false    10    2026-01-02T03:04:05Z',
    );
  });
});
