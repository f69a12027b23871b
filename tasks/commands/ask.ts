/**
 * Questions on a terminal for `mpimg new` and `mpimg add` (no Yeoman, no prompt library): one line
 * per answer, Enter takes the suggestion, a bad answer is explained and asked again. With no
 * terminal there is no prompter at all: a missing answer then fails naming its option.
 */
import { createInterface } from 'node:readline/promises';
import type { Prompter, Question } from '../../core/questions.js';
import type { CommandContext } from './types.js';

const YES = /^(y|yes|true|1|on)$/i;
const NO = /^(n|no|false|0|off)$/i;

/** The prompter for this command's terminal, or undefined when stdin or stdout is not one. */
export function terminalPrompter(
  ctx: CommandContext,
  input: NodeJS.ReadableStream = process.stdin,
): Prompter | undefined {
  if (!ctx.isTTY || !(input as { isTTY?: boolean }).isTTY) return undefined;
  return (questions) => askAll(questions, input, ctx.stdout as NodeJS.WritableStream);
}

/** Asks `questions` in order on `input`/`output` (also used by the tests with plain streams). */
export async function askAll(
  questions: Question[],
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
): Promise<Record<string, unknown>> {
  const rl = createInterface({ input, output, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const answers: Record<string, unknown> = {};
  try {
    for (const q of questions) answers[q.name] = await askOne(q, answers, lines, output);
  } finally {
    rl.close();
  }
  return answers;
}

async function askOne(
  q: Question,
  so: Record<string, unknown>,
  lines: AsyncIterator<string>,
  out: NodeJS.WritableStream,
): Promise<unknown> {
  const suggested = q.default?.(so);
  if (q.type === 'select' && q.choices) {
    out.write(`? ${q.message}\n${q.choices.map((c, i) => `  ${i + 1}) ${c.name}`).join('\n')}\n`);
  }
  for (;;) {
    const shown =
      q.type === 'confirm'
        ? suggested
          ? 'Y/n'
          : 'y/N'
        : suggested === undefined || suggested === ''
          ? ''
          : String(suggested);
    out.write(
      `${q.type === 'select' ? '' : '? '}${q.type === 'select' ? 'Choose (number or name)' : q.message}${shown ? ` (${shown})` : ''}: `,
    );
    const next = await lines.next();
    if (next.done) throw new Error('the terminal closed before every question was answered');
    const raw = next.value.trim();
    let value: unknown = raw === '' ? suggested : raw;
    if (q.type === 'confirm' && raw !== '') value = YES.test(raw) ? true : NO.test(raw) ? false : raw;
    if (q.type === 'select' && q.choices && raw !== '') {
      const n = Number(raw);
      const byNumber = Number.isInteger(n) ? q.choices[n - 1] : undefined;
      value = byNumber ? byNumber.value : raw;
    }
    const ok = q.validate ? q.validate(value, { ...so, [q.name]: value }) : true;
    if (ok === true) return value;
    out.write(`  ${ok}\n`);
  }
}
