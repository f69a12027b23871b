/**
 * Customised copies of the package's cleanup and check: which release's script each copy started
 * from (recorded in .yo-rc.json), so `mpimg validate` can say when the package's own changed since.
 */
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEY, generatorConfig, readYoRc, YO_RC } from '../../core/yo-rc.js';

export const CUSTOMISED_KEY = 'customised';

export interface CustomisedCopy {
  /** generator-mpimg version the copy was made from. */
  from: string;
  /** sha256 of the package's script at that time. */
  sha256: string;
}

export function customisedCopies(dir: string): Record<string, CustomisedCopy> {
  return (generatorConfig(dir)[CUSTOMISED_KEY] as Record<string, CustomisedCopy> | undefined) ?? {};
}

export function recordCustomised(dir: string, rel: string, packageBytes: Buffer, version: string): void {
  const { rc } = readYoRc(dir);
  rc[CONFIG_KEY][CUSTOMISED_KEY] = {
    ...customisedCopies(dir),
    [rel]: { from: version, sha256: createHash('sha256').update(packageBytes).digest('hex') },
  };
  const f = join(dir, YO_RC);
  writeFileSync(`${f}.mpimg-tmp`, `${JSON.stringify(rc, null, 2)}\n`);
  renameSync(`${f}.mpimg-tmp`, f);
}
