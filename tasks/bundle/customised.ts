/**
 * Customised copies of the package's cleanup and check: which release's script each copy started
 * from (recorded in .yo-rc.json), so `mpimg validate` can say when the package's own changed since.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CUSTOMISED_KEY = 'customised';
const YO = 'generator-mpimg';

export interface CustomisedCopy {
  /** generator-mpimg version the copy was made from. */
  from: string;
  /** sha256 of the package's script at that time. */
  sha256: string;
}

function readYoRc(dir: string): Record<string, Record<string, unknown>> {
  const f = join(dir, '.yo-rc.json');
  if (!existsSync(f)) return {};
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as Record<string, Record<string, unknown>>;
  } catch {
    return {};
  }
}

export function customisedCopies(dir: string): Record<string, CustomisedCopy> {
  return ((readYoRc(dir)[YO] ?? {})[CUSTOMISED_KEY] as Record<string, CustomisedCopy> | undefined) ?? {};
}

export function recordCustomised(dir: string, rel: string, packageBytes: Buffer, version: string): void {
  const rc = readYoRc(dir);
  const mine = rc[YO] ?? {};
  mine[CUSTOMISED_KEY] = {
    ...customisedCopies(dir),
    [rel]: { from: version, sha256: createHash('sha256').update(packageBytes).digest('hex') },
  };
  rc[YO] = mine;
  const f = join(dir, '.yo-rc.json');
  writeFileSync(`${f}.mpimg-tmp`, `${JSON.stringify(rc, null, 2)}\n`);
  renameSync(`${f}.mpimg-tmp`, f);
}
