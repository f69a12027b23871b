import * as fs from 'node:fs';
import * as path from 'node:path';
import ejs from 'ejs';
import { templatesDir } from '../../core/paths.js';

/** POSIX single-quoted shell word. */
export const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Renders templates/droplet/<name> with the shell quoting helper available as `sq`. Everything these
 * templates write is read by a shell, sshd, systemd or cloud-init, never by a browser: EJS's
 * HTML-escaping `<%=` would turn "Ben & Jerry's" into "Ben &amp; Jerry&#39;s", so it is refused.
 */
export function renderDroplet(name: string, data: Record<string, unknown>): string {
  const file = path.join(templatesDir(), 'droplet', name);
  const src = fs.readFileSync(file, 'utf8');
  if (src.includes('<%='))
    throw new Error(`templates/droplet/${name} uses <%= (HTML-escaping); use <%- with sq() for shell words`);
  return ejs.render(src, { sq, ...data }, { filename: file });
}

export function readDroplet(name: string): string {
  return fs.readFileSync(path.join(templatesDir(), 'droplet', name), 'utf8');
}
