/**
 * The project's build records on the vendor's machine: images/<id>/record.json with the SBOM beside
 * it. A record folder appears whole or not at all (written in a temporary folder, then renamed), is
 * never written over by another build (ids are unique; rename refuses an existing folder), and
 * the snapshot's update replaces record.json atomically.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { MpimgError } from '../../core/errors.js';
import { outsideMessage, outsideProject } from '../bundle/project-paths.js';
import { RECORD_FILE, RECORD_FORMAT, RECORDS_DIR, SBOM_FILE, type BuildRecord } from './types.js';

const ID_RE = /^[0-9]{8}T[0-9]{6}Z-[a-z0-9-]{1,80}-[0-9a-f]{6}$/;

/** `<UTC time>-<distribution>-<random>`: sorts by time; parallel builds of one second differ. */
export function newRecordId(now: Date, distribution: string): string {
  const t = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const d =
    distribution
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .slice(0, 80) || 'unknown';
  return `${t}-${d}-${randomBytes(3).toString('hex')}`;
}

function writeError(what: string, err: unknown, hint: string): MpimgError {
  const e = err as NodeJS.ErrnoException;
  return new MpimgError(`cannot write the build record: ${what}${e?.code ? ` (${e.code})` : ''}`, {
    where: `${RECORDS_DIR}/`,
    hint,
  });
}

/**
 * The project's records folder, made when missing. A path there that is no folder, or a link leading
 * out of the project, is refused: records stay in the project.
 */
export function recordsFolder(project: string, mode: 'read' | 'check' | 'create'): { dir: string; made: boolean } {
  const create = mode === 'create';
  const dir = join(project, RECORDS_DIR);
  const what = mode === 'read' ? 'cannot read the build records' : 'cannot write the build record';
  const outside = fs.existsSync(dir) ? outsideProject(project, RECORDS_DIR) : null;
  if (outside !== null) {
    const { message, hint } = outsideMessage(RECORDS_DIR, outside);
    throw new MpimgError(`${what}: ${message}`, { where: `${RECORDS_DIR}/`, hint });
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw writeError(`${RECORDS_DIR} cannot be read`, err, '');
  }
  if (st && !st.isDirectory())
    throw new MpimgError(`${what}: ${RECORDS_DIR} in the project is not a folder`, {
      where: join(project, RECORDS_DIR),
      hint: `move that file away: build records are kept in the folder ${RECORDS_DIR}/ of the project`,
    });
  if (st || !create) return { dir, made: false };
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    throw writeError(`the folder ${RECORDS_DIR}/ cannot be made`, err, `check that ${project} is writable`);
  }
  return { dir, made: true };
}

function writeSynced(file: string, text: string): void {
  const fd = fs.openSync(file, 'wx', 0o644);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes images/<record.id>/ with the record and the SBOM; its path. Nothing is left behind on failure. */
export function writeRecord(project: string, record: BuildRecord, sbom: unknown): string {
  if (!ID_RE.test(record.id)) throw new TypeError(`bad record id ${JSON.stringify(record.id)}`);
  const { dir, made } = recordsFolder(project, 'create');
  const final = join(dir, record.id);
  const tmp = join(dir, `.${record.id}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    fs.mkdirSync(tmp, { mode: 0o755 });
    writeSynced(join(tmp, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
    writeSynced(join(tmp, SBOM_FILE), `${JSON.stringify(sbom, null, 2)}\n`);
    // rename(2) of a folder onto an existing non-empty one fails: an earlier record is never replaced.
    if (fs.existsSync(final)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    fs.renameSync(tmp, final);
    return final;
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (made) fs.rmSync(dir, { recursive: false, force: true });
    throw writeError(
      `${RECORDS_DIR}/${record.id} could not be written`,
      err,
      `check that ${dir} is a writable folder with free space, then run the record step again (\`mpimg run record --host ...\`)`,
    );
  }
}

export interface StoredRecord {
  dir: string;
  record: BuildRecord;
}

export interface RecordListing {
  records: StoredRecord[];
  /** Folders under images/ whose record.json is missing or unreadable, with why. */
  problems: Array<{ path: string; message: string }>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isId = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;

/**
 * Why a parsed record.json of the folder `folder` is not a build record the readers can use, or null.
 * Records also arrive from elsewhere (the weekly refresh downloads them as an artifact): every field
 * `mpimg images`, the snapshot, `--latest-snapshot` and the release read is checked, and the id must
 * be the folder's (it is printed and named in errors).
 */
export function recordProblem(v: unknown, folder: string): string | null {
  if (!isObj(v) || v.format !== RECORD_FORMAT) return `not a build record of format ${RECORD_FORMAT}`;
  const { build, system, packages, snapshot, project, base } = v;
  if (v.id !== folder || !ID_RE.test(folder)) return 'its "id" is not the name of its folder';
  if (!isStr(v.createdAt) || Number.isNaN(Date.parse(v.createdAt))) return '"createdAt" is not a time';
  if (snapshot !== null && !(isObj(snapshot) && isId(snapshot.id) && isStr(snapshot.name) && isStr(snapshot.at)))
    return '"snapshot" is neither null nor {id (a positive whole number), name, at}';
  if (
    !isObj(build) ||
    !isStr(build.host) ||
    !(build.dropletId === null || isId(build.dropletId)) ||
    (build.root !== undefined && !isStr(build.root)) ||
    (build.freshen != null && !isObj(build.freshen)) ||
    (build.check != null && !isObj(build.check))
  )
    return '"build" is incomplete';
  if (!isObj(system) || !isStr(system.distribution)) return '"system.distribution" is missing';
  if (
    !isObj(packages) ||
    typeof packages.count !== 'number' ||
    !Array.isArray(packages.list) ||
    !packages.list.every((p) => isObj(p) && isStr(p.name) && isStr(p.version))
  )
    return '"packages" is not {count, list of {name, version}}';
  if (!isObj(project) || !(project.git === null || isObj(project.git)) || !isObj(base))
    return '"project" or "base" is incomplete';
  return null;
}

/** Every record of the project, newest first (none when there is no records folder). */
export function listRecords(project: string): RecordListing {
  const { dir } = recordsFolder(project, 'read');
  const out: RecordListing = { records: [], problems: [] };
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue; // a record being written
    const sub = join(dir, name);
    if (!fs.lstatSync(sub).isDirectory()) continue;
    const rel = `${RECORDS_DIR}/${name}/${RECORD_FILE}`;
    let parsed: unknown;
    try {
      // A link is not followed: a record folder from elsewhere must not read a file outside it.
      if (fs.lstatSync(join(sub, RECORD_FILE)).isSymbolicLink()) throw new Error('a symbolic link (not followed)');
      parsed = JSON.parse(fs.readFileSync(join(sub, RECORD_FILE), 'utf8'));
    } catch (err) {
      out.problems.push({ path: rel, message: (err as Error).message });
      continue;
    }
    const problem = recordProblem(parsed, name);
    if (problem === null) out.records.push({ dir: sub, record: parsed as BuildRecord });
    else out.problems.push({ path: rel, message: problem });
  }
  out.records.sort((a, b) =>
    a.record.createdAt === b.record.createdAt
      ? b.record.id.localeCompare(a.record.id)
      : b.record.createdAt.localeCompare(a.record.createdAt),
  );
  return out;
}

/** Replaces record.json of one record (temp file + rename in its folder). */
export function rewriteRecord(stored: StoredRecord): void {
  const file = join(stored.dir, RECORD_FILE);
  const tmp = join(stored.dir, `.${RECORD_FILE}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    writeSynced(tmp, `${JSON.stringify(stored.record, null, 2)}\n`);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * The snapshot of a built droplet into its record: the newest record without a snapshot whose build
 * ran on that droplet (its id from the metadata service, else its public IPv4). The updated record,
 * or null when the project has none for that droplet.
 */
export function attachSnapshot(
  project: string,
  droplet: { id: number; ip?: string | null; baseImageId?: number | null },
  snapshot: { id: number; name: string },
  now: Date = new Date(),
): StoredRecord | null {
  const found = listRecords(project).records.find(
    ({ record: r }) =>
      r.snapshot === null &&
      !r.build.root &&
      (r.build.dropletId === droplet.id || (r.build.dropletId === null && !!droplet.ip && r.build.host === droplet.ip)),
  );
  if (!found) return null;
  found.record.snapshot = { id: snapshot.id, name: snapshot.name, at: now.toISOString() };
  if (droplet.baseImageId) found.record.base.imageId = droplet.baseImageId;
  rewriteRecord(found);
  return found;
}
