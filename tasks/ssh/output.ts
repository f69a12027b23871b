import { StringDecoder } from 'node:string_decoder';
import type { Writable } from 'node:stream';
import { redact } from '../build-secrets.js';

/**
 * Splits a byte stream into lines and writes each one with a prefix, as it arrives, while keeping the
 * last lines for failure reports. A partial last line is written on flush().
 */
export class LineStream {
  private rest = '';
  // A multi-byte character split across two chunks must not turn into two replacement characters.
  private readonly decoder = new StringDecoder('utf8');
  constructor(
    private readonly sink: Writable | null,
    private readonly prefix: () => string,
    private readonly tail: TailBuffer,
  ) {}

  write(chunk: Buffer | string): void {
    const text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.emit(line);
  }

  flush(): void {
    this.rest += this.decoder.end();
    if (this.rest !== '') this.emit(this.rest);
    this.rest = '';
  }

  private emit(line: string): void {
    // A build secret's value a remote command printed is masked before it is shown or kept.
    const clean = redact(line.replace(/\r$/, ''));
    this.tail.push(clean);
    this.sink?.write(`${this.prefix()}${clean}\n`);
  }
}

/** The last `max` lines seen, in arrival order (stdout and stderr together, as a user would see them). */
export class TailBuffer {
  private lines: string[] = [];
  constructor(private readonly max = 20) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
  get(): string[] {
    return [...this.lines];
  }
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

export interface TaskTiming {
  name: string;
  ms: number;
  ok: boolean;
  /** Nesting depth: 0 for the task that was asked for, 1 for the tasks it called, ... */
  depth: number;
  /** When it started (ISO 8601, UTC): the build record says when each step ran. */
  startedAt?: string;
}

/** A small table: one row per task, indented by nesting, with its wall time and result. */
export function formatTimings(timings: TaskTiming[]): string {
  if (timings.length === 0) return '';
  const rows = timings.map((t) => ({ label: `${'  '.repeat(t.depth)}${t.name}`, t }));
  const width = Math.max(...rows.map((r) => r.label.length));
  return (
    [
      'timings:',
      ...rows.map(
        (r) => `  ${r.label.padEnd(width)}  ${formatDuration(r.t.ms).padStart(7)}  ${r.t.ok ? 'ok' : 'FAILED'}`,
      ),
    ].join('\n') + '\n'
  );
}
