/** A question as `yo mpimg` (Yeoman's prompt) and `mpimg new` (tasks/commands/ask.ts) both ask it. */
export interface Question {
  type: 'input' | 'confirm' | 'select';
  name: string;
  message: string;
  choices?: Array<{ name: string; value: string }>;
  /** The suggested answer, from the answers given so far. */
  default?: (answers: Record<string, unknown>) => unknown;
  /** true, or what is wrong with the value (asked again). */
  validate?: (value: unknown, answers?: Record<string, unknown>) => true | string;
}

/** Asks the questions in order; undefined where there is no terminal to ask on. */
export type Prompter = (questions: Question[]) => Promise<Record<string, unknown>>;
