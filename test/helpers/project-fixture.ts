import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Manifest } from '../../runtime/manifest.js';
import { tempDir } from './temp.js';

/** A small image project that uses every feature the plan knows (first boot, first login, MOTD, hold, files/). */
export function makeProject(opts: { manifest?: Partial<Manifest>; dir?: string; firstLogin?: boolean } = {}): string {
  const dir = opts.dir ?? tempDir('mpimg-proj-');
  const w = (rel: string, text: string, mode = 0o644) => {
    const abs = path.join(dir, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, text);
    fs.chmodSync(abs, mode);
  };
  const manifest: Manifest = {
    name: 'Acme Wiki',
    slug: 'acme-wiki',
    vendor: 'acme',
    version: '1.2.3',
    distributions: ['debian-12-x64'],
    loginHold: true,
    build: { packages: ['jq'] },
    ...opts.manifest,
  };
  w('mpimg.json', `${JSON.stringify(manifest, null, 2)}\n`);
  w(
    'first-boot/10-password.sh',
    '#!/bin/sh\nset -eu\n. /opt/acme/acme-wiki/lib.sh\nmpimg_save_credential ADMIN_PASSWORD "$(mpimg_random_password)"\necho password saved\n',
    0o755,
  );
  w('first-boot/20-ip.sh', '#!/bin/sh\nset -eu\necho configured\n', 0o755);
  if (opts.firstLogin !== false)
    w(
      'first-login/first-login.sh',
      '#!/bin/sh\nprintf "Domain: "\nread -r domain\necho "domain=$domain" > /root/domain.txt\n',
      0o755,
    );
  w('motd.txt', 'Welcome to {{name}} {{version}}!\nOpen http://{{ip}}/ in a browser.\n');
  w('files/etc/acme-wiki/wiki.conf', 'port = 8080\n');
  w('files/usr/local/bin/acme-wiki-hello', '#!/bin/sh\necho hello\n', 0o755);
  w('files/etc/acme-wiki/secret.conf', 'token = none\n', 0o600);
  w('scripts/10-install.sh', '#!/bin/sh\necho build step\n', 0o755);
  w('scripts/90-cleanup.sh', '#!/bin/bash\necho "cleanup args: $*"\n', 0o755);
  w('scripts/99-img-check.sh', '#!/bin/bash\necho "check args: $*"\nexit 0\n', 0o755);
  return dir;
}
