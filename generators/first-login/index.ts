/** `yo mpimg:first-login`: adds first-login/first-login.sh (0755) and turns it on in mpimg.json (lib/pieces.ts). */
import { addFirstLogin, type PieceResult } from '../../core/pieces.js';
import { SubGenerator } from '../lib/sub.js';

export default class FirstLoginGenerator extends SubGenerator {
  result?: PieceResult;

  writing(): void {
    this.result = addFirstLogin(this.destinationRoot(), this.pieceOptions());
  }
}
