/**
 * Plan → POSIX-sh installer: the twin of the node executor for droplets without Node.
 * Each operation becomes one function call. Data reaches the script only in forms that cannot end
 * early or run: file bytes as base64 here-documents (the alphabet has no quote and no delimiter
 * line), every other value as one single-quoted word.
 */
import { createHash } from 'node:crypto';
import type { Payload } from '../../runtime/payload.js';
import { legacyToolDirs } from '../../runtime/policy.js';
import { backupDir, describeOp, journalFile, type Plan } from '../../runtime/plan.js';
import { REMOVED_DETAIL } from '../../runtime/status.js';
import { heldLine, heldUnits, leftovers, readyRecord } from '../../runtime/first-boot-records.js';
import { credentialsFile } from '../../runtime/sections/credentials.js';
import { readDroplet, renderDroplet, sq } from './render.js';
import { cleanupArgs, imageCheckArgs } from '../../runtime/script-args.js';

const b64Lines = (b64: string): string => (b64.match(/.{1,76}/g) ?? []).join('\n');
const heredoc = (b64: string): string => `<<'MPIMG_B64'\n${b64Lines(b64)}\nMPIMG_B64`;
const mode = (m: number): string => m.toString(8);
const sha = (s: string): string => createHash('sha256').update(Buffer.from(s, 'latin1')).digest('hex');
/** The exact JSON form of a path in installed.json (what the sh twin matches an earlier install by). */
const json = (p: string): string => sq(JSON.stringify(p));
// Until the journal has a place (the image's home folder), each step tries to give it one.
const FLUSH = '  mpimg_j_flush';

/** What `plan --json` prints: the node runtime's exact bytes. */
export const planJson = (plan: Plan): string =>
  `${JSON.stringify(
    plan.ops.map((op) => ({ ...op, content: undefined })),
    null,
    2,
  )}\n`;

/**
 * status lines for build.remove, picked on the target as forDistro does (runtime/sections/common.ts):
 * "all", then the list of its own slug when mpimg.json has one, else its family's.
 */
function removedStatus(removed: Plan['removed']): string[] {
  const line = (p: string) => `mpimg_st_removed ${sq(p)}`;
  if (!removed) return [];
  if (Array.isArray(removed)) return removed.map((p) => `  ${line(p)}`);
  const out = (removed.all ?? []).map((p) => `  ${line(p)}`);
  const slugs = Object.keys(removed).filter((k) => !['all', 'apt', 'dnf'].includes(k));
  const family = (f: 'apt' | 'dnf') => (removed[f] ?? []).map((p) => `if mpimg_for ${f}; then ${line(p)}; fi`);
  const byFamily = [...family('apt'), ...family('dnf')];
  if (slugs.length === 0) return [...out, ...byFamily.map((l) => `  ${l}`)];
  const list = (ls: string[]) => (ls.length ? ls.join('; ') : ':');
  return [
    ...out,
    '  case $(mpimg_root_slug) in',
    ...slugs.map((s) => `    ${sq(s)}) ${list((removed[s] ?? []).map(line))} ;;`),
    `    *) ${list(byFamily)} ;;`,
    '  esac',
  ];
}

/** Every path the plan lays a file, link or block at, for this family (mpimg_unplanned). */
const plannedLines = (plan: Plan): string =>
  plan.ops
    .filter((op) => op.kind !== 'dir')
    .map((op) => `  ${op.family ? `! mpimg_for ${op.family} || ` : ''}printf '%s\\n' ${sq(op.path)}`)
    .join('\n');

/** What status says of the units marked afterFirstBoot, and what uninstall names and leaves (mpimg_rm_left). */
function firstBootRecords(payload: Pick<Payload, 'plan' | 'manifest'>) {
  const { plan } = payload;
  const held = heldUnits(plan);
  return {
    heldUnits: held,
    ready: readyRecord(plan),
    heldHeld: heldLine(held, false, readyRecord(plan)),
    heldReleased: heldLine(held, true, readyRecord(plan)),
    leftoverBody: leftovers(plan, credentialsFile(payload.manifest))
      .map((l) => `  mpimg_rm_left ${l.op} ${sq(l.path)} ${sq(l.note)}`)
      .join('\n'),
  };
}

export function renderShInstaller(payload: Pick<Payload, 'plan' | 'generator' | 'scripts' | 'manifest'>): string {
  const { plan, generator: generatorVersion } = payload;
  const install: string[] = [];
  const uninstall: string[] = [];
  const status: string[] = [];
  for (const op of plan.ops) {
    // A family's own operation runs only there (the twin reads the target's os-release as the node runtime does).
    const only = op.family ? `mpimg_for ${op.family} && ` : '';
    const before = [install.length, uninstall.length, status.length];
    if (op.kind === 'dir') {
      install.push(`  mpimg_dir ${sq(op.path)} ${mode(op.mode)}`);
      status.push(`  mpimg_st ${sq(op.path)} dir ${mode(op.mode)} ''`);
    } else if (op.kind === 'file') {
      install.push(
        `  mpimg_file ${sq(op.path)} ${json(op.path)} ${mode(op.mode)} ${op.sha256} ${op.seed ? 1 : 0} ${heredoc(op.content)}`,
      );
      uninstall.unshift(`  mpimg_rm ${sq(op.path)} file ${op.sha256}`);
      status.push(`  mpimg_st ${sq(op.path)} file ${mode(op.mode)} ${op.sha256} ${op.seed ? 1 : 0}`);
    } else if (op.kind === 'link') {
      install.push(
        `  mpimg_link ${sq(op.path)} ${json(op.path)} ${sq(op.target)} ${sq(JSON.stringify(op.target).slice(1, -1))} ${op.seed ? 1 : 0}`,
      );
      uninstall.unshift(`  mpimg_rm ${sq(op.path)} link ${sq(op.target)}`);
      status.push(`  mpimg_st ${sq(op.path)} link - ${sq(op.target)} ${op.seed ? 1 : 0}`);
    } else {
      const text = Buffer.from(op.text, 'utf8').toString('base64');
      install.push(
        `  mpimg_block ${sq(op.path)} ${sq(op.id)} ${op.position} ${mode(op.createMode)} ${op.hook ?? '-'} ${heredoc(text)}`,
      );
      uninstall.unshift(`  mpimg_rm_block ${sq(op.path)} ${sq(op.id)}`);
      status.push(
        `  mpimg_st_block ${sq(op.path)} ${sq(op.id)} ${sha(Buffer.from(op.text, 'utf8').toString('latin1'))} ${op.hook ?? '-'}`,
      );
    }
    if (only) {
      for (let i = before[0]; i < install.length; i++) install[i] = install[i].replace(/^  /, `  ${only}`);
      if (uninstall.length > before[1]) uninstall[0] = uninstall[0].replace(/^  /, `  ${only}`);
      for (let i = before[2]; i < status.length; i++) status[i] = status[i].replace(/^  /, `  ${only}`);
    }
    install.push(FLUSH);
  }
  status.push(...removedStatus(plan.removed));
  const hook = plan.ops.find((o) => o.kind === 'block' && o.hook === 'first-login');
  return renderDroplet('installer.sh.ejs', {
    ...firstBootRecords(payload),
    plannedBody: plannedLines(plan),
    name: plan.name,
    slug: plan.slug,
    version: plan.version,
    generator: generatorVersion,
    blocks: readDroplet('blocks.sh'),
    home: plan.home,
    state: plan.state,
    legacyState: legacyToolDirs(plan.slug).state,
    hookPath: hook?.path ?? '',
    hookId: hook && hook.kind === 'block' ? hook.id : '',
    planJsonB64: b64Lines(Buffer.from(planJson(plan)).toString('base64')),
    cleanupB64: b64Lines(payload.scripts.cleanup),
    checkB64: b64Lines(payload.scripts.check),
    checkArgs: imageCheckArgs(payload.manifest, Buffer.from(payload.scripts.check, 'base64').toString('utf8'))
      .map(sq)
      .join(' '),
    cleanupArgs: cleanupArgs(payload.manifest, Buffer.from(payload.scripts.cleanup, 'base64').toString('utf8'))
      .map(sq)
      .join(' '),
    journal: journalFile(plan),
    backup: backupDir(plan),
    planLines: plan.ops.map((op) => `    ${sq(describeOp(op))}`).join(' \\\n'),
    opCountApt: plan.ops.filter((o) => o.family !== 'dnf').length,
    opCountDnf: plan.ops.filter((o) => o.family !== 'apt').length,
    installBody: install.join('\n'),
    uninstallBody: uninstall.join('\n') || '  :',
    statusBody: status.join('\n'),
    distroSlug: readDroplet('distro-slug.sh').trimEnd(),
    removedDetail: REMOVED_DETAIL,
  });
}
