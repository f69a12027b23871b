/**
 * The facts file of the Packer template's record step, read on the vendor's machine: every section
 * byte for byte (hostile text stays data), a damaged file refused with where and how to fix, and the
 * manifest's snapshot taken only for its own run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MpimgError } from '../../core/errors.js';
import { attachPackerSnapshot, parseFacts } from '../../tasks/record/packer-facts.js';
import { SECTIONS } from '../../tasks/record/packer-scripts.js';
import { tempDir } from '../helpers/temp.js';

const facts = (values: Partial<Record<string, string>>): Buffer =>
  Buffer.concat(
    SECTIONS.map((n) => {
      const body = Buffer.from(values[n] ?? '', 'utf8');
      return Buffer.concat([Buffer.from(`mpimg-record ${n} ${body.length}\n`), body]);
    }),
  );

describe('the facts file of a Packer build', () => {
  it('gives every section back byte for byte, also text that looks like a section header', () => {
    const hostile = `PRETTY_NAME="$(id) \`x\` ü\u2028"\nmpimg-record kernel 3\nabc\n`;
    const f = parseFacts(facts({ 'os-release': hostile, kernel: '6.1.0\n', 'check.out': 'Summary: 1 passed' }));
    expect(f['os-release']).toBe(hostile);
    expect(f.kernel).toBe('6.1.0\n');
    expect(f['check.out']).toBe('Summary: 1 passed');
    expect(f.packages).toBe('');
  });

  it('refuses a cut or padded file, naming it', () => {
    const good = facts({ packages: 'database\tdpkg\n' });
    for (const bad of [good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from('x')]), Buffer.from('')]) {
      expect(() => parseFacts(bad, 'dist/x-record-facts')).toThrow(MpimgError);
      expect(() => parseFacts(bad, 'dist/x-record-facts')).toThrow(/dist\/x-record-facts is not a facts file/);
    }
  });

  it('refuses a manifest without a snapshot of this run; a run without a record is no error', () => {
    const project = tempDir('mpimg-packer-facts-');
    mkdirSync(join(project, 'images'));
    const file = join(project, 'manifest.json');
    const write = (builds: unknown[]) => writeFileSync(file, JSON.stringify({ builds, last_run_uuid: 'a-other-1' }));
    write([{ packer_run_uuid: 'a-other-1', artifact_id: 'nyc3:5' }]);
    expect(() => attachPackerSnapshot(project, file, 'b-mine-1234')).toThrow(
      /no DigitalOcean snapshot of Packer run b-mine-1234/,
    );
    write([{ packer_run_uuid: 'b-mine-1234', artifact_id: 'Null' }]);
    expect(() => attachPackerSnapshot(project, file, 'b-mine-1234')).toThrow(MpimgError);
    write([{ packer_run_uuid: 'b-mine-1234', artifact_id: 'nyc3:42', custom_data: { snapshot_name: 'x' } }]);
    expect(attachPackerSnapshot(project, file, 'b-mine-1234')).toBeNull();
    writeFileSync(file, '{not json');
    expect(() => attachPackerSnapshot(project, file, 'b-mine-1234')).toThrow(/cannot read Packer's manifest/);
  });
});
