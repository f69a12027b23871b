/**
 * record: the build record of the image (tasks/record/): what went into it, from the droplet's own
 * package database, the project and this build's steps, written with its SBOM under images/ of the
 * project on the vendor's machine. The snapshot adds the image's id. Last: it describes the image
 * as cleanup and check left it, and only a build that passed the check gets one. A Packer build of
 * the bundle's template gets the same record (its part below; docs/records.md).
 */
import { recordBuild } from '../record/build-record.js';
import { FACTS_SCRIPT, RECORD_LOCAL_SCRIPT } from '../record/packer-scripts.js';
import { defineStep } from './define.js';

/** Where the droplet's facts file lands: beside the template (HCL text). */
const factsFile = (slug: string): string => `"\${path.root}/${slug}-record-facts"`;

export default defineStep({
  name: 'record',
  summary:
    'write the build record (packages, kernel, commit, variables, timings, check counts) and its SBOM to images/',
  sections: [],
  testbuild: null,
  run: async (c) => {
    await recordBuild(c);
  },
  // The Packer build's record (tasks/record/packer-facts.ts): the same facts gathered on the droplet
  // into a file of the work folder, downloaded beside the template and written into the record on
  // the vendor's machine by `mpimg record`; the template's post-processors add the snapshot.
  packer: (p) => [
    { type: 'shell', env: ['"MPIMG_ROOT=/"', '"MPIMG_WORK=${local.work}"'], inline: [p.hcl(FACTS_SCRIPT)] },
    { type: 'file', direction: 'download', source: '"${local.work}/record-facts"', destination: factsFile(p.slug) },
    {
      type: 'shell-local',
      env: ['"MPIMG_PROJECT=${local.project}"', `"MPIMG_FACTS=\${path.root}/${p.slug}-record-facts"`],
      inline: [p.hcl(`set -- --from-packer "$MPIMG_FACTS"\n${RECORD_LOCAL_SCRIPT}`)],
    },
  ],
});
