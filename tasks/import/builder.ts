/**
 * The template's `digitalocean` builder and its naming variables → the new project's distribution,
 * build droplet, snapshot name, name, version, slug and vendor. The API token is never taken: the
 * report says where mpimg reads it, or to revoke it when the template holds one.
 */
import * as path from 'node:path';
import { DEFAULTS, DISTRO_SLUG_RE, DISTRIBUTIONS, validateManifest } from '../../runtime/manifest.js';
import { RESERVED_VENDORS } from '../../runtime/manifest-schema.js';
import { familyOf } from '../../runtime/distro.js';
import { deriveName, deriveSlug, deriveVendor } from '../../core/derive.js';
import { DEFAULT_MOTD, type Answers } from '../../core/options.js';
import { formatAnswerProblems, validateAnswers } from '../../core/answers.js';
import { MpimgError } from '../../core/errors.js';
import type { Field as ReportField } from './report.js';
import type { PersonNote } from './state.js';
import { textOf, type Block, type Template, type Text } from './template.js';
import { describe, expandVars, fieldText, listOf } from './values.js';

interface Notes {
  person: PersonNote[];
  info: PersonNote[];
  fields: ReportField[];
}

export interface BuilderMapping {
  builder: Block;
  distro: string;
  family: 'apt' | 'dnf';
  /** An image id the build started from (droplet.image). */
  dropletImage?: string;
  region?: string;
  size?: string;
  tags: string[];
}

const slugOk = (s: string | undefined): s is string => s !== undefined && /^[a-z0-9][a-z0-9-]*$/.test(s);
const versionOk = (v: string | undefined): v is string =>
  v !== undefined && /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$/.test(v);

export function mapBuilder(
  tmpl: Template,
  resolve: (t: Text) => string | undefined,
  notes: Notes,
  tfile: string,
): BuilderMapping {
  const { person, info, fields } = notes;
  const builders = tmpl.builders.filter((b) => b.type === 'digitalocean');
  if (builders.length === 0) {
    throw new MpimgError(
      `the template has no "digitalocean" builder${tmpl.builders.length ? ` (it has ${tmpl.builders.map((b) => `"${b.type}"`).join(', ')})` : ''}`,
      {
        where: tfile,
        hint: 'import a template that builds a DigitalOcean snapshot (a builder or source of type "digitalocean")',
      },
    );
  }
  const builder = builders[0];
  if (builders.length > 1 || tmpl.builders.length > 1)
    info.push({
      where: builder.at,
      what: `the template has ${tmpl.builders.length} builders: the first "digitalocean" one was imported`,
    });
  const bf = (k: string) => {
    const t = fieldText(builder.fields[k]);
    return t ? resolve(t) : undefined;
  };

  const { distro, dropletImage } = mapImage(builder, bf('image'), notes);
  if (!DISTRIBUTIONS.some((d) => d.slug === distro))
    info.push({
      where: `${builder.at} image`,
      what: `${distro} is not among the distributions this release knows (${DISTRIBUTIONS.map((d) => d.slug).join(', ')}): it is kept, and \`mpimg new\` in this project will ask for a known one`,
    });
  const family = familyOf(distro);
  const region = bf('region');
  const size = bf('size');
  if (region !== undefined && slugOk(region))
    fields.push({ field: 'droplet.region', value: region, from: `${builder.at} region` });
  else if (builder.fields.region)
    person.push({
      where: `${builder.at} region`,
      what: `the region "${describe(fieldText(builder.fields.region) ?? [])}" could not be used: ${DEFAULTS.region} was taken`,
    });
  if (size !== undefined && slugOk(size))
    fields.push({ field: 'droplet.size', value: size, from: `${builder.at} size` });
  else if (builder.fields.size)
    person.push({
      where: `${builder.at} size`,
      what: `the size "${describe(fieldText(builder.fields.size) ?? [])}" could not be used: ${DEFAULTS.size} was taken`,
    });

  noteToken(builder, tmpl, notes);
  const user = bf('ssh_username');
  if (user !== undefined && user !== 'root')
    person.push({
      where: `${builder.at} ssh_username`,
      what: `the build logged in as "${user}": mpimg builds as root over SSH`,
    });
  const notCarried = Object.keys(builder.fields).filter((k) => !CARRIED.has(k));
  if (notCarried.length)
    info.push({
      where: builder.at,
      what: `not carried over: ${notCarried.join(', ')} (mpimg's build droplet has its own settings: mpimg.json "droplet")`,
    });
  const tags = listOf(builder.fields.tags)
    .map(textOf)
    .filter((t): t is string => t !== undefined && /^[a-zA-Z0-9_:-]{1,255}$/.test(t));

  return {
    builder,
    distro,
    family,
    dropletImage,
    region: slugOk(region) ? region : undefined,
    size: slugOk(size) ? size : undefined,
    tags,
  };
}

/** The builder settings the import reads (the rest is named as not carried over). */
const CARRIED = new Set([
  'type',
  'name',
  'api_token',
  'image',
  'region',
  'size',
  'ssh_username',
  'snapshot_name',
  'droplet_agent',
  'droplet_name',
  'tags',
]);

/** The builder's image: a distribution slug, or an image id the build starts from (droplet.image). */
function mapImage(builder: Block, image: string | undefined, notes: Notes): { distro: string; dropletImage?: string } {
  const { person, fields } = notes;
  let distro = 'ubuntu-24-04-x64';
  let dropletImage: string | undefined;
  if (image && DISTRO_SLUG_RE.test(image)) {
    distro = image;
    fields.push({ field: 'distributions', value: `["${image}"]`, from: `${builder.at} image` });
  } else if (image && /^\d+$/.test(image)) {
    dropletImage = image;
    person.push({
      where: `${builder.at} image`,
      what: `the build starts from image id ${image}: it is droplet.image now; set "distributions" to the distribution that image is (${distro} was assumed)`,
    });
  } else {
    person.push({
      where: `${builder.at} image`,
      what: `the base image ${image === undefined ? `"${describe(fieldText(builder.fields.image) ?? [])}" cannot be evaluated` : `"${image}" is not a DigitalOcean image slug`}: ${distro} was assumed; set "distributions" in mpimg.json`,
    });
  }
  return { distro, dropletImage };
}

/** The API token: mpimg reads it from the environment, never from a file; one written in the template is named. */
function noteToken(builder: Block, tmpl: Template, notes: Notes): void {
  const { person, info } = notes;
  const token = fieldText(builder.fields.api_token);
  if (token) {
    const pieces = expandVars(token, tmpl);
    const envs = pieces.filter((p): p is { env: string } => 'env' in p).map((p) => p.env);
    if (
      pieces.length &&
      pieces.every((p) => 'lit' in p) &&
      pieces
        .map((p) => (p as { lit: string }).lit)
        .join('')
        .trim() !== ''
    ) {
      person.push({
        where: `${builder.at} api_token`,
        what: "an API token is written in the template itself: revoke it in the control panel; mpimg reads the token from DIGITALOCEAN_ACCESS_TOKEN (or DIGITALOCEAN_TOKEN, or doctl's config) and never stores it",
      });
    } else {
      info.push({
        where: `${builder.at} api_token`,
        what: `the token${envs.length ? ` (read from ${envs.join(', ')})` : ''}: mpimg reads DIGITALOCEAN_ACCESS_TOKEN, then DIGITALOCEAN_TOKEN, then doctl's config`,
      });
    }
  }
}

export interface Names {
  name: string;
  version: string;
  /** application_version is a usable version: it is $.version (and {version} in the snapshot name). */
  versionMapped: boolean;
  slug: string;
  vendor: string;
  /** What the scaffolder is asked for. */
  answers: Answers;
}

export function mapNames(
  req: { name?: string; slug?: string; vendor?: string },
  tmpl: Template,
  resolve: (t: Text) => string | undefined,
  dir: string,
  b: BuilderMapping,
  notes: Notes,
  tfile: string,
): Names {
  const { person, info, fields } = notes;
  const { distro, region, size } = b;
  const varLit = (n: string) => {
    const v = tmpl.variables.get(n);
    return v?.default ? resolve(v.default) : undefined;
  };
  const appName = varLit('application_name');
  let name =
    req.name ??
    (appName && appName.trim() && !/[\u0000-\u001f\u007f\u2028\u2029]/.test(appName) ? appName.trim() : undefined);
  const fromVariable = !req.name && name !== undefined;
  if (!name) {
    name = deriveName(path.basename(dir).replace(/-\d+-\d+$/, ''));
    const why = appName?.trim() ? ' (its value holds a control or line-separator character, which a name cannot)' : '';
    if (!req.name)
      person.push({
        where: tfile,
        what: `no usable application_name variable${why}: the name "${name}" was made from the folder name (--name sets it)`,
      });
  }
  fields.push({
    field: 'name',
    value: name,
    from: req.name ? '--name' : fromVariable ? 'variable application_name' : 'the folder name',
  });
  const appVersion = varLit('application_version');
  const version = versionOk(appVersion) ? appVersion : '1.0.0';
  fields.push({
    field: 'version',
    value: version,
    from: versionOk(appVersion)
      ? 'variable application_version'
      : 'the default (application_version is empty or not a version)',
  });
  if (tmpl.variables.has('application_version') && !versionOk(appVersion))
    info.push({
      where: tfile,
      what: `application_version is ${appVersion === undefined ? 'not a fixed value' : `"${appVersion}"`}: version ${version} was taken; the build scripts still get the template's value as application_version`,
    });
  const slug = req.slug ?? deriveSlug(name);
  const vendor = vendorFor(req.vendor, slug, person, tfile);
  const answers: Answers = {
    name,
    slug,
    vendor,
    // The scaffolder asks for a distribution it knows; mpimg.json gets the template's.
    distro: DISTRIBUTIONS.some((d) => d.slug === distro) ? distro : DISTRIBUTIONS[0].slug,
    packages: [],
    ports: [],
    firstLogin: false,
    loginHold: false,
    motd: DEFAULT_MOTD,
    region: region ?? DEFAULTS.region,
    size: size ?? DEFAULTS.size,
  };
  const answerProblems = validateAnswers(answers);
  if (answerProblems.length) {
    throw new MpimgError(`the project's answers are not valid:\n${formatAnswerProblems(answerProblems)}`, {
      where: tfile,
      hint: 'give --name, --slug or --vendor with a usable value; nothing was written',
    });
  }

  return { name, version, versionMapped: versionOk(appVersion), slug, vendor, answers };
}

/** --vendor, else one made from the slug that is not a folder the Marketplace check refuses under /opt. */
function vendorFor(given: string | undefined, slug: string, person: PersonNote[], tfile: string): string {
  if (given !== undefined) return given;
  const vendor = deriveVendor(slug);
  if (!RESERVED_VENDORS.has(vendor)) return vendor;
  const words = slug.split('-').filter((w) => !RESERVED_VENDORS.has(w) && /^[a-z0-9]/.test(w));
  const other = words[0] ?? 'vendor';
  person.push({
    where: tfile,
    what: `the vendor folder would have been /opt/${vendor}, which fails the Marketplace check: /opt/${other} was taken (--vendor sets it)`,
  });
  return other;
}

/** The snapshot name: literal text, {timestamp}, {version} and {slug} where the template had their equivalents. */
export function snapshotName(
  t: Text | undefined,
  tmpl: Template,
  special: Map<string, string>,
  info: PersonNote[],
  at: string,
): string {
  if (!t) return DEFAULTS.snapshotName;
  let out = '';
  let lost = false;
  for (const p of expandVars(t, tmpl, new Set(special.keys()))) {
    if ('lit' in p) {
      // "$", "{" and "}" reach the Packer template mpimg writes: not taken as they are
      if (/[${}]/.test(p.lit)) lost = true;
      out += p.lit;
    } else if ('timestamp' in p) out += '{timestamp}';
    else if ('var' in p && special.get(p.var) === 'MPIMG_VERSION') out += '{version}';
    else if ('var' in p && special.get(p.var) === 'MPIMG_NAME') out += '{slug}';
    else lost = true;
  }
  out = out.replace(/\s+/g, '-');
  const ok =
    out !== '' &&
    out.length <= 255 &&
    validateManifest({
      name: 'p',
      slug: 'probe',
      vendor: 'probe',
      version: '1',
      distributions: ['ubuntu-24-04-x64'],
      snapshot: { name: out },
    }).problems.length === 0;
  if (!ok || lost) {
    info.push({
      where: `${at} snapshot_name`,
      what: `the snapshot name "${describe(t)}" has ${lost ? 'parts mpimg cannot fill in' : 'no equivalent'}: "${DEFAULTS.snapshotName}" was taken`,
    });
    return DEFAULTS.snapshotName;
  }
  return out;
}
