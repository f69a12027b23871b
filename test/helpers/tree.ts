import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every entry under dir as "mode type path sha256", sorted: equal strings mean byte-identical trees. */
export function treeDigest(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, r));
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      if (st.isDirectory()) {
        out.push(`${mode} d ${r}`);
        walk(r);
      } else if (st.isSymbolicLink()) out.push(`${mode} l ${r} -> ${fs.readlinkSync(path.join(dir, r))}`);
      else
        out.push(
          `${mode} f ${r} ${createHash('sha256')
            .update(fs.readFileSync(path.join(dir, r)))
            .digest('hex')}`,
        );
    }
  };
  walk('');
  return out;
}
