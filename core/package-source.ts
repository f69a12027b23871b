/**
 * Where an image project gets generator-mpimg (its package.json devDependency), so that the
 * `npm install` every message points at works, on the vendor's machine and in CI:
 *   - `--package <version range | URL | git URL>`: as given;
 *   - `--package <path to a .tgz or to a built clone>`: a copy of the package goes into the project
 *     (vendor/generator-mpimg-<version>.tgz) and package.json names it relatively, so the committed
 *     package-lock.json never points at a path on the vendor's disk;
 *   - nothing, on a new project: this release from the registry once it is published there; until
 *     then a copy of this very package, as above.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MpimgError } from './errors.js';
import { packageRoot, packageVersion } from './paths.js';

/** Whether this release is on the npm registry (set when it is published). */
export const ON_REGISTRY = false;

/** The project folder that holds the package's tarball while it is not on the registry. */
export const VENDOR_DIR = 'vendor';

export interface PackageSource {
  /** The devDependency spec for package.json. */
  spec: string;
  /** A tarball to put into the project at `rel`. */
  tarball?: { rel: string; data: Buffer };
}

/** A path npm would read from the disk: `file:x`, `./x`, `../x`, `/x`, `~/x`, or a name ending in .tgz. */
function localPath(spec: string, cwd: string): string | undefined {
  const bare = spec.startsWith('file:') ? spec.slice('file:'.length) : spec;
  const looksLocal = spec.startsWith('file:') || /^(\.{1,2}\/|\/|~\/)/.test(spec) || /\.(tgz|tar\.gz)$/.test(spec);
  if (!looksLocal || /^[a-z+]+:\/\//.test(bare)) return undefined;
  const abs = resolve(cwd, bare.replace(/^~(?=\/)/, process.env.HOME ?? '~'));
  return existsSync(abs) ? abs : undefined;
}

/**
 * The source for `given` (--package), resolved against `cwd`; for no --package, the default of a
 * new project (undefined: keep what the project's package.json says).
 */
export function packageSource(
  given: string | undefined,
  cwd: string,
  isNewProject: boolean,
): PackageSource | undefined {
  if (given === undefined) {
    if (!isNewProject) return undefined;
    if (ON_REGISTRY) return { spec: `^${packageVersion()}` };
    return vendored(packDirectory(packageRoot()), `generator-mpimg-${packageVersion()}.tgz`);
  }
  const abs = localPath(given, cwd);
  if (abs === undefined) return { spec: given };
  if (statSync(abs).isDirectory())
    return vendored(packDirectory(abs), `generator-mpimg-${packageJsonOf(abs).version}.tgz`);
  const name = basename(abs);
  if (!/^[A-Za-z0-9._-]+\.(tgz|tar\.gz)$/.test(name)) {
    throw new MpimgError(`--package ${given}: ${name} is not a package tarball`, {
      where: '--package',
      hint: 'give the .tgz that `npm pack` made, the folder of a built generator-mpimg clone, or an npm spec (a version, URL or git URL)',
    });
  }
  return vendored(readFileSync(abs), name);
}

function vendored(data: Buffer, name: string): PackageSource {
  const rel = `${VENDOR_DIR}/${name}`;
  return { spec: `file:${rel}`, tarball: { rel, data } };
}

function packageJsonOf(dir: string): { name?: string; version?: string; files?: string[] } {
  const file = join(dir, 'package.json');
  let pkg: { name?: string; version?: string; files?: string[] };
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new MpimgError(`${dir} is not a generator-mpimg package folder (no readable package.json)`, {
      where: file,
      hint: 'give the folder of a generator-mpimg clone, or the .tgz `npm pack` made there',
    });
  }
  if (pkg.name !== 'generator-mpimg')
    throw new MpimgError(`${dir} holds ${pkg.name ?? 'a package without a name'}, not generator-mpimg`, {
      where: file,
      hint: 'give the folder of a generator-mpimg clone',
    });
  return pkg;
}

/**
 * The package in `dir` as `npm pack` makes it (package.json, README and LICENSE, and what `files`
 * lists), as a gzipped tar with fixed dates and owners: the same bytes for the same files, so
 * re-running leaves the project's copy unchanged. A clone must be built first (lib/).
 */
export function packDirectory(dir: string): Buffer {
  const pkg = packageJsonOf(dir);
  if (!existsSync(join(dir, 'lib/tasks/cli.js'))) {
    throw new MpimgError(`${dir} is not built (no lib/tasks/cli.js)`, {
      where: dir,
      hint: `run \`npm ci && npm run build\` in ${dir} first`,
    });
  }
  const files = new Set<string>(['package.json']);
  for (const f of readdirSync(dir)) if (/^(readme|license|licence|notice)(\..*)?$/i.test(f)) files.add(f);
  const modes = new Map<string, number>();
  const walk = (rel: string) => {
    const abs = join(dir, rel);
    if (!existsSync(abs)) return;
    const st = statSync(abs);
    if (st.isDirectory()) {
      for (const e of readdirSync(abs)) if (!IGNORED.test(e)) walk(`${rel}/${e}`);
    } else if (st.isFile()) {
      files.add(rel);
      modes.set(rel, st.mode & 0o111 ? 0o755 : 0o644);
    }
  };
  for (const entry of pkg.files ?? []) walk(entry.replace(/\/+$/, ''));
  return tarGz(
    [...files].sort().map((rel) => ({
      name: `package/${rel}`,
      data: readFileSync(join(dir, rel)),
      mode: modes.get(rel) ?? (statSync(join(dir, rel)).mode & 0o111 ? 0o755 : 0o644),
    })),
  );
}

/** What npm never packs. */
const IGNORED = /^(node_modules|\.git|\.DS_Store|\.npmrc|npm-debug\.log|.*\.orig|\.[^/]*\.swp)$/;

/** npm's fixed date for packed files (1985-10-26T08:15:00Z). */
const MTIME = 499162500;

function tarGz(entries: Array<{ name: string; data: Buffer; mode: number }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    blocks.push(header(e.name, e.data.length, e.mode), e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  // level 1: a few percent larger than npm's, and several times faster (every `mpimg new` packs)
  return gzipSync(Buffer.concat(blocks), { level: 1 });
}

function header(path: string, size: number, mode: number): Buffer {
  const h = Buffer.alloc(512);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = path.lastIndexOf('/', 155);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155)
      throw new Error(`path too long for a tar header: ${path}`);
  }
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(MTIME, 12), 136, 12, 'ascii');
  h.fill(' ', 148, 156);
  h.write('0', 156, 1, 'ascii');
  h.write('ustar\u000000', 257, 8, 'binary');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}
