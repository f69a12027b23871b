/** `yo mpimg:motd [--motd <greeting>]`: writes motd.txt and turns the MOTD on in mpimg.json. */
import { DEFAULTS } from '../../runtime/manifest.js';
import { MpimgError } from '../../tasks/errors.js';
import { validateOne } from '../lib/answers.js';
import { MOTD_TEMPLATE } from '../lib/files.js';
import { specFor } from '../lib/options.js';
import { SubGenerator } from '../lib/sub.js';
import { renderTemplate } from '../lib/write.js';

export default class MotdGenerator extends SubGenerator {
  protected readonly subName = 'motd';
  greeting?: string;

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options);
    const s = specFor('motd');
    this.option(s.option, { type: String, description: s.description });
  }

  initializing(): void {
    this.loadProject();
  }

  async prompting(): Promise<void> {
    const s = specFor('motd');
    let greeting = this.opts.motd as string | undefined;
    if (greeting === undefined) {
      const stored = this.config.get('motd') as string | undefined;
      const answers = (await this.prompt([{ type: 'input', name: 'motd', message: s.message, default: stored ?? s.default({ answers: {}, folderName: '' }), validate: (v: string) => validateOne('motd', v) }] as never)) as { motd: string };
      greeting = answers.motd;
    }
    const ok = validateOne('motd', greeting);
    if (ok !== true) throw new MpimgError(`bad --motd: ${ok}`, { where: '--motd', hint: 'give one non-empty line of text' });
    this.greeting = greeting.trim();
  }

  writing(): void {
    const file = this.manifest.motd?.file ?? DEFAULTS.motdFile;
    const ctx = this.context({ motd: this.greeting });
    this.writePiece(file, renderTemplate({ template: MOTD_TEMPLATE, render: 'ejs' }, ctx), 0o644);
    this.updateManifest((m) => {
      if (m.motd && typeof m.motd === 'object') return false;
      m.motd = { file };
      return true;
    });
    this.config.set('motd', this.greeting);
  }

  end(): void {
    this.reportConflicts();
    this.log('Login message ready: edit motd.txt; {{name}}, {{version}} and {{ip}} are filled in on the droplet.');
  }
}
