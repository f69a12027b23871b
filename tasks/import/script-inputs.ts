/**
 * The template's shell provisioners as the recognizers read them: each script's text with the
 * environment the template gave it (values known at import, and which of the new project's variables
 * they come from), and an inline provisioner's lines with the template's references put in as shell.
 */
import * as path from 'node:path';
import type { ScriptInput } from './analyze.js';
import { classifyDoScript } from './do-scripts.js';
import type { ScriptStep, Step } from './provisioners.js';
import type { PersonNote } from './state.js';
import type { Piece, Template, Text } from './template.js';
import { describe, hereDocAt, quoteState, SECRET_NAME, shq, type Variables } from './values.js';

/** One build script: its step, what the recognizers read, the `export` lines of its environment. */
export interface ScriptInfo {
  step: ScriptStep;
  input: ScriptInput;
  header: string;
  /** Set when it is one of DigitalOcean's cleanup or image check scripts (dropped, not read). */
  doScript?: ReturnType<typeof classifyDoScript>;
}

/** What turning template references into shell needs. */
export interface ShellContext {
  tmpl: Template;
  vars: Variables;
  resolve: (t: Text) => string | undefined;
  /** The new project's version (MPIMG_VERSION's value). */
  version: string;
  person: PersonNote[];
}

export function scriptInputs(steps: Step[], ctx: ShellContext): ScriptInfo[] {
  const out: ScriptInfo[] = [];
  for (const s of steps) {
    if (s.kind !== 'script') continue;
    const env = new Map<string, string | undefined>();
    const envVars = new Map<string, string>();
    const header: string[] = [];
    for (const e of s.env) {
      env.set(e.name, ctx.resolve(e.value));
      const only = e.value.filter((p) => !('lit' in p && p.lit === ''));
      const shell = only.map((p) => shellPiece(ctx, p, 'none', s.at)).filter((x) => x !== undefined);
      if (only.length === 1 && 'var' in only[0]) {
        const n = ctx.vars.forVar(only[0].var, s.at);
        if (n) envVars.set(e.name, n);
      }
      header.push(`export ${e.name}=${shell.join('') || "''"}`);
    }
    let text = s.text;
    if (!s.inline && !text.startsWith('#!')) {
      text = `#!/bin/sh\n${text}`;
      s.shebangAdded = true;
    }
    const doScript = s.fileRel ? classifyDoScript(s.text, path.posix.basename(s.fileRel)) : undefined;
    out.push({
      step: s,
      input: { role: 'build', origin: s.origin, text, env, envVars },
      header: header.join('\n'),
      doScript,
    });
  }
  // After every environment: the variables are met in the order the template's headers name them.
  for (const si of out) if (si.step.inline) si.input.text = inlineText(ctx, si, si.step.inline);
  return out;
}

/**
 * An inline provisioner's lines. They take variables unquoted (Packer pasted the text: `install
 * {{user \`apt_packages\`}}` splits). In a here-document whose delimiter is quoted the shell expands
 * nothing: the value Packer pasted there goes in as text (a `${NAME}` would be written to the file as
 * it stands).
 */
function inlineText(ctx: ShellContext, si: ScriptInfo, inline: NonNullable<ScriptStep['inline']>): string {
  let done = '';
  const lines = inline.body.map((t) => {
    let line = '';
    for (const p of t) {
      if ('lit' in p) line += p.lit;
      else if (hereDocAt(`${done}${line}`) === 'quoted') {
        const secret = 'var' in p && (ctx.tmpl.variables.get(p.var)?.sensitive || SECRET_NAME.test(p.var));
        const v = secret ? undefined : 'var' in p ? ctx.resolve([p]) : undefined;
        if (v !== undefined) line += v;
        else {
          line += shellPiece(ctx, p, 'double', si.step.origin, si.input.env) ?? '';
          if (!secret)
            ctx.person.push({
              where: si.step.origin,
              what: `${describe([p])} is inside a here-document with a quoted delimiter and has no value at import: the shell writes the text in its place as it stands; put the value in by hand`,
            });
        }
      } else {
        const q = quoteState(line);
        line += shellPiece(ctx, p, q === 'none' ? 'double' : q, si.step.origin, si.input.env) ?? '';
      }
    }
    done += `${line}\n`;
    return line;
  });
  return `#!${inline.shebang.replace(/^#!/, '')}\n${lines.join('\n')}\n`;
}

/**
 * One template reference as shell text in quoting state `q`: the new project's variable, or the raw
 * text with a note. With `env`, the variable's value is recorded there for the recognizers.
 */
function shellPiece(
  ctx: ShellContext,
  p: Piece,
  q: 'none' | 'single' | 'double',
  where: string,
  env?: Map<string, string | undefined>,
): string | undefined {
  const { vars } = ctx;
  if ('lit' in p) return q === 'none' ? shq(p.lit) : p.lit;
  let name: string | undefined;
  if ('var' in p) name = vars.forVar(p.var, where);
  else if ('env' in p) name = vars.forEnv(p.env, where);
  else if ('timestamp' in p) return q === 'single' ? `'"$(date +%s)"'` : '"$(date +%s)"';
  else {
    ctx.person.push({
      where,
      what: `the template expression ${p.other} cannot be evaluated at import: it was left as text`,
    });
    return q === 'none' ? shq(p.other) : p.other;
  }
  if (!name) return q === 'none' ? "''" : '';
  if (env)
    env.set(
      name,
      name === 'MPIMG_NAME'
        ? ctx.resolve([{ var: 'application_name' }])
        : name === 'MPIMG_VERSION'
          ? ctx.version
          : vars.used.get(name)?.value,
    );
  return q === 'single' ? `'"\${${name}}"'` : q === 'double' ? `\${${name}}` : `"\${${name}}"`;
}
