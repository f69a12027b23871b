/**
 * The remote process group of a command: the first line of its script reports the group on stderr
 * (a side channel the Connection reads and removes), so a timeout or an abort can stop the whole group
 * on the host. Ending the local ssh alone would leave the command running there.
 */
import { shellQuote } from './quote.js';

/** How long a stopped command's process group gets between TERM and KILL (25 x 0.2 s). */
const KILL_GRACE_STEPS = 25;

/**
 * sh that stops process group `pgid`: TERM, then KILL when members still run after the grace.
 * Exit 0 when the group is gone. Exported for the shellcheck test.
 */
export function killGroupScript(pgid: number): string {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new TypeError(`bad process group ${pgid}`);
  return [
    `pg=${pgid}`,
    // A member still running (not a zombie: an orphan waits for init to reap it, and is dead already).
    'alive() {',
    '  for f in /proc/[0-9]*/stat; do',
    '    { read -r l < "$f"; } 2>/dev/null || continue',
    // The name (field 2) may hold spaces: read on after its closing parenthesis.
    '    r=${l##*) }',
    '    set -f',
    '    # shellcheck disable=SC2086',
    '    set -- $r',
    '    set +f',
    '    [ "${3:-}" = "$pg" ] && [ "$1" != Z ] && return 0',
    '  done',
    '  return 1',
    '}',
    'kill -0 -"$pg" 2>/dev/null || exit 0',
    'kill -TERM -"$pg" 2>/dev/null || exit 1',
    'i=0',
    `while [ "$i" -lt ${KILL_GRACE_STEPS} ]; do`,
    '  alive || exit 0',
    '  sleep 0.2 2>/dev/null || sleep 1',
    '  i=$((i + 1))',
    'done',
    'kill -KILL -"$pg" 2>/dev/null || ! alive',
  ].join('\n');
}

/** killGroupScript as root: through `sudo -n` when the user is not root and may use it. */
export function killGroupCommand(pgid: number): string {
  const q = shellQuote(killGroupScript(pgid));
  return `if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then exec sudo -n /bin/sh -c ${q}; else exec /bin/sh -c ${q}; fi`;
}

/**
 * First line of a command's script: reports the shell's process group on stderr with a nonce.
 * Builtins only; skipped where there is no /proc.
 */
export function pgidLine(marker: string): string {
  return `if [ -r /proc/$$/stat ]; then read -r _ _ _ _ mpimg_pgid _ < /proc/$$/stat && printf 'mpimg-pgid:${marker}:%s\\n' "$mpimg_pgid" >&2; unset mpimg_pgid; fi`;
}

/**
 * Takes the pgidLine report out of a command's stderr. Text is held back line by line until the
 * marker line is seen (it comes before any output of the command; what precedes it is ssh's or the
 * login shell's), then passed through unchanged. Without a marker everything passes at once.
 */
export class PgidFilter {
  /** The remote process group, once reported. */
  pgid?: number;
  private held: string | undefined;
  private readonly re?: RegExp;

  constructor(
    marker: string | undefined,
    private readonly emit: (text: string) => void,
  ) {
    if (marker !== undefined) {
      this.re = new RegExp(`^mpimg-pgid:${marker}:(\\d+)\r?$`);
      this.held = '';
    }
  }

  write(text: string): void {
    if (this.held === undefined) return this.pass(text);
    let buf = this.held + text;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const m = this.re!.exec(buf.slice(0, nl));
      if (m) {
        this.pgid = Number(m[1]);
        this.held = undefined;
        return this.pass(buf.slice(nl + 1));
      }
      this.pass(buf.slice(0, nl + 1));
      buf = buf.slice(nl + 1);
    }
    this.held = buf;
  }

  /** Passes on what is still held (the stream ended). */
  end(text: string): void {
    const rest = (this.held ?? '') + text;
    this.held = undefined;
    this.pass(rest);
  }

  private pass(text: string): void {
    if (text !== '') this.emit(text);
  }
}
