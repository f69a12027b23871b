'use strict';
// Acme Web App: a small HTTP service on 127.0.0.1:3000; nginx on port 80 is in front of it.
// Node's own modules only, so the image needs no `npm install`.
// Settings: /etc/webapp/settings.json (the image's), /etc/webapp/webapp.env (this droplet's,
// written at first boot and passed in by systemd as environment).
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
const VERSION = process.env.APP_VERSION || 'unknown';
const PUBLIC_URL = process.env.PUBLIC_URL || '';
const SECRET = process.env.SESSION_SECRET || '';
const DATA_DIR = process.env.STATE_DIRECTORY || '/var/lib/webapp';
const SETTINGS_FILE = process.env.SETTINGS_FILE || '/etc/webapp/settings.json';

// A secret shared by every droplet of the image would let one customer forge another's cookies:
// refuse to run without this droplet's own (the first boot makes it).
if (SECRET.length < 32) {
  console.error('SESSION_SECRET is missing or shorter than 32 characters (see /etc/webapp/webapp.env)');
  process.exit(78); // EX_CONFIG: systemd shows the unit as failed with this status
}

const settings = JSON.parse(fs.readFileSync(SETTINGS_FILE, 'utf8'));
const greeting = String(settings.greeting || 'Hello!');
const counterFile = path.join(DATA_DIR, 'visits');

/** Counts page views in the data directory (written as this service's user). */
function countVisit() {
  let n = 0;
  try {
    n = Number(fs.readFileSync(counterFile, 'utf8')) || 0;
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  n += 1;
  const tmp = `${counterFile}.tmp`;
  fs.writeFileSync(tmp, `${n}\n`);
  fs.renameSync(tmp, counterFile);
  return n;
}

const sign = (id) => crypto.createHmac('sha256', SECRET).update(id).digest('base64url');

/** The visitor's id from a signed cookie, or a new one. */
function visitor(req) {
  const m = /(?:^|;\s*)visitor=([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)/.exec(req.headers.cookie || '');
  if (m) {
    const want = Buffer.from(sign(m[1]));
    const got = Buffer.from(m[2]);
    if (want.length === got.length && crypto.timingSafeEqual(want, got)) return { id: m[1], known: true };
  }
  return { id: crypto.randomBytes(9).toString('base64url'), known: false };
}

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(req, res) {
  const v = visitor(req);
  const visits = countVisit();
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Set-Cookie': `visitor=${v.id}.${sign(v.id)}; HttpOnly; SameSite=Lax; Path=/`,
  });
  res.end(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme Web App</title></head>
<body>
  <h1>${escapeHtml(greeting)}</h1>
  <p>Acme Web App ${escapeHtml(VERSION)} answers through nginx${PUBLIC_URL ? ` at <a href="${escapeHtml(PUBLIC_URL)}">${escapeHtml(PUBLIC_URL)}</a>` : ''}.</p>
  <p>${v.known ? 'Welcome back.' : 'Hello, new visitor.'} Page views so far: ${visits}.</p>
  <p>Edit <code>/opt/webapp/server.js</code>, then <code>systemctl restart webapp</code>.</p>
</body>
</html>
`);
}

function health(res) {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(`${JSON.stringify({ status: 'ok', version: VERSION, user: os.userInfo().username })}\n`);
}

const server = http.createServer((req, res) => {
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' });
      return res.end();
    }
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/') return page(req, res);
    if (url.pathname === '/healthz') return health(res);
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  } catch (e) {
    console.error(e);
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('internal error\n');
  }
});

server.listen(PORT, HOST, () => {
  console.log(`Acme Web App ${VERSION} listening on http://${HOST}:${PORT}/`);
});

// systemd stops the service with SIGTERM: finish the requests in flight, then exit.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
