/**
 * The image project skeleton as DATA: which template becomes which file, with which mode, when.
 * Templates live in templates/project/; dotfiles are stored without their dot (npm drops
 * .gitignore from published packages) and get it back here.
 */
import type { TemplateContext } from './project.js';

export interface ProjectFile {
  /** Path under templates/project/. */
  template: string;
  /** Path in the generated project. */
  dest: (c: TemplateContext) => string;
  /** `ejs` renders the template with the TemplateContext; `copy` writes its bytes unchanged. */
  render: 'ejs' | 'copy';
  mode: 0o644 | 0o755;
  when?: (c: TemplateContext) => boolean;
  /** The boolean answer that asks for this file: given on a run, a deleted copy is written again. */
  wantedBy?: 'firstLogin';
}

const fixed = (p: string) => () => p;

export const FIRST_BOOT_EXAMPLE = 'first-boot/10-setup.sh';
export const FIRST_LOGIN_TEMPLATE = 'first-login/first-login.sh.ejs';
export const FIRST_BOOT_TEMPLATE = 'first-boot/script.sh.ejs';
export const MOTD_TEMPLATE = 'motd.txt.ejs';

export const PROJECT_FILES: ReadonlyArray<ProjectFile> = [
  { template: 'README.md.ejs', dest: fixed('README.md'), render: 'ejs', mode: 0o644 },
  { template: 'Makefile.ejs', dest: fixed('Makefile'), render: 'ejs', mode: 0o644 },
  { template: 'mpimgfile.mjs.ejs', dest: fixed('mpimgfile.mjs'), render: 'ejs', mode: 0o644 },
  { template: MOTD_TEMPLATE, dest: fixed('motd.txt'), render: 'ejs', mode: 0o644 },
  { template: 'first-boot/10-setup.sh.ejs', dest: fixed(FIRST_BOOT_EXAMPLE), render: 'ejs', mode: 0o755 },
  {
    template: FIRST_LOGIN_TEMPLATE,
    dest: fixed('first-login/first-login.sh'),
    render: 'ejs',
    mode: 0o755,
    when: (c) => c.firstLogin,
    wantedBy: 'firstLogin',
  },
  { template: 'files/README.ejs', dest: (c) => `files/etc/${c.slug}/README`, render: 'ejs', mode: 0o644 },
  { template: 'scripts/10-configure.sh.ejs', dest: fixed('scripts/10-configure.sh'), render: 'ejs', mode: 0o755 },
  { template: 'gitignore', dest: fixed('.gitignore'), render: 'copy', mode: 0o644 },
  { template: 'gitattributes', dest: fixed('.gitattributes'), render: 'copy', mode: 0o644 },
  { template: 'editorconfig', dest: fixed('.editorconfig'), render: 'copy', mode: 0o644 },
  { template: 'github/workflows/image.yml', dest: fixed('.github/workflows/image.yml'), render: 'copy', mode: 0o644 },
];

/** Written from the answers in code (JSON), not from a template. */
export const GENERATED_FILES = { manifest: 'mpimg.json', packageJson: 'package.json' } as const;
