/** $.cleanup: what the cleanup run last on the build droplet does before the snapshot. */
import { bool, int, obj, projectPath } from './common.js';

export interface Cleanup {
  script?: string;
  lockRootPassword?: boolean;
  /** Zero-fill free space before the snapshot: off unless asked for. */
  zeroFill?: boolean;
  /** Upper bound of the zero-fill file in MiB. */
  zeroFillMaxMiB?: number;
}

export const CLEANUP_SCHEMA = obj({
  script: projectPath("The project's own copy of the cleanup (default: the package's)."),
  lockRootPassword: bool("Lock root's password before the snapshot."),
  zeroFill: bool('Zero-fill free space before the snapshot (off unless asked for).'),
  zeroFillMaxMiB: int({
    minimum: 1,
    maximum: 1048576,
    description: 'Upper bound of the zero-fill file in MiB.',
    'x-message': 'zeroFillMaxMiB {value}',
    'x-hint': 'a whole number of MiB from 1 to 1048576',
  }),
});
