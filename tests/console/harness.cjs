// SPDX-License-Identifier: MIT
// What a console test in a real browser needs: a sluiced of its own, bounded
// waits, pages that collect their errors, screenshots. Every wait is bounded.
'use strict';

const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const SRC = process.env.SLUICE_SRCDIR;
const BUILD = process.env.SLUICE_BUILDDIR;
const CHROMIUM = process.env.SLUICE_CHROMIUM || '/usr/bin/chromium';
const MODULES = process.env.SLUICE_CONSOLE_NODE_MODULES || path.join(SRC, 'tests', 'console', 'node_modules');
const OUT = path.join(BUILD, 'tests', 'console-out');
const WAIT_MS = 15000;

const children = [];
const tmpdirs = [];

function logger(name) {
  return (msg) => process.stdout.write(name + ': ' + msg + '\n');
}

function assert(cond, what) {
  if (!cond)
    throw new Error('assertion failed: ' + what);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Polls fn until it returns a truthy value, for at most ms.
async function until(fn, what, ms = WAIT_MS) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v)
        return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error('timed out after ' + ms + ' ms waiting for ' + what + (last ? ' (' + last.message + ')' : ''));
    await sleep(100);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port;
      srv.close(() => resolve(port));
    });
  });
}

function cleanup() {
  for (const c of children)
    if (c.exitCode === null && c.signalCode === null)
      try { c.kill('SIGKILL'); } catch (e) { /* gone */ }
  for (const d of tmpdirs)
    try { fs.rmSync(d, { recursive: true, force: true }); } catch (e) { /* left for the OS */ }
}

class Daemon {
  // extraConf: sluice.conf lines; plugins: names of built plugins to load
  // (left out, with a note, when not built).
  async start(name, extraConf, plugins) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-console-' + name + '-'));
    tmpdirs.push(dir);
    const state = path.join(dir, 'state');
    fs.mkdirSync(state);
    let conf = 'console_dir = ' + JSON.stringify(path.join(SRC, 'console')) + '\n' + (extraConf || '');
    const loaded = [];
    for (const p of plugins || []) {
      const so = path.join(BUILD, 'plugins', p, '.libs', p + '.so');
      if (!fs.existsSync(so))
        continue;
      loaded.push('{ name = "' + p + '", path = ' + JSON.stringify(so) +
        (p === 'keyword' ? ', lists = ' + JSON.stringify(path.join(SRC, 'policies', 'keywords')) : '') + ' }');
    }
    if (loaded.length)
      conf += 'plugins = { ' + loaded.join(', ') + ' }\n';
    this.plugins = loaded.length;
    fs.writeFileSync(path.join(dir, 'sluice.conf'), conf);
    const port = await freePort();
    fs.mkdirSync(OUT, { recursive: true });
    const logFile = path.join(OUT, 'sluiced-' + name + '.log');
    const fd = fs.openSync(logFile, 'w');
    const proc = spawn(path.join(BUILD, 'core', 'sluiced'),
      ['-c', path.join(dir, 'sluice.conf'), '--listen', '127.0.0.1:' + port, '--state', state,
        '--policies', path.join(SRC, 'policies')],
      { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    children.push(proc);
    this.proc = proc;
    this.base = 'http://127.0.0.1:' + port;
    await until(async () => {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error('sluiced exited (' + (proc.exitCode ?? proc.signalCode) + '); see ' + logFile);
      return (await fetch(this.base + '/healthz')).ok;
    }, 'sluiced ' + name + ' to answer /healthz');
    this.admin = fs.readFileSync(path.join(state, 'admin.token'), 'utf8').trim();
    return this;
  }

  async call(token, method, route, body) {
    const headers = { Authorization: 'Bearer ' + token };
    if (body !== undefined)
      headers['Content-Type'] = 'application/json';
    const r = await fetch(this.base + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, data: await r.json().catch(() => null) };
  }

  async ok(token, method, route, body) {
    const r = await this.call(token, method, route, body);
    if (r.status < 200 || r.status > 299)
      throw new Error(method + ' ' + route + ' answered ' + r.status + ' ' + JSON.stringify(r.data));
    return r.data;
  }

  async token(name, role) {
    return (await this.ok(this.admin, 'POST', '/v1/tokens', { name, role })).token;
  }

  async stop() {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null)
      return;
    p.kill('SIGTERM');
    await until(() => p.exitCode !== null || p.signalCode !== null, 'sluiced to stop', 10000)
      .catch(() => p.kill('SIGKILL'));
  }
}

async function launch() {
  const { chromium } = require(path.join(MODULES, 'playwright-core'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-console-chromium-'));
  tmpdirs.push(profile);
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    timeout: 60000,
  });
}

// A page that keeps its script errors and CSP refusals, for the test to fail on.
async function newPage(ctx) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Uncaught/.test(m.text()))
      page.errors.push('console: ' + m.text());
  });
  return page;
}

let step = 0;
async function shot(page, prefix, name, log) {
  const file = path.join(OUT, prefix + '-' + String(++step).padStart(2, '0') + '-' + name + '.png');
  await page.screenshot({ path: file });
  log('  screenshot ' + path.relative(BUILD, file));
}

async function signIn(page, token) {
  await page.fill('#login-token', token);
  await page.press('#login-token', 'Enter');
  await page.waitForSelector('#shell:not([hidden])');
}

module.exports = { OUT, BUILD, WAIT_MS, logger, assert, sleep, until, cleanup, Daemon, launch, newPage, shot, signIn };
