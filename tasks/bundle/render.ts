import * as fs from 'node:fs';
import * as path from 'node:path';
import ejs from 'ejs';
import { templatesDir } from '../../core/paths.js';
import { sq } from './shell-word.js';

export { sq };

/**
 * Renders templates/droplet/<name> with the shell quoting helper available as `sq`. Everything these
 * templates write is read by a shell, sshd, systemd or cloud-init, never by a browser: EJS's
 * HTML-escaping `<%=` would turn "Ben & Jerry's" into "Ben &amp; Jerry&#39;s", so it is refused.
 */
export function renderDroplet(name: string, data: Record<string, unknown>): string {
  const file = path.join(templatesDir(), 'droplet', name);
  return renderText(`templates/droplet/${name}`, fs.readFileSync(file, 'utf8'), data, file);
}

/** An EJS text for the droplet (e.g. a build step's fragment of build.sh), under the same rule. */
export function renderFragment(name: string, src: string, data: Record<string, unknown>): string {
  return renderText(name, src, data);
}

function renderText(name: string, src: string, data: Record<string, unknown>, filename?: string): string {
  if (src.includes('<%=')) throw new Error(`${name} uses <%= (HTML-escaping); use <%- with sq() for shell words`);
  return ejs.render(src, { sq, ...data }, filename ? { filename } : {});
}

export function readDroplet(name: string): string {
  return fs.readFileSync(path.join(templatesDir(), 'droplet', name), 'utf8');
}
