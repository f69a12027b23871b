/**
 * $.build.remove at validate time: droplet paths (the last part may be a glob) the policy of
 * runtime/policy.ts allows, each refusal at its own `$.path`, per distribution like build.packages.
 */
import { describe, expect, it } from 'vitest';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { validateManifest } from '../../runtime/manifest.js';

const BASE = MINIMAL_MANIFEST;
const problems = (remove: unknown) =>
  validateManifest({ ...BASE, build: { packages: ['nginx'], remove } }).problems.filter((p) =>
    p.path.startsWith('$.build.remove'),
  );

describe('$.build.remove', () => {
  it('takes what a package installed: files, links, folders, a glob in the last part, odd but real names', () => {
    expect(
      problems([
        '/etc/nginx/sites-enabled/default',
        '/var/www/html/index.nginx-debian.html',
        '/etc/nginx/conf.d/*.conf',
        "/var/www/html/it's $(touch x) & <b>.html",
        '/srv/sample-app',
      ]),
    ).toEqual([]);
    expect(problems({ all: ['/var/www/html'], apt: ['/etc/nginx/sites-enabled/default'] })).toEqual([]);
  });

  it('refuses system folders, the tool\'s own, where root runs code from, "..", relative paths and lines', () => {
    const cases: Array<[string, RegExp]> = [
      ['/', /^\/ is a system folder: the build never removes it$/],
      ['/etc', /^\/etc is a system folder/],
      ['/var/lib', /^\/var\/lib is a system folder/],
      ['/var/lib/mpimg/acme-wiki', /is in \/var\/lib\/mpimg, generator-mpimg's own folder/],
      ['/etc/systemd/system/nginx.service', /is in \/etc\/systemd, where root runs code from/],
      ['/opt/acme/acme-wiki/lib.sh', /is in \/opt\/acme\/acme-wiki, where root runs code from/],
      ['/opt/acme', /would remove \/opt\/acme\/acme-wiki, where root runs code from/],
      ['/etc/*', /would remove what is in \/etc, a system folder/],
      ['/opt/acme/*', /where root runs code from/],
      ['/srv/*/cache', /has a wildcard in a folder: only its last part may be a glob/],
      ['/var/www/../../etc', /^bad path to remove ".*": contains "\.\."$/],
      ['/var/www/html/', /ends with "\/"/],
      ['var/www/html', /^bad path to remove/],
      ['/usr/share/nginx/html', /is in \/usr, where root runs code from/],
      // /usr/bin/awk, editor, python3 and the like are links through it: the runtime's own awk too
      [
        '/etc/alternatives/*',
        /would remove what is in \/etc\/alternatives|is in \/etc\/alternatives, where root runs code from/,
      ],
      ['/etc/alternatives/awk', /is in \/etc\/alternatives, where root runs code from/],
      ['/var/www/a\nb', /control or line-separator character \(U\+000A\)/],
      ['/var/www/a\u2028b', /control or line-separator character \(U\+2028\)/],
    ];
    for (const [path, message] of cases) {
      const p = problems(['/var/www/html/index.nginx-debian.html', path]);
      expect(p, path).toHaveLength(1);
      expect(p[0].path, path).toBe('$.build.remove[1]');
      expect(p[0].message, path).toMatch(message);
      expect(p[0].hint, path).not.toBe('');
    }
  });

  it('names the distribution list an entry is in', () => {
    const p = problems({ all: ['/var/www/html'], 'debian-12-x64': ['/var/www/x', '/usr'] });
    expect(p.map((x) => [x.path, x.message])).toEqual([
      ['$.build.remove.debian-12-x64[1]', '/usr is a system folder: the build never removes it'],
    ]);
  });
});
