/**
 * The questions of `yo mpimg` as DATA: each one is a prompt, a command-line option (same stable
 * name, shown by --help) and a key in .yo-rc.json. The app generator, `mpimg new` and the tests all
 * read this table, so a question exists in exactly one place.
 */
import { DEFAULTS, DISTRIBUTIONS } from '../runtime/manifest.js';
import { deriveName, deriveSlug, deriveVendor } from './derive.js';

export interface Answers {
  name: string;
  slug: string;
  vendor: string;
  distro: string;
  packages: string[];
  /** Ports the app serves to the internet ("80/tcp"); SSH is always let in, rate-limited. */
  ports: string[];
  firstLogin: boolean;
  loginHold: boolean;
  motd: string;
  region: string;
  size: string;
}

export type AnswerKey = keyof Answers;

/** What a default may look at: answers given so far and the folder being generated into. */
export interface DefaultContext {
  answers: Partial<Answers>;
  folderName: string;
}

export interface AnswerSpec<K extends AnswerKey = AnswerKey> {
  key: K;
  /** Command-line flag without dashes: `--<option>`. Stable: scripts and docs use it. */
  option: string;
  kind: 'string' | 'boolean' | 'list';
  prompt: 'input' | 'confirm' | 'select';
  message: string;
  /** One line for --help. */
  description: string;
  choices?: ReadonlyArray<{ name: string; value: string }>;
  default: (ctx: DefaultContext) => Answers[K];
}

export const DEFAULT_MOTD = 'Welcome to {{name}} {{version}}!';

function spec<K extends AnswerKey>(s: AnswerSpec<K>): AnswerSpec<K> {
  return s;
}

export const ANSWER_SPECS: ReadonlyArray<AnswerSpec> = [
  spec({
    key: 'name',
    option: 'name',
    kind: 'string',
    prompt: 'input',
    message: 'Display name of the 1-click app',
    description: 'display name, e.g. "Acme Wiki" (default: from the folder name)',
    default: ({ folderName }) => deriveName(folderName),
  }),
  spec({
    key: 'slug',
    option: 'slug',
    kind: 'string',
    prompt: 'input',
    message: 'Slug (used in every installed file name)',
    description: 'lower-case id used in installed names (default: from the name)',
    default: ({ answers, folderName }) => deriveSlug(answers.name ?? deriveName(folderName)),
  }),
  spec({
    key: 'vendor',
    option: 'vendor',
    kind: 'string',
    prompt: 'input',
    message: 'Company folder name (/opt/<vendor>)',
    description: 'company folder under /opt (default: first word of the slug)',
    default: ({ answers, folderName }) =>
      deriveVendor(answers.slug ?? deriveSlug(answers.name ?? deriveName(folderName))),
  }),
  spec({
    key: 'distro',
    option: 'distro',
    kind: 'string',
    prompt: 'select',
    message: 'Base distribution (DigitalOcean image)',
    description: `base image slug: ${DISTRIBUTIONS.map((d) => d.slug).join(', ')} (default: ${DISTRIBUTIONS[0].slug})`,
    choices: DISTRIBUTIONS.map((d) => ({ name: `${d.label} (${d.slug})`, value: d.slug })),
    default: () => DISTRIBUTIONS[0].slug,
  }),
  spec({
    key: 'packages',
    option: 'packages',
    kind: 'list',
    prompt: 'input',
    message: 'Packages to install on the build droplet (comma-separated, may be empty)',
    description: 'apt/dnf packages, comma-separated (default: none)',
    default: () => [],
  }),
  spec({
    key: 'ports',
    option: 'ports',
    kind: 'list',
    prompt: 'input',
    message:
      'Ports the app serves to the internet, for the firewall (comma-separated, e.g. 80/tcp,443/tcp; SSH 22/tcp is always let in, rate-limited)',
    description: 'ports the firewall lets in besides SSH, comma-separated, e.g. 80/tcp,443/tcp (default: none)',
    default: () => [],
  }),
  spec({
    key: 'firstLogin',
    option: 'first-login',
    kind: 'boolean',
    prompt: 'confirm',
    message: 'Add a first-login script (asks the customer for a domain name at the first root login)?',
    description: 'add first-login/first-login.sh (default: off)',
    default: () => false,
  }),
  spec({
    key: 'loginHold',
    option: 'login-hold',
    kind: 'boolean',
    prompt: 'confirm',
    message: 'Hold root SSH logins until first boot has finished?',
    description: 'hold root logins with a "please wait" until first boot finished (default: off)',
    default: () => false,
  }),
  spec({
    key: 'motd',
    option: 'motd',
    kind: 'string',
    prompt: 'input',
    message:
      "Greeting line of the login message ({{name}}, {{version}}, {{ip}}, {{credentials}} and mpimg.json's {{VARIABLES}} are filled in)",
    description: `first line of motd.txt (default: "${DEFAULT_MOTD}")`,
    default: () => DEFAULT_MOTD,
  }),
  spec({
    key: 'region',
    option: 'region',
    kind: 'string',
    prompt: 'input',
    message: 'DigitalOcean region for build droplets',
    description: `region of build droplets (default: ${DEFAULTS.region})`,
    default: () => DEFAULTS.region,
  }),
  spec({
    key: 'size',
    option: 'size',
    kind: 'string',
    prompt: 'input',
    message: 'Droplet size for builds ($.droplet.size: the Marketplace asks for the smallest your image runs on)',
    description: `size of build droplets (default: ${DEFAULTS.size})`,
    default: () => DEFAULTS.size,
  }),
];

/** Options that are not questions. */
export const EXTRA_OPTIONS: ReadonlyArray<{ option: string; alias?: string; description: string }> = [
  { option: 'yes', alias: 'y', description: 'take the default for every question not answered by an option' },
  {
    option: 'force',
    alias: 'f',
    description: 'overwrite files that differ from what would be generated (default: keep them and report)',
  },
];

export function specFor(key: AnswerKey): AnswerSpec {
  const s = ANSWER_SPECS.find((x) => x.key === key);
  if (!s) throw new Error(`no question ${key}`);
  return s;
}

/** `--help` lines shared by `yo mpimg --help` (via yeoman) and `mpimg new --help`. */
export function optionsHelp(): string {
  const rows: Array<[string, string]> = [
    ...ANSWER_SPECS.map((s): [string, string] => [
      `--${s.option}${s.kind === 'boolean' ? '' : ' <value>'}`,
      s.description,
    ]),
    ...EXTRA_OPTIONS.map((o): [string, string] => [`${o.alias ? `-${o.alias}, ` : ''}--${o.option}`, o.description]),
  ];
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`).join('\n');
}
