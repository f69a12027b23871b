import { describe, expect, it } from 'vitest';
import { DEFAULTS, DISTRIBUTIONS } from '../runtime/manifest.js';
import { answerWarnings, coerce, validateAnswers, validateOne } from './answers.js';
import { deriveName, deriveSlug, deriveVendor } from './derive.js';
import { ANSWER_SPECS, optionsHelp, specFor } from './options.js';
import { withDefaults } from './resolve.js';

describe('derived defaults', () => {
  it('folder → name → slug → vendor', () => {
    expect(deriveName('acme-wiki')).toBe('Acme Wiki');
    expect(deriveName('---')).toBe('My Image');
    expect(deriveSlug('Acme Wiki 2!')).toBe('acme-wiki-2');
    expect(deriveSlug('Café Über')).toBe('cafe-uber');
    expect(deriveSlug('42 Apps')).toBe('apps');
    expect(deriveSlug('X')).toBe('x-image');
    expect(deriveSlug('a'.repeat(60))).toHaveLength(40);
    expect(deriveVendor('acme-wiki')).toBe('acme');
    expect(deriveVendor('Bad_Slug')).toBe('bad');
  });

  it('--yes defaults are the documented ones', () => {
    expect(withDefaults({}, 'zeta-board')).toEqual({
      name: 'Zeta Board',
      slug: 'zeta-board',
      vendor: 'zeta',
      distro: DISTRIBUTIONS[0].slug,
      packages: [],
      ports: [],
      firstLogin: false,
      loginHold: false,
      motd: 'Welcome to {{name}} {{version}}!',
      region: DEFAULTS.region,
      size: DEFAULTS.size,
    });
  });

  it('every derived default passes validation', () => {
    for (const folder of ['acme-wiki', 'x', '9lives', 'Über Tool', 'a'.repeat(80)]) {
      expect(validateAnswers(withDefaults({}, folder)), folder).toEqual([]);
    }
  });
});

describe('answers', () => {
  it('coerce reads lists and booleans as CLIs and prompts give them', () => {
    expect(coerce(specFor('packages'), ' nginx, curl ,,git')).toEqual(['nginx', 'curl', 'git']);
    expect(coerce(specFor('packages'), ['a,b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(coerce(specFor('packages'), '')).toEqual([]);
    expect(coerce(specFor('firstLogin'), 'yes')).toBe(true);
    expect(coerce(specFor('firstLogin'), 'false')).toBe(false);
    expect(coerce(specFor('name'), '  Acme  ')).toBe('Acme');
  });

  it('validateOne checks a single prompt answer with the manifest rules', () => {
    expect(validateOne('slug', 'acme-wiki')).toBe(true);
    expect(validateOne('slug', 'Acme')).toMatch(/^bad slug "Acme" \(2-40 characters/);
    expect(validateOne('vendor', 'digitalocean')).toMatch(/reserved/);
    expect(validateOne('distro', 'debian-12-x64')).toBe(true);
    // another release of a known family is a warning (answerWarnings), not a refusal; a slug of no known family is
    // refused
    expect(validateOne('distro', 'debian-10-x64')).toBe(true);
    expect(answerWarnings({ ...withDefaults({}, 'acme'), distro: 'debian-10-x64' }).join('\n')).toMatch(
      /"debian-10-x64" is not one DigitalOcean offers today/,
    );
    expect(validateOne('distro', 'plan9-4-x64')).toMatch(/unknown distribution/);
    expect(validateOne('packages', 'nginx,rm -rf')).toMatch(/bad package entry "rm -rf"/);
    expect(validateOne('motd', '')).toMatch(/one non-empty line/);
  });

  it('every question is an option with a --help line', () => {
    const help = optionsHelp();
    for (const s of ANSWER_SPECS) expect(help).toContain(`--${s.option}`);
    expect(ANSWER_SPECS.map((s) => s.option)).toEqual([
      'name',
      'slug',
      'vendor',
      'distro',
      'packages',
      'ports',
      'first-login',
      'login-hold',
      'motd',
      'region',
      'size',
    ]);
  });
});
