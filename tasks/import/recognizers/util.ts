/** Small helpers the recognizers share: looking at a unit's commands as argument lists. */
import { argv, type Pipeline, type SimpleCommand, type Unit, type Word } from '../shell.js';

/** The unit's pipelines when it is a plain list joined by && or ; (no ||, no background). */
export function plainPipelines(u: Unit): Pipeline[] | undefined {
  if (u.kind !== 'command' || !u.list || u.list.background) return undefined;
  if (u.list.ops.some((o) => o !== '&&' && o !== ';')) return undefined;
  return u.list.pipelines;
}

/** The unit's commands when it is a plain list of single commands (no pipes). */
export function plainCommands(u: Unit): SimpleCommand[] | undefined {
  const p = plainPipelines(u);
  if (!p || p.some((x) => x.commands.length !== 1 || x.negated)) return undefined;
  return p.map((x) => x.commands[0]);
}

/** Only harmless redirections: output to /dev/null, 2>&1. */
export function quietRedirects(c: SimpleCommand): boolean {
  return c.redirects.every(
    (r) =>
      ((r.op === '>' || r.op === '>>' || r.op === '&>') && r.target?.text === '/dev/null') ||
      (r.op === '>&' && r.target?.text === '1'),
  );
}

/** The words after the program (sudo/env stripped), as text; undefined when one holds an expansion. */
export function plainArgs(c: SimpleCommand): string[] | undefined {
  const w = argv(c);
  if (w.length === 0 || w.some((x) => !x.plain)) return undefined;
  return w.map((x) => x.text);
}

/** Basename of the program of a word list. */
export const prog = (w: Word[] | string[]): string => {
  const first = w[0];
  const t = typeof first === 'string' ? first : first?.text;
  return t ? (t.split('/').pop() ?? '') : '';
};

/** Assignments before a command only set DEBIAN_FRONTEND-like values: harmless to drop with it. */
export function onlyEnvAssigns(c: SimpleCommand): boolean {
  return c.assigns.every((a) =>
    /^(DEBIAN_FRONTEND|DEBCONF_NONINTERACTIVE_SEEN|NEEDRESTART_MODE|NEEDRESTART_SUSPEND|LC_ALL|LANG|LANGUAGE|TZ)=/.test(
      a.text,
    ),
  );
}

/** A comment line in place of an absorbed unit, indented as the unit was. */
export function comment(u: Unit, text: string): string {
  const indent = /^[ \t]*/.exec(u.text)![0];
  return `${indent}# mpimg import: ${text.replace(/\n/g, ' ')}`;
}
