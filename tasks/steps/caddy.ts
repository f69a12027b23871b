/** caddy: mpimg's Caddyfile, the site script and its first-boot hook, validated by the real Caddy, caddy on at boot. */
import { runtimeHome } from '../../runtime/policy.js';
import { acmeDirectoryOf } from '../../runtime/sections/acme.js';
import {
  CADDY_MARK,
  CADDY_SITES_DIR,
  CADDY_SNIPPET,
  CADDYFILE,
  caddyFirstBootHook,
  caddyfile,
  caddySiteScript,
  DOMAIN_RE,
  type Caddy,
} from '../../runtime/sections/caddy.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand, fragmentFile } from './types.js';

export default defineStep({
  name: 'caddy',
  summary:
    "write Caddy's configuration of mpimg.json (validated with caddy validate), its site script, caddy on at boot",
  sections: ['$.caddy'],
  buildScript: {
    help: 'the Caddyfile of mpimg.json and the site script, validated by caddy, caddy enabled at boot',
    shell: fragmentFile('caddy'),
    data: ({ manifest: m }) => {
      const c: Caddy | undefined = m.caddy;
      return {
        name: m.name,
        home: runtimeHome(m.vendor, m.slug),
        caddyfile: CADDYFILE,
        mark: CADDY_MARK,
        sites: CADDY_SITES_DIR,
        snippet: CADDY_SNIPPET,
        script: caddySiteScript(m.vendor, m.slug),
        hook: caddyFirstBootHook(m.slug),
        directory: acmeDirectoryOf(c?.acme),
        caRoot: c?.acme?.caRoot ?? '',
        ipCertificate: c?.ipCertificate === true,
        // the pattern as grep -Ex reads it (whole line)
        domainRe: DOMAIN_RE.source.replace(/^\^/, '').replace(/\$$/, ''),
        config: c ? caddyfile(c) : '',
      };
    },
  },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.caddy) return c.log('mpimg.json has no caddy');
    await runBuildScript(c, 'caddy');
  },
  // always: the build script says when there is nothing to do
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'caddy')] }],
});
