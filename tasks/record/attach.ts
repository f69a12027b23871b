/**
 * The snapshot's part of a build record (`mpimg snapshot`, `mpimg image`): the image's id and name
 * into the record of the build that ran on that droplet. The snapshot exists by then, so a record
 * that cannot be found or written is a note on stderr, never a failure.
 */
import type { Writable } from 'node:stream';
import { attachSnapshot } from './store.js';
import { RECORDS_DIR } from './types.js';

export function noteSnapshotInRecord(
  project: string,
  droplet: { id: number; ip?: string | null; baseImageId?: number | null },
  image: { id: number; name: string },
  stderr: Writable,
  now: Date = new Date(),
): void {
  try {
    const found = attachSnapshot(project, droplet, image, now);
    stderr.write(
      found
        ? `build record ${RECORDS_DIR}/${found.record.id}: snapshot ${image.id} "${image.name}" added\n`
        : `note: no build record of droplet ${droplet.id} in ${RECORDS_DIR}/ (built with an older generator-mpimg or from another folder): the snapshot has none\n`,
    );
  } catch (err) {
    stderr.write(
      `warning: the snapshot ${image.id} could not be added to its build record: ${(err as Error).message}\n`,
    );
  }
}
