/**
 * Project → plan: the pure list of file operations that `install` performs on a droplet.
 * Every installed name derives from the manifest (slug, vendor).
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { Op, Plan } from '../../runtime/plan.js';
import { MpimgError } from '../errors.js';
import type { Project } from './project.js';
import { readDroplet, renderDroplet } from './render.js';

export const PER_INSTANCE_DIR = '/var/lib/cloud/scripts/per-instance';

function fileOp(p: string, mode: number, data: Buffer | string): Op {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { kind: 'file', path: p, mode, content: buf.toString('base64'), sha256: createHash('sha256').update(buf).digest('hex') };
}

export function buildPlan(project: Project, generatorVersion: string): Plan {
  const m = project.manifest;
  const home = `/opt/${m.vendor}/${m.slug}`;
  const common = { name: m.name, slug: m.slug, vendor: m.vendor, version: m.version, home };
  const finish = `${PER_INSTANCE_DIR}/zz-${m.slug}-finish`;
  const ops: Op[] = [{ kind: 'dir', path: home, mode: 0o755 }];

  ops.push(fileOp(`${home}/lib.sh`, 0o644, renderDroplet('lib.sh.ejs', { ...common, blocks: readDroplet('blocks.sh') })));
  for (const s of project.firstBoot) {
    const nn = String(s.order).padStart(2, '0');
    const id = `${nn}-${s.name}`;
    const script = `${home}/first-boot/${id}`;
    ops.push(fileOp(script, 0o755, fs.readFileSync(s.abs)));
    ops.push(fileOp(`${PER_INSTANCE_DIR}/${nn}-${m.slug}-${s.name}`, 0o755, renderDroplet('first-boot-wrapper.sh.ejs', { ...common, id, script })));
  }
  // Always present: it sorts last, releases the login hold and records the result for the MOTD.
  ops.push(fileOp(finish, 0o755, renderDroplet('first-boot-finish.sh.ejs', common)));

  if (project.firstLogin) {
    ops.push(fileOp(`${home}/first-login.sh`, 0o755, fs.readFileSync(project.firstLogin.abs)));
    ops.push(fileOp(`${home}/first-login-run`, 0o755, renderDroplet('first-login-run.sh.ejs', common)));
    ops.push({ kind: 'block', path: '/root/.bashrc', id: `${m.slug} first-login`, text: renderDroplet('bashrc-block.ejs', common), position: 'start', createMode: 0o644 });
  }
  if (project.motd) {
    const text = fs.readFileSync(project.motd.abs, 'utf8').replace(/\n+$/, '')
      .replaceAll('{{name}}', m.name).replaceAll('{{version}}', m.version);
    ops.push(fileOp(`/etc/update-motd.d/99-${m.slug}`, 0o755, renderDroplet('motd.sh.ejs', { ...common, text })));
  }
  if (m.loginHold) {
    ops.push({ kind: 'block', path: '/etc/ssh/sshd_config', id: `${m.slug} login-hold`, text: renderDroplet('login-hold-block.ejs', { ...common, finish }), position: 'end', createMode: 0o644 });
  }
  for (const f of project.files) ops.push(fileOp(f.target, f.mode & 0o777, fs.readFileSync(f.abs)));

  // Two operations on one path would fight each other (e.g. files/root/.bashrc and the hook).
  const seen = new Map<string, Op>();
  for (const op of ops) {
    const prev = seen.get(op.path);
    if (prev && !(prev.kind === 'block' && op.kind === 'block')) {
      throw new MpimgError(`two things would be installed at ${op.path}`, { where: 'files/', hint: `remove files${op.path} from files/: mpimg manages that path` });
    }
    seen.set(op.path, op);
  }

  const state = {
    generator: generatorVersion,
    name: m.name,
    slug: m.slug,
    vendor: m.vendor,
    version: m.version,
    items: ops.map((op) => (op.kind === 'file' ? { path: op.path, mode: op.mode.toString(8), sha256: op.sha256 } : op.kind === 'dir' ? { path: op.path, mode: op.mode.toString(8), dir: true } : { path: op.path, block: `mpimg:${op.id}` })),
  };
  ops.push(fileOp(`${home}/installed.json`, 0o644, `${JSON.stringify(state, null, 2)}\n`));
  return { ...common, ops };
}
