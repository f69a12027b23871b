import type { ChildProcess } from 'node:child_process';

/** Removes terminal escape sequences and CRs so assertions see what a person reads. */
export function plain(text: string): string {
  return text
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[()][A-Za-z0-9]/g, '')
    .replace(/\x1b\][^\x07]*\x07/g, '')
    .replace(/\r/g, '');
}

/**
 * A conversation with an interactive program (ssh -tt, `script`): wait for text, type an answer.
 * All output (stdout and stderr) is kept; `expect` looks only at output after the previous match.
 */
export class Interactive {
  private out = '';
  private mark = 0;
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    const onData = (b: Buffer) => {
      this.out += b.toString('utf8');
      for (const w of this.waiters.splice(0)) w();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.stdin?.on('error', () => {
      /* closed by the program */
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code) => {
        for (const w of this.waiters.splice(0)) w();
        resolve(code);
      });
    });
  }

  /** Everything seen so far, escape sequences removed. */
  output(): string {
    return plain(this.out);
  }

  async expect(pattern: RegExp | string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = plain(this.out.slice(this.mark));
      const m = typeof pattern === 'string' ? (text.includes(pattern) ? [pattern] : null) : text.match(pattern);
      if (m) {
        // Move the mark past the match (in raw output; plain() only drops characters).
        const rawIdx = this.rawIndexAfter(typeof pattern === 'string' ? pattern : m[0]);
        this.mark = rawIdx;
        return text;
      }
      const exited = this.child.exitCode !== null || this.child.signalCode !== null;
      const left = deadline - Date.now();
      if (exited || left <= 0) {
        throw new Error(
          `${this.label}: ${exited ? 'program ended' : `no ${String(pattern)} within ${timeoutMs} ms`}; output so far:\n${plain(this.out)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private rawIndexAfter(needle: string): number {
    // Walk the raw output from the mark until plain() of the consumed part contains the needle.
    for (let i = this.mark + 1; i <= this.out.length; i++) {
      if (plain(this.out.slice(this.mark, i)).includes(needle)) return i;
    }
    return this.out.length;
  }

  send(text: string): void {
    this.child.stdin!.write(text);
  }

  /** Waits for the program to end; kills it after `timeoutMs`. */
  async close(timeoutMs = 30_000): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
