import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DoClient } from '../../tasks/do/client.js';
import { doctlConfigPath, parseDoctlAccessToken, resolveApiUrl, resolveToken } from '../../tasks/do/token.js';
import { MpimgError } from '../../core/errors.js';
import { TOKEN, tempDir } from './support.js';

const dirs: Array<() => void> = [];
afterEach(() => {
  while (dirs.length) dirs.pop()!();
});
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
    expect(resolveToken({ HOME: h, DIGITALOCEAN_ACCESS_TOKEN: 'a', DIGITALOCEAN_TOKEN: 'b' })).toEqual({
      token: 'a',
      source: 'DIGITALOCEAN_ACCESS_TOKEN',
    });
    expect(resolveToken({ HOME: h, DIGITALOCEAN_TOKEN: 'b' })).toEqual({ token: 'b', source: 'DIGITALOCEAN_TOKEN' });
    expect(resolveToken({ HOME: h, DIGITALOCEAN_ACCESS_TOKEN: '  ', DIGITALOCEAN_TOKEN: '' }).token).toBe('from-file');
  });

  it('finds doctl config under $XDG_CONFIG_HOME first, else ~/.config', () => {
    const h = home();
    const xdg = join(h, 'xdg');
    expect(doctlConfigPath({ HOME: h })).toBe(join(h, '.config', 'doctl', 'config.yaml'));
    expect(doctlConfigPath({ HOME: h, XDG_CONFIG_HOME: xdg })).toBe(join(xdg, 'doctl', 'config.yaml'));
    writeConfig(
      join(xdg, 'doctl', 'config.yaml'),
      `context: default\naccess-token: ${TOKEN}\nauth-contexts:\n  other: x\n`,
    );
    writeConfig(join(h, '.config', 'doctl', 'config.yaml'), 'access-token: home-token\n');
    expect(resolveToken({ HOME: h, XDG_CONFIG_HOME: xdg })).toEqual({
      token: TOKEN,
      source: 'doctl config',
      file: join(xdg, 'doctl', 'config.yaml'),
    });
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
    writeConfig(
      file,
      'access-token: default-token\nauth-contexts:\n  work: work-token\n  "side": \'side-token\'\ncontext: work\n',
    );
    expect(resolveToken({ HOME: h }).token).toBe('work-token');
    expect(resolveToken({ HOME: h, DIGITALOCEAN_CONTEXT: 'side' }).token).toBe('side-token');
    expect(resolveToken({ HOME: h, DIGITALOCEAN_CONTEXT: 'default' }).token).toBe('default-token');
    expect(() => resolveToken({ HOME: h, DIGITALOCEAN_CONTEXT: 'gone' })).toThrow(
      /current context has no access token/,
    );
  });

  it("DIGITALOCEAN_CONFIG names doctl's config file (doctl --config); its api-url is the endpoint unless DIGITALOCEAN_API_URL is set", () => {
    const h = home();
    writeConfig(join(h, '.config', 'doctl', 'config.yaml'), 'access-token: home-token\n');
    const file = join(h, 'teams', 'b.yaml');
    writeConfig(file, 'access-token: team-b-token\napi-url: https://api.example.test\n');
    expect(doctlConfigPath({ HOME: h, DIGITALOCEAN_CONFIG: file })).toBe(file);
    expect(resolveToken({ HOME: h, DIGITALOCEAN_CONFIG: file })).toEqual({
      token: 'team-b-token',
      source: 'doctl config',
      file,
    });
    expect(resolveApiUrl({ HOME: h, DIGITALOCEAN_CONFIG: file }, 'https://api.digitalocean.com')).toEqual({
      url: 'https://api.example.test',
      source: `api-url in ${file}`,
    });
    expect(
      resolveApiUrl(
        { HOME: h, DIGITALOCEAN_CONFIG: file, DIGITALOCEAN_API_URL: 'https://x.test' },
        'https://api.digitalocean.com',
      ),
    ).toEqual({ url: 'https://x.test', source: 'DIGITALOCEAN_API_URL' });
    expect(resolveApiUrl({ HOME: h }, 'https://api.digitalocean.com')).toEqual({
      url: 'https://api.digitalocean.com',
      source: 'the default',
    });
    // A config file that sends the token in clear text off this machine is refused, naming the file.
    writeConfig(file, 'access-token: t\napi-url: http://api.example.test\n');
    expect(() => DoClient.fromEnv({ HOME: h, DIGITALOCEAN_CONFIG: file })).toThrow(
      /refusing to send the API token to http:\/\/api\.example\.test/,
    );
    try {
      DoClient.fromEnv({ HOME: h, DIGITALOCEAN_CONFIG: file });
    } catch (e) {
      expect((e as MpimgError).where).toBe(`api-url in ${file}`);
    }
  });

  it('uses ~/Library/Application Support on macOS, like doctl', () => {
    expect(doctlConfigPath({ HOME: '/Users/v', XDG_CONFIG_HOME: '/x' }, 'darwin')).toBe(
      '/Users/v/Library/Application Support/doctl/config.yaml',
    );
  });

  it('fails clearly naming all three sources when nothing is set', () => {
    const h = home();
    let err: unknown;
    try {
      resolveToken({ HOME: h }, 'linux');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MpimgError);
    const text = (err as MpimgError).format();
    expect(text).toContain('DIGITALOCEAN_ACCESS_TOKEN');
    expect(text).toContain('DIGITALOCEAN_TOKEN');
    expect(text).toContain(join(h, '.config', 'doctl', 'config.yaml'));
    expect(text).toContain('doctl auth init');
  });
});
