import { describe, expect, it } from 'vitest';
import { argv, commandsOf, readShell, shellLines, ShellReadError } from '../../tasks/import/shell.js';

const kinds = (text: string) => readShell(text).map((u) => [u.start, u.end, u.kind]);

describe('reading a shell script as units (never running it)', () => {
  it('covers every line exactly once: commands, blocks, comments and blank lines, with their line spans', () => {
    const text = [
      '#!/bin/bash', // 1
      'set -e', // 2
      '', // 3
      'cat > /etc/x <<EOF', // 4
      'a $HOME', // 5
      'EOF', // 6
      'if [ -f /x ]; then', // 7
      '  echo yes', // 8
      'fi', // 9
      'ln -s a \\', // 10
      '   b', // 11
      'f() { echo "}"; }', // 12
      'case $1 in', // 13
      '  a) echo a ;;', // 14
      '  *) echo "esac" ;;', // 15
      'esac', // 16
      'apt-get update &&', // 17
      '  apt-get install -y nginx # tail comment', // 18
      'function g {', // 19
      '  (cd /tmp; ls)', // 20
      '}', // 21
    ].join('\n');
    const units = readShell(`${text}\n`);
    expect(units.map((u) => [u.start, u.end, u.kind])).toEqual([
      [1, 1, 'comment'],
      [2, 2, 'command'],
      [3, 3, 'blank'],
      [4, 6, 'command'],
      [7, 9, 'compound'],
      [10, 11, 'command'],
      [12, 12, 'compound'],
      [13, 16, 'compound'],
      [17, 18, 'command'],
      [19, 21, 'compound'],
    ]);
    expect(units.map((u) => u.text).join('\n')).toBe(text);
    const heredoc = commandsOf(units[3])[0].redirects.find((r) => r.heredoc)!;
    expect(heredoc.heredoc).toEqual({ delimiter: 'EOF', quoted: false, body: 'a $HOME' });
    expect(commandsOf(units[8]).map((c) => argv(c).map((w) => w.text))).toEqual([
      ['apt-get', 'update'],
      ['apt-get', 'install', '-y', 'nginx'],
    ]);
    expect(shellLines(units[3])).toBe(3);
    expect(shellLines(units[0])).toBe(0);
  });

  it('takes quotes, $(...) and backquotes as parts of one word, and marks words with expansions', () => {
    const [u] = readShell(`sudo DEBIAN_FRONTEND=x echo 'a b' "c $(echo "d e") f" \`g\` ~/x plain\n`);
    const w = commandsOf(u)[0].words;
    expect(w.map((x) => x.text)).toEqual([
      'sudo',
      'DEBIAN_FRONTEND=x',
      'echo',
      'a b',
      'c $(echo "d e") f',
      '`g`',
      '~/x',
      'plain',
    ]);
    expect(w.map((x) => x.plain)).toEqual([true, true, true, true, false, false, false, true]);
    expect(argv(commandsOf(u)[0]).map((x) => x.text)).toEqual([
      'echo',
      'a b',
      'c $(echo "d e") f',
      '`g`',
      '~/x',
      'plain',
    ]);
  });

  it('reads <<-, quoted delimiters and two here-documents on one line', () => {
    const units = readShell("cat <<-'A' > x; cat <<B\n\tone $x\n\tA\ntwo\nB\necho after\n");
    expect(units.map((u) => [u.start, u.end])).toEqual([
      [1, 5],
      [6, 6],
    ]);
    const [a, b] = commandsOf(units[0]).map((c) => c.redirects.find((r) => r.heredoc)!.heredoc!);
    expect(a).toEqual({ delimiter: 'A', quoted: true, body: 'one $x' });
    expect(b).toEqual({ delimiter: 'B', quoted: false, body: 'two' });
  });

  it('refuses text a parser cannot follow, naming the line', () => {
    for (const [text, line, msg] of [
      ["echo 'open\n", 1, /single quote/],
      ['cat <<EOF\nno end\n', 3, /never ended/],
      ['if true; then\n  echo x\n', 2, /never closed/],
      ['echo x\n}\n', 2, /closes nothing/],
    ] as const) {
      let err: unknown;
      try {
        readShell(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(ShellReadError);
      expect((err as ShellReadError).message).toMatch(msg);
      expect((err as ShellReadError).line).toBe(line);
    }
  });

  it('keeps CRLF scripts readable and a missing final newline', () => {
    expect(kinds('echo a\r\necho b')).toEqual([
      [1, 1, 'command'],
      [2, 2, 'command'],
    ]);
  });
});
