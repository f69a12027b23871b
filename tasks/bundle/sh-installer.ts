/**
 * Plan → POSIX-sh installer: the twin of the node executor for droplets without Node.
 * Each operation becomes one function call; file bytes travel as base64 here-documents.
 */
import { createHash } from 'node:crypto';
import { createdDirsFile, describeOp, type Plan } from '../../runtime/plan.js';
import { readDroplet, renderDroplet, sq } from './render.js';

const b64Lines = (b64: string): string => (b64.match(/.{1,76}/g) ?? []).join('\n');
const heredoc = (b64: string): string => `<<'MPIMG_B64'\n${b64Lines(b64)}\nMPIMG_B64`;
const mode = (m: number): string => m.toString(8);
const sha = (s: string): string => createHash('sha256').update(Buffer.from(s, 'latin1')).digest('hex');

export function renderShInstaller(plan: Plan, generatorVersion: string): string {
  const install: string[] = [];
  const uninstall: string[] = [];
  const status: string[] = [];
  for (const op of plan.ops) {
    if (op.kind === 'dir') {
      install.push(`  mpimg_dir ${sq(op.path)} ${mode(op.mode)}`);
      status.push(`  mpimg_st_file ${sq(op.path)} ${mode(op.mode)} ''`);
    } else if (op.kind === 'file') {
      install.push(`  mpimg_file ${sq(op.path)} ${mode(op.mode)} ${op.sha256} ${heredoc(op.content)}`);
      uninstall.unshift(`  mpimg_rm_file ${sq(op.path)}`);
      status.push(`  mpimg_st_file ${sq(op.path)} ${mode(op.mode)} ${op.sha256}`);
    } else {
      const text = Buffer.from(op.text, 'utf8').toString('base64');
      install.push(`  mpimg_block ${sq(op.path)} ${sq(op.id)} ${op.position} ${mode(op.createMode)} ${heredoc(text)}`);
      uninstall.unshift(`  mpimg_rm_block ${sq(op.path)} ${sq(op.id)}`);
      status.push(`  mpimg_st_block ${sq(op.path)} ${sq(op.id)} ${sha(Buffer.from(op.text, 'utf8').toString('latin1'))}`);
    }
  }
  return renderDroplet('installer.sh.ejs', {
    name: plan.name,
    slug: plan.slug,
    version: plan.version,
    generator: generatorVersion,
    blocks: readDroplet('blocks.sh'),
    createdDirs: createdDirsFile(plan),
    planText: plan.ops.map(describeOp).join('\n'),
    opCount: plan.ops.length,
    installBody: install.join('\n'),
    uninstallBody: uninstall.join('\n') || '  :',
    statusBody: status.join('\n'),
  });
}
