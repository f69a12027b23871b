import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { Connection } from '../../tasks/ssh/connection.js';
import { killGroupCommand, killGroupScript, pgidLine } from '../../tasks/ssh/process-group.js';
import { getScript, putDirScript, putScript } from '../../tasks/ssh/transfer.js';
import { CLOUD_INIT_STATUS_SCRIPT } from '../../tasks/ssh/wait.js';
import { LineStream, TailBuffer } from '../../tasks/ssh/output.js';

// The shell the library sends to hosts: it must parse (sh -n), also with awkward paths, and be
// shellcheck-clean as POSIX sh. (shellcheck runs on ordinary paths: a path that really holds "$HOME"
// or quotes makes it warn about exactly the literal text we mean.)
const ODD = '/tmp/it\'s a "dir" $HOME `x`/-dash\nnl/';
const PLAIN = '/srv/my app/';

function check(name: string, build: (path: string) => string, excludes: string[] = []): void {
  const syntax = spawnSync('sh', ['-n'], { input: build(ODD), encoding: 'utf8' });
  expect(syntax.status, `${name}: sh -n\n${syntax.stderr}`).toBe(0);
  const script = build(PLAIN);
  const sc = spawnSync('shellcheck', ['-s', 'sh', ...(excludes.length ? ['-e', excludes.join(',')] : []), '-'], {
    input: script,
    encoding: 'utf8',
  });
  expect(sc.error, 'shellcheck must be installed (apt-get install shellcheck)').toBeUndefined();
  expect(sc.status, `${name}: shellcheck\n${sc.stdout}${sc.stderr}\n--- script:\n${script}`).toBe(0);
}

// SC2016 (no expansion in single quotes): these lines hand a script to another shell on purpose.
const NESTED = ['SC2016'];

describe('generated remote shell', () => {
  it('the transfer, kill, process-group and cloud-init scripts parse and are shellcheck-clean', () => {
    check('put', (p) => putScript(`${p}file`, '0644', 1234));
    check('get', (p) => getScript(`${p}file`));
    check('putDir', (p) => putDirScript(p));
    check('kill group', () => killGroupScript(4242));
    check('kill command', () => killGroupCommand(4242), NESTED);
    check('pgid line', () => `${pgidLine('0123456789abcdef')}\necho hi\n`);
    check('cloud-init status', () => CLOUD_INIT_STATUS_SCRIPT);
  });

  it('the command line a Connection sends, and the script inside it', () => {
    const c = new Connection({ host: '127.0.0.1', stdout: null, stderr: null });
    const wrap = (p: string) => c.wrap('echo "$HOME"', { cwd: p, env: { ODD_VALUE: p }, marker: '0123456789abcdef' });
    check('wrap', wrap, NESTED);
    // The inner script is the last word of the line: the one argument of /bin/sh -c.
    const inner = (p: string) =>
      spawnSync(
        'sh',
        ['-c', 'eval "set -- $1"; for a; do last=$a; done; printf %s "$last"', 'sh', wrap(p).replace(/^exec /, '')],
        { encoding: 'utf8' },
      ).stdout;
    expect(inner(ODD).startsWith('if [ -r /proc/$$/stat ]')).toBe(true);
    expect(inner(ODD)).toContain(`cd '/tmp/it'\\''s a "dir" $HOME \`x\`/-dash\nnl/' || exit 1\necho "$HOME"`);
    check('wrap inner', inner);
    expect(() => killGroupScript(1)).toThrow(/bad process group/);
    expect(() => killGroupScript(0)).toThrow(/bad process group/);
    expect(() => c.wrap('true', { marker: "x'; reboot; '" })).toThrow(/bad marker/);
  });
});

describe('LineStream', () => {
  it('keeps a UTF-8 character that arrives split across two chunks', () => {
    const sink = new PassThrough();
    let text = '';
    sink.on('data', (d) => {
      text += String(d);
    });
    const tail = new TailBuffer(5);
    const s = new LineStream(sink, () => '[p] ', tail);
    const bytes = Buffer.from('grüße €\n', 'utf8');
    // Split inside "ü" (2 bytes) and inside "€" (3 bytes).
    s.write(bytes.subarray(0, 3));
    s.write(bytes.subarray(3, 9));
    s.write(bytes.subarray(9));
    s.write(Buffer.from('end ✓', 'utf8').subarray(0, 5));
    s.write(Buffer.from('end ✓', 'utf8').subarray(5));
    s.flush();
    expect(tail.get()).toEqual(['grüße €', 'end ✓']);
    expect(text).toBe('[p] grüße €\n[p] end ✓\n');
  });
});
