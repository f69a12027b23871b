/**
 * owners: owner and group of the files/ paths of files.owners (after files/ is laid down). Their
 * "mode" is no chmod here: files/ is laid down with it (tasks/bundle/project.ts), so install, status
 * and first boot all agree on it.
 */
import { ROOT_ACCOUNTS, rootRunOf, rootRunPaths } from '../../runtime/policy.js';
import { globToRegExp } from '../bundle/glob.js';
import { heldBackTemplates } from '../bundle/held-back.js';
import type { Project } from '../bundle/project.js';
import { sq } from '../bundle/shell-word.js';
import { MpimgError } from '../../core/errors.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand, fragmentFile } from './types.js';

/**
 * $.files.owners resolved against what files/ lays down (files and links; folders come from
 * $.directories): the concrete droplet paths, in manifest order. A glob matching nothing is an error.
 */
export function ownedPaths(project: Project): Array<{ path: string; owner?: string; group?: string }> {
  const paths = [...project.files.map((f) => f.target), ...project.links.map((l) => l.path)].sort();
  // The modes the files are laid down with: a declared "mode" already replaced the one of files/.
  const modes = new Map(project.files.map((f) => [f.target, f.mode]));
  const rootRun = rootRunPaths(project.manifest.vendor, project.manifest.slug);
  const out: Array<{ path: string; owner?: string; group?: string }> = [];
  (project.manifest.files?.owners ?? []).forEach((o, i) => {
    if (!o.owner && !o.group && !o.mode)
      throw new MpimgError(`$.files.owners[${i}] names neither an owner, a group nor a mode`, {
        where: `$.files.owners[${i}]`,
        hint: 'give "owner", "group", "mode" (e.g. "0640") or several',
      });
    const re = globToRegExp(o.path);
    const hits = paths.filter((p) => re.test(p));
    if (hits.length === 0) {
      throw new MpimgError(
        `$.files.owners[${i}].path "${o.path}" matches nothing in ${project.manifest.files?.dir ?? 'files'}/`,
        {
          where: `$.files.owners[${i}].path`,
          hint: `use a droplet path of a file under ${project.manifest.files?.dir ?? 'files'}/ (* is one level, ** any depth, e.g. "/etc/app/**"); folders are owned through "directories"`,
        },
      );
    }
    // An entry of a mode only: the plan lays the files down with it (tasks/bundle/project.ts).
    if (!o.owner && !o.group) return;
    for (const p of hits) {
      // The policy on what the glob really matched: root's files stay root's (runtime/policy.ts).
      const r = rootRunOf(p, rootRun);
      if (r && o.owner && !ROOT_ACCOUNTS.includes(o.owner)) {
        throw new MpimgError(
          `$.files.owners[${i}] makes "${o.owner}" the owner of ${p}, in ${r}, where root runs code from`,
          {
            where: `$.files.owners[${i}].path`,
            hint: "narrow the glob to the app's own files, or leave those to root",
          },
        );
      }
      if (r && o.group && !ROOT_ACCOUNTS.includes(o.group) && (modes.get(p) ?? 0) & 0o020) {
        throw new MpimgError(
          `$.files.owners[${i}] gives group "${o.group}" write access to ${p}, in ${r}, where root runs code from`,
          {
            where: `$.files.owners[${i}].group`,
            hint: `take the group write bit off files${p}, or leave its group to root`,
          },
        );
      }
      out.push({ path: p, owner: o.owner, group: o.group });
    }
  });
  return out;
}

export default defineStep({
  name: 'owners',
  summary: 'set owner and group of the files/ paths of files.owners in mpimg.json',
  sections: ['$.files.owners'],
  buildScript: {
    help: 'owner and group of files/ paths (after files/ is laid down)',
    shell: fragmentFile('owners'),
    // A template that holds a secret is not at its path at build: first boot writes it there with its owner.
    data: (ctx) => {
      const held = heldBackTemplates(ctx.project);
      return {
        ownersBody:
          ownedPaths(ctx.project)
            .filter((o) => !held.has(o.path))
            .map((o) => `mpimg_owner ${[o.path, o.owner ?? '', o.group ?? ''].map(sq).join(' ')}`)
            .join('\n') || ':',
      };
    },
  },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.files?.owners?.length) return c.log('mpimg.json lists no files.owners');
    await runBuildScript(c, 'owners');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'owners')] }],
});
