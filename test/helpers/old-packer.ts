/**
 * This machine's packer is Debian's 1.6.6, older than the 1.7.0 the generated template states (and in
 * the unit lane `packer` is a stub that names no version), so `mpimg validate` warns about it
 * (test/bundle/packer-version.test.ts checks those warnings). Tests of other warnings take that one
 * line out; it is the only one removed.
 */
export const OLD_PACKER_WARNING = /^warning: (the packer on PATH is |`packer version` did not say )[^\n]*\n/m;

/** stderr of `mpimg validate` without the packer-version warning; how many such lines there were. */
export function withoutOldPacker(stderr: string): { text: string; count: number } {
  let count = 0;
  const text = stderr.replace(new RegExp(OLD_PACKER_WARNING.source, 'gm'), () => {
    count++;
    return '';
  });
  return { text, count };
}
