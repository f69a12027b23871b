/**
 * Turning raw option/prompt values into Answers and checking them. The rules are those of
 * runtime/manifest.ts: answers are checked by building the manifest they produce and running
 * validateManifest on it, then naming the option that fed each failing field.
 */
import { DISTRIBUTIONS, validateManifest } from '../runtime/manifest.js';
import { MOTD_PLACEHOLDERS } from './motd-placeholders.js';
import { closest as nearest } from '../runtime/schema.js';
import { distributionKind, distributionWarning, regionWarning, sizeWarning } from '../runtime/known-values.js';
import { ANSWER_SPECS, type AnswerKey, type Answers, type AnswerSpec, specFor } from './options.js';
import { manifestFromAnswers } from './project.js';

export interface AnswerProblem {
  /** The command-line option that gives this answer, without dashes. */
  option: string;
  message: string;
  fix: string;
}

/** Accepts what a CLI, a prompt or .yo-rc.json may hold for one answer. */
export function coerce(spec: AnswerSpec, raw: unknown): unknown {
  if (raw === undefined || raw === null) return undefined;
  switch (spec.kind) {
    case 'list': {
      const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(','));
      return parts.map((p) => p.trim()).filter((p) => p !== '');
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (/^(true|yes|y|1|on)$/i.test(String(raw))) return true;
      if (/^(false|no|n|0|off)$/i.test(String(raw))) return false;
      return raw; // left as is: validation reports it
    default:
      return typeof raw === 'string' ? raw.trim() : raw;
  }
}

/** A manifest-valid stand-in, so one answer can be checked before the others are known. */
const PROBE: Answers = {
  name: 'Probe',
  slug: 'probe',
  vendor: 'probe',
  distro: DISTRIBUTIONS[0].slug,
  packages: [],
  ports: [],
  firstLogin: false,
  loginHold: false,
  motd: 'probe',
  region: 'nyc3',
  size: 's-1vcpu-512mb-10gb',
};

/** JSON path in the manifest → the option that fills it. */
function optionForPath(path: string): string | undefined {
  const table: Array<[RegExp, AnswerKey]> = [
    [/^\$\.name$/, 'name'],
    [/^\$\.slug$/, 'slug'],
    [/^\$\.vendor$/, 'vendor'],
    [/^\$\.distributions/, 'distro'],
    [/^\$\.build\.packages/, 'packages'],
    [/^\$\.firewall/, 'ports'],
    [/^\$\.droplet\.region$/, 'region'],
    [/^\$\.droplet\.size$/, 'size'],
    [/^\$\.loginHold$/, 'loginHold'],
    [/^\$\.firstLogin/, 'firstLogin'],
  ];
  const hit = table.find(([re]) => re.test(path));
  return hit ? specFor(hit[1]).option : undefined;
}

/** Every problem of a full set of answers, each naming its option. Empty when all is well. */
export function validateAnswers(answers: Answers): AnswerProblem[] {
  const problems: AnswerProblem[] = [];
  for (const s of ANSWER_SPECS) {
    const v = answers[s.key];
    const ok =
      s.kind === 'list' ? Array.isArray(v) : s.kind === 'boolean' ? typeof v === 'boolean' : typeof v === 'string';
    if (!ok) {
      problems.push({
        option: s.option,
        message: `--${s.option} has an unusable value ${JSON.stringify(v)}`,
        fix:
          s.kind === 'boolean'
            ? `use --${s.option} or --no-${s.option}`
            : `give --${s.option} a ${s.kind === 'list' ? 'comma-separated list' : 'text value'}`,
      });
    }
  }
  if (problems.length) return problems;

  // A newer release of a known family is taken (with a warning): DigitalOcean adds them before we do.
  if (distributionKind(answers.distro) === 'unknown') {
    problems.push({
      option: 'distro',
      message: `unknown distribution "${answers.distro}"`,
      fix: `use one of: ${DISTRIBUTIONS.map((d) => d.slug).join(', ')} (or a newer release of one of them)`,
    });
  }
  for (const key of ['region', 'size'] as const) {
    // DigitalOcean slugs: lower-case letters, digits and "-" (nyc3, s-1vcpu-512mb-10gb).
    if (!/^[a-z0-9][a-z0-9-]*$/.test(answers[key])) {
      problems.push({
        option: key,
        message: `bad ${key} "${answers[key]}"`,
        fix: `use a DigitalOcean ${key} slug such as ${PROBE[key]} (see \`doctl compute ${key} list\`)`,
      });
    }
  }
  if (answers.motd.trim() === '' || /[\r\n]/.test(answers.motd)) {
    problems.push({
      option: 'motd',
      message: 'the greeting must be one non-empty line',
      fix: 'give --motd one line of text; edit motd.txt later for more',
    });
  }
  // {{lower-case}} is one of the MOTD's own placeholders; {{UPPER_CASE}} a variable of mpimg.json
  for (const m of answers.motd.matchAll(/\{\{([^{}]*)\}\}/g)) {
    if (MOTD_PLACEHOLDERS.includes(m[1]) || /^[A-Z][A-Z0-9_]*$/.test(m[1])) continue;
    const near = nearest(m[1], MOTD_PLACEHOLDERS);
    problems.push({
      option: 'motd',
      message: `unknown placeholder {{${m[1]}}}`,
      fix: `${near ? `did you mean {{${near}}}? ` : ''}use ${MOTD_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')} or {{VARIABLE}} of mpimg.json's $.variables`,
    });
  }
  const { problems: manifestProblems } = validateManifest(manifestFromAnswers(answers));
  for (const p of manifestProblems) {
    const option = optionForPath(p.path);
    // The distro shape rule is covered by the stricter "known distribution" check above.
    if (option === 'distro' && problems.some((x) => x.option === 'distro')) continue;
    problems.push({ option: option ?? p.path, message: p.message, fix: p.hint });
  }
  // In question order, whichever check found them.
  const rank = (o: string) => {
    const i = ANSWER_SPECS.findIndex((s) => s.option === o);
    return i < 0 ? ANSWER_SPECS.length : i;
  };
  return problems.sort((a, b) => rank(a.option) - rank(b.option));
}

/** What is accepted but not known to exist at DigitalOcean (a newer distribution, an unknown region or size). */
export function answerWarnings(answers: Answers): string[] {
  const out = [distributionWarning(answers.distro), regionWarning(answers.region), sizeWarning(answers.size)];
  return out.filter((w): w is string => w !== undefined);
}

/** For a prompt's `validate`: true, or the message and fix for this one answer. */
export function validateOne(key: AnswerKey, raw: unknown, soFar: Partial<Answers> = {}): true | string {
  const p = answerProblem(key, raw, soFar);
  return p === undefined ? true : `${p.message} (${p.fix})`;
}

/** The first problem of this one answer, with its own fix (for an error of an `add` option). */
export function answerProblem(key: AnswerKey, raw: unknown, soFar: Partial<Answers> = {}): AnswerProblem | undefined {
  const s = specFor(key);
  const candidate = { ...PROBE, ...soFar, [key]: coerce(s, raw) } as Answers;
  return validateAnswers(candidate).find((p) => p.option === s.option);
}

export function formatAnswerProblems(problems: AnswerProblem[]): string {
  return problems
    .map((p) => `  ${p.option.startsWith('$') ? p.option : `--${p.option}`}: ${p.message}\n    fix: ${p.fix}`)
    .join('\n');
}
