/**
 * A folder served over HTTP on 127.0.0.1 (a free port) by a node http server in a CHILD process:
 * tests that run tools with spawnSync (which blocks this process's event loop) can still fetch
 * from it. Paths are confined to the folder; only GET and HEAD.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const SERVER = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
const root = fs.realpathSync(process.argv[1]);
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const file = path.join(root, path.normalize(rel));
  if ((req.method !== 'GET' && req.method !== 'HEAD') || (file !== root && !file.startsWith(root + path.sep))) { res.statusCode = 403; return res.end(); }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) { res.statusCode = 404; return res.end('not found\\n'); }
    res.setHeader('content-length', st.size);
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).pipe(res);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export interface Served {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  close(): Promise<void>;
}

export function serveDir(dir: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    // stdin is a pipe: when this process ends, the server ends with it.
    const child: ChildProcess = spawn(process.execPath, ['-e', SERVER, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the test http server stopped (exit ${code})`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (!m) return;
      child.removeAllListeners('exit');
      resolve({
        url: `http://127.0.0.1:${m[1]}`,
        close: () =>
          new Promise<void>((res) => {
            if (child.exitCode !== null) return res();
            child.once('exit', () => res());
            child.stdin!.end();
          }),
      });
    });
  });
}
