import * as fs from 'node:fs';
import * as path from 'node:path';
import ejs from 'ejs';
import { templatesDir } from '../paths.js';

/** POSIX single-quoted shell word. */
export const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Renders templates/droplet/<name> with the shell quoting helper available as `sq`. */
export function renderDroplet(name: string, data: Record<string, unknown>): string {
  const file = path.join(templatesDir(), 'droplet', name);
  return ejs.render(fs.readFileSync(file, 'utf8'), { sq, ...data }, { filename: file });
}

export function readDroplet(name: string): string {
  return fs.readFileSync(path.join(templatesDir(), 'droplet', name), 'utf8');
}
