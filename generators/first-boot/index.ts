/**
 * `yo mpimg:first-boot <name>`: adds first-boot/NN-<name>.sh with the next free number (the next
 * multiple of 10 after the highest one, else the next number), mode 0755. `NN-<name>` asks for NN.
 * The work is lib/pieces.ts's, shared with `mpimg add first-boot`.
 */
import { addFirstBoot, nextFirstBootNumber, type PieceResult } from '../../core/pieces.js';
import { SubGenerator } from '../lib/sub.js';

export { nextFirstBootNumber };

export default class FirstBootGenerator extends SubGenerator {
  result?: PieceResult;

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options);
    this.argument('name', {
      type: String,
      required: true,
      description: 'short name: lower-case letters, digits, "_" and "-" (e.g. database)',
    });
  }

  writing(): void {
    this.result = addFirstBoot(this.destinationRoot(), String(this.opts.name ?? ''), this.pieceOptions());
  }
}
