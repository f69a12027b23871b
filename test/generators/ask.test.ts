/**
 * `mpimg new` on a terminal asks with node:readline (no Yeoman): Enter takes the suggestion, a bad answer is asked
 * again.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { askAll } from '../../tasks/commands/ask.js';

function run(lines: string, questions: Parameters<typeof askAll>[0]) {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (d) => {
    shown += d;
  });
  input.end(lines);
  return askAll(questions, input, output).then((answers) => ({ answers, shown }));
}

describe('terminal questions', () => {
  it('takes suggestions on Enter, numbers or names for a choice, y/n for a confirm, and asks again after a bad answer', async () => {
    const { answers, shown } = await run('\nBad Slug\nacme-wiki\n2\nn\n', [
      { type: 'input', name: 'name', message: 'Display name', default: () => 'Acme Wiki' },
      {
        type: 'input',
        name: 'slug',
        message: 'Slug',
        default: (a) => String(a.name).toLowerCase(),
        validate: (v) => (/^[a-z-]+$/.test(String(v)) ? true : 'lower-case letters and "-" only'),
      },
      {
        type: 'select',
        name: 'distro',
        message: 'Base distribution',
        choices: [
          { name: 'Ubuntu', value: 'ubuntu-24-04-x64' },
          { name: 'Debian', value: 'debian-12-x64' },
        ],
        default: () => 'ubuntu-24-04-x64',
      },
      { type: 'confirm', name: 'firstLogin', message: 'First login?', default: () => true },
    ]);
    expect(answers).toEqual({ name: 'Acme Wiki', slug: 'acme-wiki', distro: 'debian-12-x64', firstLogin: false });
    expect(shown).toContain('? Display name (Acme Wiki): ');
    expect(shown).toContain('? Slug (acme wiki): ');
    expect(shown).toContain('  lower-case letters and "-" only\n');
    expect(shown).toContain('  2) Debian\n');
    expect(shown).toContain('? First login? (Y/n): ');
  });

  it('a terminal that closes before the last answer is an error, not a hang', async () => {
    await expect(
      run('Acme\n', [
        { type: 'input', name: 'a', message: 'A' },
        { type: 'input', name: 'b', message: 'B' },
      ]),
    ).rejects.toThrow('the terminal closed before every question was answered');
  });
});
