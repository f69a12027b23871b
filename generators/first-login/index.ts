/** `yo mpimg:first-login`: adds first-login/first-login.sh (0755) and turns it on in mpimg.json. */
import { DEFAULTS } from '../../runtime/manifest.js';
import { FIRST_LOGIN_TEMPLATE } from '../lib/files.js';
import { SubGenerator } from '../lib/sub.js';
import { renderTemplate } from '../lib/write.js';

export default class FirstLoginGenerator extends SubGenerator {
  protected readonly subName = 'first-login';

  initializing(): void {
    this.loadProject();
  }

  writing(): void {
    const file = this.manifest.firstLogin?.file ?? DEFAULTS.firstLoginFile;
    this.writePiece(file, renderTemplate({ template: FIRST_LOGIN_TEMPLATE, render: 'ejs' }, this.context({ firstLogin: true })), 0o755);
    this.updateManifest((m) => {
      if (m.firstLogin && typeof m.firstLogin === 'object') return false;
      m.firstLogin = { file };
      return true;
    });
    this.config.set('firstLogin', true);
  }

  end(): void {
    this.reportConflicts();
    this.log('First-login script ready: first-login/first-login.sh runs at the first interactive root login until it exits 0.');
  }
}
