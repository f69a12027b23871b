// What the shell reader (shell.ts) makes of a script: units, command lists, pipelines, words,
// redirections and here-documents; and the error for text it cannot follow.

export interface Word {
  /** As written, quotes and all. */
  raw: string;
  /** With quotes and escapes removed; expansions ($x, $(...), `...`) are left as written. */
  text: string;
  /** No expansion at all: `text` is exactly what the shell would pass. */
  plain: boolean;
}

export interface HereDoc {
  delimiter: string;
  /** A quoted delimiter ('EOF'): the body is literal, nothing in it is expanded. */
  quoted: boolean;
  /** The body, lines joined with "\n" (leading tabs removed for <<-), without the delimiter line. */
  body: string;
}

export interface Redirect {
  /** '>', '>>', '<', '<<', '<<-', '<<<', '>&', '<&', '&>', '&>>', '>|', '<>' */
  op: string;
  fd?: string;
  target?: Word;
  heredoc?: HereDoc;
}

export interface SimpleCommand {
  /** Leading NAME=value words. */
  assigns: Word[];
  words: Word[];
  redirects: Redirect[];
}

export interface Pipeline {
  commands: SimpleCommand[];
  negated: boolean;
}

export interface CommandList {
  pipelines: Pipeline[];
  /** The operator after each pipeline but the last: '&&', '||', ';', '&'. */
  ops: string[];
  /** Ends with '&'. */
  background: boolean;
}

export interface Unit {
  /** First and last physical line (1-based, inclusive). */
  start: number;
  end: number;
  kind: 'blank' | 'comment' | 'command' | 'compound';
  /** The unit's lines exactly as written (no final newline). */
  text: string;
  /** For 'command': the parsed list. */
  list?: CommandList;
}

export class ShellReadError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}
