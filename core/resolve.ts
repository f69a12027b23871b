/**
 * Collecting answers in one order of precedence: command-line option > .yo-rc.json > prompt >
 * default. Kept apart from the generator so `mpimg new` and the generator agree on it.
 */
import { ANSWER_SPECS, type AnswerKey, type Answers, type AnswerSpec } from './options.js';
import { coerce } from './answers.js';

/** Reads an option under its --kebab name or the camelCase name yo's command parser gives it. */
export function optionValue(options: Record<string, unknown>, s: AnswerSpec): unknown {
  const camel = s.option.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return options[s.option] ?? options[camel];
}

/** Answers already known before asking: options win over stored answers. */
export function knownAnswers(options: Record<string, unknown>, stored: Record<string, unknown>): Partial<Answers> {
  const known: Partial<Record<AnswerKey, unknown>> = {};
  for (const s of ANSWER_SPECS) {
    const fromOption = coerce(s, optionValue(options, s));
    const value = fromOption !== undefined ? fromOption : coerce(s, stored[s.key]);
    if (value !== undefined) known[s.key] = value;
  }
  return known as Partial<Answers>;
}

export function missingSpecs(known: Partial<Answers>): AnswerSpec[] {
  return ANSWER_SPECS.filter((s) => known[s.key] === undefined);
}

/** Fills every missing answer with its default, in question order (later defaults use earlier answers). */
export function withDefaults(known: Partial<Answers>, folderName: string): Answers {
  // Built in question order, so .yo-rc.json lists the answers in that order too.
  const out: Partial<Answers> = {};
  for (const s of ANSWER_SPECS) {
    const v = known[s.key] !== undefined ? known[s.key] : s.default({ answers: { ...known, ...out }, folderName });
    (out as Record<string, unknown>)[s.key] = v;
  }
  return out as Answers;
}
