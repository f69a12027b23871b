/** $.check: the image check (the Marketplace's img_check) run on the build droplet after the cleanup. */
import { obj, projectPath } from './common.js';

export interface ImageCheck {
  script?: string;
}

export const CHECK_SCHEMA = obj({
  script: projectPath("The project's own copy of the image check (default: the package's)."),
});
