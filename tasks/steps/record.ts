/**
 * record: the build record of the image (tasks/record/): what went into it, from the droplet's own
 * package database, the project and this build's steps, written with its SBOM under images/ of the
 * project on the vendor's machine. The snapshot adds the image's id. Last: it describes the image
 * as cleanup and check left it, and only a build that passed the check gets one.
 */
import { recordBuild } from '../record/build-record.js';
import { defineStep } from './define.js';

export default defineStep({
  name: 'record',
  summary:
    'write the build record (packages, kernel, commit, variables, timings, check counts) and its SBOM to images/',
  sections: [],
  testbuild: null,
  run: async (c) => {
    await recordBuild(c);
  },
  // Not in the Packer template yet: a Packer build leaves no record (docs/records.md).
  packer: () => [],
});
