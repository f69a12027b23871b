/**
 * The project's scripts checked with the tools that will run them: the interpreter its #! line names
 * parses it (`sh -n`, `bash -n`), before a customer's droplet finds out at first boot. shellcheck,
 * when installed, adds warnings with file:line (they do not stop a bundle).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Problem } from '../../runtime/manifest.js';

/** sh, dash, ash, bash, ... from `#!/bin/sh -e` or `#!/usr/bin/env bash`; undefined for other languages. */
export function shellOf(abs: string): 'sh' | 'bash' | undefined {
  const first = fs.readFileSync(abs).subarray(0, 256).toString('latin1').split('\n')[0];
  if (!first.startsWith('#!')) return undefined;
  const words = first.slice(2).trim().split(/\s+/);
  const prog = (words[0]?.endsWith('/env') ? words[1] : words[0])?.split('/').pop() ?? '';
  if (prog === 'bash') return 'bash';
  if (['sh', 'dash', 'ash', 'busybox'].includes(prog)) return 'sh';
  return undefined;
}

/** One problem per script its shell cannot parse, naming the line the shell names. */
export function syntaxProblems(scripts: Array<{ rel: string; abs: string }>, out: Problem[]): void {
  for (const s of scripts) {
    const shell = shellOf(s.abs);
    if (!shell) continue;
    const r = spawnSync(shell, ['-n', s.abs], { encoding: 'utf8', env: { PATH: process.env.PATH, LC_ALL: 'C' } });
    if (r.error) continue; // that shell is not on this machine: nothing to say
    if (r.status === 0) continue;
    const msg = r.stderr
      .split('\n')
      .map((l) => l.replace(`${s.abs}: `, '').trim())
      .filter(Boolean);
    // bash: "line 3: syntax error near ..."; dash: "3: Syntax error: ..."
    const line = /^(?:line )?(\d+):/.exec(msg[0] ?? '')?.[1];
    out.push({
      path: line ? `${s.rel}:${line}` : s.rel,
      message: `${shell} -n: ${msg.map((m) => m.replace(/^(?:line )?\d+: /, '')).join('; ') || 'syntax error'}`,
      hint: `fix the syntax (${shell} -n ${s.rel} shows it)`,
    });
  }
}

/** shellcheck's warnings and errors as "file:line:col: message [SCnnnn]", or [] when it is not installed. */
export function shellcheckWarnings(scripts: Array<{ rel: string; abs: string }>, cwd: string): string[] {
  const files = scripts.filter((s) => shellOf(s.abs));
  if (files.length === 0) return [];
  const r = spawnSync('shellcheck', ['-f', 'gcc', '-S', 'warning', '-x', ...files.map((f) => f.rel)], {
    cwd,
    encoding: 'utf8',
  });
  if (r.error) return [];
  return r.stdout.split('\n').filter(Boolean);
}
