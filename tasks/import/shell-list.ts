// A unit's tokens as a plain command list (pipelines of simple commands with their words, assignments
// and redirections), for the recognizers; anything with blocks or subshells is left as a compound unit.
import { REDIRECT_OPS, type Token } from './shell-lexer.js';
import type { CommandList, Pipeline, Redirect, SimpleCommand } from './shell-syntax.js';

/** Words that open or close a block: a list holding one is not plain. */
const RESERVED = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'for',
  'while',
  'until',
  'do',
  'done',
  'case',
  'esac',
  '{',
  '}',
  'function',
  '[[',
]);

/** A plain list of simple commands (no blocks, subshells or functions), or undefined. */
export function parseList(tokens: Token[]): CommandList | undefined {
  const list: CommandList = { pipelines: [], ops: [], background: false };
  let pipeline: Pipeline = { commands: [], negated: false };
  let cmd: SimpleCommand = { assigns: [], words: [], redirects: [] };
  const endCommand = () => {
    if (cmd.words.length || cmd.assigns.length || cmd.redirects.length) pipeline.commands.push(cmd);
    else if (pipeline.commands.length || pipeline.negated) return false;
    cmd = { assigns: [], words: [], redirects: [] };
    return true;
  };
  const endPipeline = () => {
    if (!endCommand() && pipeline.commands.length === 0) return false;
    if (pipeline.commands.length) list.pipelines.push(pipeline);
    pipeline = { commands: [], negated: false };
    return true;
  };
  let fd: string | undefined;
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k];
    if (tok.t === 'nl') continue;
    if (tok.t === 'op') {
      if (tok.op === '(' || tok.op === ')' || tok.op.startsWith(';;') || tok.op === ';&') return undefined;
      if (REDIRECT_OPS.has(tok.op)) {
        const next = tokens[k + 1];
        if (!next || next.t !== 'word') return undefined;
        const heredoc = (next as { heredoc?: Redirect }).heredoc;
        cmd.redirects.push(heredoc ? { ...heredoc, fd } : { op: tok.op, fd, target: next.word });
        fd = undefined;
        k++;
        continue;
      }
      if (tok.op === '|' || tok.op === '|&') {
        endCommand();
        continue;
      }
      endPipeline();
      if (tok.op === '&' && k === tokens.length - 1) list.background = true;
      list.ops.push(tok.op);
      continue;
    }
    if (tok.fdPrefix) {
      fd = tok.word.raw;
      continue;
    }
    const w = tok.word;
    if (cmd.words.length === 0 && w.raw === '!' && pipeline.commands.length === 0) {
      pipeline.negated = true;
      continue;
    }
    if (cmd.words.length === 0 && /^[A-Za-z_][A-Za-z0-9_]*\+?=/.test(w.raw)) cmd.assigns.push(w);
    else {
      if (cmd.words.length === 0 && RESERVED.has(w.raw)) return undefined;
      cmd.words.push(w);
    }
  }
  endPipeline();
  // a trailing ';' or '&' leaves one operator more than there are gaps
  if (list.ops.length === list.pipelines.length) list.ops.pop();
  return list.pipelines.length ? list : undefined;
}
