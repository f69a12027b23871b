import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nextFirstBootNumber } from '../../generators/first-boot/index.js';
import { removeDir, runIn, tempDir, tree } from './support.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) removeDir(dirs.pop()!);
});
function fresh(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
async function project(extra: Record<string, unknown> = {}): Promise<string> {
  const dir = fresh();
  await runIn('app', dir).withOptions({ yes: true, name: 'Acme Wiki', vendor: 'acme', ...extra });
  return dir;
}
const read = (dir: string, rel: string) => readFileSync(join(dir, rel), 'utf8');
const manifest = (dir: string) => JSON.parse(read(dir, 'mpimg.json')) as Record<string, any>;
const failure = (p: PromiseLike<unknown>) =>
  p.then(
    () => undefined,
    (e: Error & { hint?: string }) => e,
  );

describe('yo mpimg:first-boot <name>', () => {
  it('adds NN-name.sh with the next free number, mode 0755, touching nothing else', async () => {
    const dir = await project();
    const before = tree(dir).filter((l) => !l.endsWith('.yo-rc.json'));
    await runIn('first-boot', dir).withArguments(['database']);
    expect(statSync(join(dir, 'first-boot/20-database.sh')).mode & 0o777).toBe(0o755);
    const script = read(dir, 'first-boot/20-database.sh');
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain('. /opt/acme/acme-wiki/lib.sh');
    const lint = spawnSync('shellcheck', ['-s', 'sh', 'first-boot/20-database.sh'], { cwd: dir, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
    await runIn('first-boot', dir).withArguments(['cache']);
    expect(existsSync(join(dir, 'first-boot/30-cache.sh'))).toBe(true);
    const after = tree(dir).filter((l) => !l.endsWith('.yo-rc.json'));
    expect(after.filter((l) => !before.includes(l))).toEqual([
      '0755 first-boot/20-database.sh',
      '0755 first-boot/30-cache.sh',
    ]);
  });

  it("appends to an explicit firstBoot list in mpimg.json, keeping the vendor's other keys", async () => {
    const dir = await project();
    const m = manifest(dir);
    m.firstBoot = [{ order: 10, name: 'setup', file: 'first-boot/10-setup.sh' }];
    m.cleanup.zeroFill = true;
    writeFileSync(join(dir, 'mpimg.json'), `${JSON.stringify(m, null, 2)}\n`);
    await runIn('first-boot', dir).withArguments(['mail']);
    expect(manifest(dir).firstBoot).toEqual([
      { order: 10, name: 'setup', file: 'first-boot/10-setup.sh' },
      { order: 20, name: 'mail', file: 'first-boot/20-mail.sh' },
    ]);
    expect(manifest(dir).cleanup.zeroFill).toBe(true);
  });

  it('refuses a bad or duplicate name with the fix', async () => {
    const dir = await project();
    const bad = await failure(runIn('first-boot', dir).withArguments(['Bad Name']));
    expect(bad?.message).toBe('bad first-boot script name "Bad Name"');
    expect(bad?.hint).toMatch(/lower-case letters/);
    const dup = await failure(runIn('first-boot', dir).withArguments(['setup']));
    expect(dup?.message).toMatch(/named "setup" exists already/);
  });

  it('honours a number given as NN-name, and refuses a taken one or a taken name clearly', async () => {
    const dir = await project();
    await runIn('first-boot', dir).withArguments(['15-cache']);
    expect(statSync(join(dir, 'first-boot/15-cache.sh')).mode & 0o777).toBe(0o755);
    expect(existsSync(join(dir, 'first-boot/20-15-cache.sh'))).toBe(false);
    const before = tree(dir);
    const dupName = await failure(runIn('first-boot', dir).withArguments(['30-setup']));
    expect(dupName?.message).toMatch(/named "setup" exists already/);
    const dupNumber = await failure(runIn('first-boot', dir).withArguments(['10-mail']));
    expect(dupNumber?.message).toBe('first-boot number 10 is taken (by "setup")');
    expect(dupNumber?.hint).toContain('`mpimg add first-boot 20-mail`');
    expect(tree(dir)).toEqual(before);
  });

  it('picks numbers: next ten, then any free one', () => {
    expect(nextFirstBootNumber([])).toBe(10);
    expect(nextFirstBootNumber([10])).toBe(20);
    expect(nextFirstBootNumber([10, 15])).toBe(20);
    expect(nextFirstBootNumber([95])).toBe(96);
    expect(nextFirstBootNumber([99, 1])).toBe(2);
    expect(nextFirstBootNumber(Array.from({ length: 100 }, (_, i) => i))).toBeUndefined();
  });
});

describe('yo mpimg:first-login', () => {
  it('adds first-login/first-login.sh (0755) and turns it on in mpimg.json and .yo-rc.json', async () => {
    const dir = await project();
    expect(manifest(dir).firstLogin).toBeNull();
    await runIn('first-login', dir);
    expect(statSync(join(dir, 'first-login/first-login.sh')).mode & 0o777).toBe(0o755);
    expect(manifest(dir).firstLogin).toEqual({ file: 'first-login/first-login.sh' });
    expect(JSON.parse(read(dir, '.yo-rc.json'))['generator-mpimg'].firstLogin).toBe(true);
  });

  it('keeps an edited first-login script and reports the conflict', async () => {
    const dir = await project({ 'first-login': true });
    writeFileSync(join(dir, 'first-login/first-login.sh'), '#!/bin/sh\necho mine\n');
    const r = await runIn('first-login', dir);
    expect(read(dir, 'first-login/first-login.sh')).toBe('#!/bin/sh\necho mine\n');
    expect((r.generator as any).writer.conflicts).toEqual(['first-login/first-login.sh']);
  });
});

describe('yo mpimg:motd', () => {
  it('writes motd.txt from --motd and keeps the manifest entry', async () => {
    const dir = await project();
    writeFileSync(join(dir, 'motd.txt'), 'vendor text\n');
    const kept = await runIn('motd', dir).withOptions({ motd: 'Hi from {{name}}' });
    expect(read(dir, 'motd.txt')).toBe('vendor text\n');
    expect((kept.generator as any).writer.conflicts).toEqual(['motd.txt']);
    await runIn('motd', dir).withOptions({ motd: 'Hi from {{name}}', force: true });
    expect(read(dir, 'motd.txt').split('\n')[0]).toBe('Hi from {{name}}');
    expect(read(dir, 'motd.txt')).toContain('rm /etc/update-motd.d/99-acme-wiki');
    expect(manifest(dir).motd).toEqual({ file: 'motd.txt' });
  });

  it('asks for the greeting when --motd is not given', async () => {
    const dir = await project();
    removeDir(join(dir, 'motd.txt'));
    const r = await runIn('motd', dir).withAnswers({ motd: 'Asked {{ip}}' });
    expect(r.askedQuestions.map((q) => q.name)).toEqual(['motd']);
    expect(read(dir, 'motd.txt').split('\n')[0]).toBe('Asked {{ip}}');
  });
});

describe('sub-generators outside an image project', () => {
  for (const [which, args] of [
    ['first-boot', ['db']],
    ['first-login', []],
    ['motd', []],
  ] as const) {
    it(`${which} fails with a message and writes nothing`, async () => {
      const dir = fresh();
      const err = await failure(
        runIn(which, dir)
          .withArguments([...args])
          .withOptions({ motd: 'x' }),
      );
      expect(err?.message).toBe(`${dir} is not an image project (no mpimg.json)`);
      expect(err?.hint).toContain(`yo mpimg:${which}`);
      expect(tree(dir)).toEqual([]);
    });
  }
});

describe('yo mpimg --help', () => {
  it('lists every question under its stable option name', async () => {
    const dir = fresh();
    const ctx = runIn('app', dir) as unknown as { build(): Promise<void>; generator: { help(): string } };
    await ctx.build();
    const help = ctx.generator.help();
    for (const o of [
      'name',
      'slug',
      'vendor',
      'distro',
      'packages',
      'first-login',
      'login-hold',
      'motd',
      'region',
      'size',
      'yes',
      'force',
    ]) {
      expect(help).toMatch(new RegExp(`--${o}\\b`));
    }
  });
});
