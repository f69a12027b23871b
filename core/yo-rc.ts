/**
 * .yo-rc.json, Yeoman's file of answers shared with `yo mpimg`, read in one place:
 * { "generator-mpimg": { ...answers, generated: {path: sha256}, customised: {...} } }.
 * A missing or unreadable file holds nothing: the generator writes it anew on its next run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const YO_RC = '.yo-rc.json';
/** This package's section of the file (Yeoman keys it by the generator's package name). */
export const CONFIG_KEY = 'generator-mpimg';

export interface YoRc {
  /** The file's text as read (undefined when there is none), so a writer can tell whether it changed. */
  text: string | undefined;
  /** The whole file as an object, with this package's section always an object. */
  rc: Record<string, unknown> & { [CONFIG_KEY]: Record<string, unknown> };
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** <dir>/.yo-rc.json: its text and content ({} for a missing, unparsable or non-object file). */
export function readYoRc(dir: string): YoRc {
  const file = join(dir, YO_RC);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  let parsed: unknown = {};
  try {
    parsed = text === undefined ? {} : JSON.parse(text);
  } catch {
    parsed = {};
  }
  const rc = isObject(parsed) ? parsed : {};
  if (!isObject(rc[CONFIG_KEY])) rc[CONFIG_KEY] = {};
  return { text, rc: rc as YoRc['rc'] };
}

/** This package's section of <dir>/.yo-rc.json: the answers and the records beside them ({} when none). */
export function generatorConfig(dir: string): Record<string, unknown> {
  return readYoRc(dir).rc[CONFIG_KEY];
}
