import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { doctlConfigPath, parseDoctlAccessToken, resolveToken } from '../../tasks/do/token.js';
import { MpimgError } from '../../tasks/errors.js';
import { TOKEN, tempDir } from './support.js';

const dirs: Array<() => void> = [];
afterEach(() => { while (dirs.length) dirs.pop()!(); });
function home(): string {
  const t = tempDir('mpimg-home-');
  dirs.push(t.cleanup);
  return t.dir;
}
function writeConfig(file: string, text: string): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
}

describe('token resolution', () => {
  it('prefers DIGITALOCEAN_ACCESS_TOKEN (doctl) over DIGITALOCEAN_TOKEN (Packer) over the doctl config', () => {
    const h = home();
    writeConfig(join(h, '.config', 'doctl', 'config.yaml'), 'access-token: from-file\n');
    expect(resolveToken({ HOME: h, DIGITALOCEAN_ACCESS_TOKEN: 'a', DIGITALOCEAN_TOKEN: 'b' })).toEqual({ token: 'a', source: 'DIGITALOCEAN_ACCESS_TOKEN' });
    expect(resolveToken({ HOME: h, DIGITALOCEAN_TOKEN: 'b' })).toEqual({ token: 'b', source: 'DIGITALOCEAN_TOKEN' });
    expect(resolveToken({ HOME: h, DIGITALOCEAN_ACCESS_TOKEN: '  ', DIGITALOCEAN_TOKEN: '' }).token).toBe('from-file');
  });

  it('finds doctl config under $XDG_CONFIG_HOME first, else ~/.config', () => {
    const h = home();
    const xdg = join(h, 'xdg');
    expect(doctlConfigPath({ HOME: h })).toBe(join(h, '.config', 'doctl', 'config.yaml'));
    expect(doctlConfigPath({ HOME: h, XDG_CONFIG_HOME: xdg })).toBe(join(xdg, 'doctl', 'config.yaml'));
    writeConfig(join(xdg, 'doctl', 'config.yaml'), `context: default\naccess-token: ${TOKEN}\nauth-contexts:\n  other: x\n`);
    writeConfig(join(h, '.config', 'doctl', 'config.yaml'), 'access-token: home-token\n');
    expect(resolveToken({ HOME: h, XDG_CONFIG_HOME: xdg })).toEqual({ token: TOKEN, source: 'doctl config', file: join(xdg, 'doctl', 'config.yaml') });
    expect(resolveToken({ HOME: h }).token).toBe('home-token');
  });

  it('reads quoted values and ignores nested access-token keys', () => {
    expect(parseDoctlAccessToken('access-token: "abc"\n')).toBe('abc');
    expect(parseDoctlAccessToken("access-token: 'abc'\n")).toBe('abc');
    expect(parseDoctlAccessToken('access-token: abc # comment\n')).toBe('abc');
    expect(parseDoctlAccessToken('auth-contexts:\n  access-token: nested\n')).toBeUndefined();
    expect(parseDoctlAccessToken('access-token: ""\n')).toBeUndefined();
  });

  it('follows doctl contexts (context: key or DIGITALOCEAN_CONTEXT) into auth-contexts', () => {
    const h = home();
    const file = join(h, '.config', 'doctl', 'config.yaml');
    writeConfig(file, 'access-token: default-token\nauth-contexts:\n  work: work-token\n  "side": \'side-token\'\ncontext: work\n');
    expect(resolveToken({ HOME: h }).token).toBe('work-token');
    expect(resolveToken({ HOME: h, DIGITALOCEAN_CONTEXT: 'side' }).token).toBe('side-token');
    expect(resolveToken({ HOME: h, DIGITALOCEAN_CONTEXT: 'default' }).token).toBe('default-token');
    expect(() => resolveToken({ HOME: h, DIGITALOCEAN_CONTEXT: 'gone' })).toThrow(/current context has no access token/);
  });

  it('uses ~/Library/Application Support on macOS, like doctl', () => {
    expect(doctlConfigPath({ HOME: '/Users/v', XDG_CONFIG_HOME: '/x' }, 'darwin')).toBe('/Users/v/Library/Application Support/doctl/config.yaml');
  });

  it('fails clearly naming all three sources when nothing is set', () => {
    const h = home();
    let err: unknown;
    try { resolveToken({ HOME: h }, 'linux'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(MpimgError);
    const text = (err as MpimgError).format();
    expect(text).toContain('DIGITALOCEAN_ACCESS_TOKEN');
    expect(text).toContain('DIGITALOCEAN_TOKEN');
    expect(text).toContain(join(h, '.config', 'doctl', 'config.yaml'));
    expect(text).toContain('doctl auth init');
  });
});
