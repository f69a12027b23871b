/** `yo mpimg:motd [--motd <greeting>]`: writes motd.txt and turns the MOTD on in mpimg.json (lib/pieces.ts). */
import { addMotd, type PieceResult } from '../../core/pieces.js';
import { specFor } from '../../core/options.js';
import type { Prompter } from '../../core/questions.js';
import { SubGenerator } from '../lib/sub.js';

export default class MotdGenerator extends SubGenerator {
  result?: PieceResult;

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options);
    const s = specFor('motd');
    this.option(s.option, { type: String, description: s.description });
  }

  async prompting(): Promise<void> {
    const prompt: Prompter = async (questions) => (await this.prompt(questions as never)) as Record<string, unknown>;
    this.result = await addMotd(
      this.destinationRoot(),
      this.opts.motd as string | undefined,
      this.pieceOptions(),
      prompt,
    );
  }
}
