import type { Writable } from 'node:stream';

export interface Progress {
  phase(text: string): void;
  /** Ends the current phase line (TTY) and stops the ticker, e.g. while another program writes output. */
  suspend(): void;
  /** Ends the current phase line (TTY) and stops the ticker. */
  done(text?: string): void;
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * On a terminal: one line per phase that keeps its elapsed time ticking ("[01:23] snapshotting ...").
 * Otherwise (CI, pipes): one plain line per phase, with the elapsed time since the start.
 */
export function createProgress(
  out: Writable,
  opts: { isTTY: boolean; now?: () => number; prefix?: string; tickMs?: number },
): Progress {
  const now = opts.now ?? Date.now;
  const prefix = opts.prefix ?? 'mpimg';
  const start = now();
  let current: string | undefined;
  let phaseStart = start;
  let timer: NodeJS.Timeout | undefined;

  const render = () => {
    if (current === undefined) return;
    out.write(`\r\x1b[2K[${formatElapsed(now() - start)}] ${current} (${formatElapsed(now() - phaseStart)})`);
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };

  return {
    phase(text) {
      if (!opts.isTTY) {
        out.write(`${prefix}: [${formatElapsed(now() - start)}] ${text}\n`);
        return;
      }
      if (current !== undefined) {
        render();
        out.write('\n');
      }
      current = text;
      phaseStart = now();
      render();
      if (!timer) {
        timer = setInterval(render, opts.tickMs ?? 1000);
        timer.unref();
      }
    },
    suspend() {
      stop();
      if (opts.isTTY && current !== undefined) {
        render();
        out.write('\n');
      }
      current = undefined;
    },
    done(text) {
      stop();
      if (opts.isTTY && current !== undefined) {
        render();
        out.write('\n');
      }
      current = undefined;
      if (text)
        out.write(
          opts.isTTY
            ? `[${formatElapsed(now() - start)}] ${text}\n`
            : `${prefix}: [${formatElapsed(now() - start)}] ${text}\n`,
        );
    },
  };
}
