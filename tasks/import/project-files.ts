/**
 * The new project's own files from what the import read: the build scripts with lines left to run
 * (numbered in template order, with a note of where they came from), the first-boot steps, motd.txt,
 * files/ (the template's tree less what moved, plus what build lines wrote) and the key files.
 */
import * as path from 'node:path';
import { DEFAULTS } from '../../runtime/manifest.js';
import type { ScriptResult } from './analyze.js';
import type { EntryReader, FilesTree, FirstBootScript } from './layout.js';
import type { ScriptInfo } from './script-inputs.js';
import type { ImportState } from './state.js';

export interface ProjectOutput {
  data: Buffer;
  mode: number;
  /** A symbolic link to this target instead of a file. */
  link?: string;
}

export interface ProjectFiles {
  files: Map<string, ProjectOutput>;
  /** The build scripts kept, in template order, with what is left of each. */
  kept: Array<[ScriptInfo, ScriptResult]>;
  /** Where each kept build script went in the project. */
  keptAs: Map<ScriptInfo, string>;
}

export function projectFiles(o: {
  results: Map<ScriptInfo, ScriptResult>;
  firstBoot: FirstBootScript[];
  fbResults: Map<FirstBootScript, ScriptResult>;
  motd?: { target: string; text: string };
  tree: FilesTree;
  read: EntryReader;
  state: ImportState;
}): ProjectFiles {
  const { state } = o;
  const files = new Map<string, ProjectOutput>();
  const kept = [...o.results.entries()].filter(([, r]) => r.keptText !== undefined);
  const keptAs = keptScripts(kept, files);
  for (const f of o.firstBoot) {
    const r = o.fbResults.get(f)!;
    let text =
      r.keptText ??
      `${f.text.split('\n')[0].startsWith('#!') ? f.text.split('\n')[0] : '#!/bin/sh'}\n# mpimg import: everything ${f.origin} did is done by mpimg.json now\n`;
    if (!text.startsWith('#!')) {
      text = `#!/bin/sh\n${text}`;
      state.info.push({
        where: f.origin,
        what: 'had no #! line: #!/bin/sh was added (cloud-init runs per-instance scripts directly)',
      });
    }
    files.set(f.rel, { data: Buffer.from(text), mode: 0o755 });
  }
  if (o.motd) files.set('motd.txt', { data: Buffer.from(`${o.motd.text.replace(/\n+$/, '')}\n`), mode: 0o644 });
  for (const [t, e] of o.tree) {
    if (state.moved.has(t)) continue;
    const got = o.read(e);
    if (!got) continue;
    files.set(`files${t}`, { data: got.data, mode: state.fileModes.get(t) ?? (got.mode & 0o7777 || 0o644) });
  }
  for (const [t, w] of state.writtenFiles) {
    files.set(
      `files${t}`,
      w.link !== undefined
        ? { data: Buffer.alloc(0), mode: 0o777, link: w.link }
        : { data: w.data!, mode: state.fileModes.get(t) ?? 0o644 },
    );
  }
  for (const [rel, data] of state.keyFiles) files.set(rel, { data, mode: 0o644 });
  return { files, kept, keptAs };
}

/** The kept build scripts into scripts/, each under a name of its own; where each went. */
function keptScripts(kept: Array<[ScriptInfo, ScriptResult]>, files: Map<string, ProjectOutput>) {
  const step = kept.length <= 8 ? 10 : Math.max(1, Math.floor(89 / kept.length));
  const usedNames = new Set<string>();
  const keptAs = new Map<ScriptInfo, string>();
  kept.forEach(([si, r], n) => {
    const rel = scriptName(si, String(Math.min(98, 10 + n * step)).padStart(2, '0'), usedNames);
    keptAs.set(si, rel);
    let text = r.keptText!;
    const note = `# mpimg import: from ${si.step.origin}; lines marked "mpimg import" moved into mpimg.json (see IMPORT.md)`;
    const env = si.header ? `# The environment the template gave this script:\n${si.header}\n` : '';
    const nl = text.indexOf('\n');
    text = `${text.slice(0, nl + 1)}${note}\n${env}${text.slice(nl + 1)}`;
    files.set(rel, { data: Buffer.from(text), mode: 0o755 });
  });
  return keptAs;
}

/** scripts/NN-stem.ext from the script's file name; never the package's own cleanup or check names. */
function scriptName(si: ScriptInfo, nn: string, usedNames: Set<string>): string {
  const fromFile = si.step.fileRel ? path.posix.basename(si.step.fileRel) : 'inline.sh';
  const ext =
    /\.(sh|bash)$/.exec(fromFile)?.[0] ??
    (/^#!.*\b(ba|da)?sh\b/.test(si.input.text) ? '.sh' : path.posix.extname(fromFile));
  let stem =
    fromFile
      .replace(/\.[A-Za-z0-9]+$/, '')
      .toLowerCase()
      .replace(/^[\d_.-]+/, '')
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[-_]+|[-_]+$/g, '')
      .slice(0, 40) || 'script';
  if (`${nn}-${stem}${ext}` === '90-cleanup.sh' || `${nn}-${stem}${ext}` === '99-img-check.sh') stem = `${stem}-steps`;
  let file = `${DEFAULTS.scriptsDir}/${nn}-${stem}${ext}`;
  for (let k = 2; usedNames.has(file); k++) file = `${DEFAULTS.scriptsDir}/${nn}-${stem}-${k}${ext}`;
  usedNames.add(file);
  return file;
}
