/**
 * Shared by the Yeoman sub-generators (`yo mpimg:first-boot` ...): options, and the one line that
 * says what happened. The work itself is lib/pieces.ts's, which `mpimg add` runs without Yeoman.
 */
import Generator from 'yeoman-generator';
import type { PieceOptions, PieceResult } from '../../core/pieces.js';
import { projectTemplates } from '../../core/paths.js';

export abstract class SubGenerator extends Generator {
  abstract result?: PieceResult;

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options as never);
    this.option('force', {
      type: Boolean,
      alias: 'f',
      description: 'replace a file you edited (default: keep it and report)',
    });
    this.option('yes', { type: Boolean, alias: 'y', description: 'ask nothing: take the current or default values' });
    this.option('non-interactive', { type: Boolean, hide: true, description: 'fail instead of asking' });
    this.sourceRoot(projectTemplates());
  }

  protected get opts(): Record<string, unknown> {
    return this.options as Record<string, unknown>;
  }

  protected pieceOptions(): PieceOptions {
    const o = this.opts;
    return {
      force: Boolean(o.force),
      yes: Boolean(o.yes),
      nonInteractive: Boolean(o.nonInteractive || o['non-interactive']),
    };
  }

  /** The vendor's conflicting copy, when this run kept one (for tests and launchers). */
  get writer(): { conflicts: string[] } {
    return { conflicts: this.result?.status === 'conflict' ? [this.result.file] : [] };
  }

  end(): void {
    if (!this.result) return;
    this.log(this.result.message);
  }
}
