// SPDX-License-Identifier: MIT
// The console in a real browser: sign in, claim, decide by keyboard, expired
// leases and stale claims, statistics; screenshots of each step.
//
// Run by browser.test, which checks that Chromium and playwright-core exist.
// Two daemons: one with the default lease for the decisions, one with a
// 5-second lease for the expiry scenarios. Every wait is bounded.
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
const WATCHDOG_MS = 240000;       // the whole test

const { chromium } = require(path.join(MODULES, 'playwright-core'));
// The bounded waits (WAIT_MS for any single wait) shared with the other console tests.
const { WAIT_MS, assert, sleep, until } = require('./harness.cjs');

const children = [];
const tmpdirs = [];
let browser = null;
let step = 0;
let failures = 0;

// {================ Plumbing ================

function log(msg) {
  process.stdout.write('browser.test: ' + msg + '\n');
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

function luaString(s) {
  return JSON.stringify(s);   // a JSON string with no \u escapes reads the same in Lua
}

function cleanup() {
  for (const c of children)
    if (c.exitCode === null && c.signalCode === null)
      try { c.kill('SIGKILL'); } catch (e) { /* gone */ }
  for (const d of tmpdirs)
    try { fs.rmSync(d, { recursive: true, force: true }); } catch (e) { /* left for the OS */ }
}

process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => { log('stopped by ' + sig); cleanup(); process.exit(1); });

const watchdog = setTimeout(() => {
  log('FAIL: the whole test took longer than ' + WATCHDOG_MS / 1000 + ' s');
  cleanup();
  process.exit(1);
}, WATCHDOG_MS);

// }========================================

// {================ The daemon ================

class Daemon {
  constructor(name, extraConf) {
    this.name = name;
    this.extraConf = extraConf;
  }

  async start(withPlugin) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-console-' + this.name + '-'));
    tmpdirs.push(dir);
    const state = path.join(dir, 'state');
    fs.mkdirSync(state);
    let conf = 'console_dir = ' + luaString(path.join(SRC, 'console')) + '\n' + this.extraConf;
    const so = path.join(BUILD, 'plugins', 'keyword', '.libs', 'keyword.so');
    if (withPlugin)
      conf += 'plugins_dir = ' + luaString(path.dirname(so)) + '\n' +
        'plugins = { { name = "keyword", lists = ' + luaString(path.join(SRC, 'policies', 'keywords')) + ' } }\n';
    fs.writeFileSync(path.join(dir, 'sluice.conf'), conf);
    const port = await freePort();
    const logFile = path.join(OUT, 'sluiced-' + this.name + '.log');
    const fd = fs.openSync(logFile, 'w');
    const proc = spawn(path.join(BUILD, 'core', 'sluiced'),
      ['-c', path.join(dir, 'sluice.conf'), '--listen', '127.0.0.1:' + port, '--state', state,
        '--policies', path.join(SRC, 'policies')],
      { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    children.push(proc);
    this.proc = proc;
    this.base = 'http://127.0.0.1:' + port;
    this.plugin = withPlugin;
    await until(async () => {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error('sluiced exited (' + (proc.exitCode ?? proc.signalCode) + '); see ' + logFile);
      const r = await fetch(this.base + '/healthz');
      return r.ok;
    }, 'sluiced ' + this.name + ' to answer /healthz').catch((e) => {
      if (proc.exitCode === null)
        proc.kill('SIGKILL');
      throw e;
    });
    this.admin = fs.readFileSync(path.join(state, 'admin.token'), 'utf8').trim();
    return this;
  }

  // The keyword plugin makes the highlights visible, but the browser test is
  // about the console: without a loadable plugin it runs without one.
  static async launch(name, extraConf) {
    const so = path.join(BUILD, 'plugins', 'keyword', '.libs', 'keyword.so');
    const d = new Daemon(name, extraConf);
    if (fs.existsSync(so)) {
      try {
        return await d.start(true);
      } catch (e) {
        log('note: sluiced did not start with the keyword plugin (' + e.message + '); trying without');
      }
    }
    return d.start(false);
  }

  async call(token, method, route, body) {
    const headers = { Authorization: 'Bearer ' + token };
    if (body !== undefined)
      headers['Content-Type'] = 'application/json';
    const r = await fetch(this.base + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => null);
    return { status: r.status, data };
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

  async upload(u) {
    return this.ok(this.admin, 'POST', '/v1/uploads', u);
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

// }========================================

// {================ Browser helpers ================

const thumbnailSvg = (hue, label) =>
  '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="640" viewBox="0 0 360 640">' +
  '<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">' +
  '<stop offset="0" stop-color="hsl(' + hue + ',70%,72%)"/><stop offset="0.62" stop-color="hsl(' + (hue + 20) + ',60%,55%)"/>' +
  '<stop offset="0.62" stop-color="hsl(40,55%,72%)"/><stop offset="1" stop-color="hsl(35,50%,60%)"/></linearGradient></defs>' +
  '<rect width="360" height="640" fill="url(#g)"/><circle cx="270" cy="110" r="46" fill="hsl(48,95%,70%)"/>' +
  '<circle cx="140" cy="420" r="34" fill="hsl(20,45%,45%)"/><rect x="110" y="450" width="60" height="110" rx="24" fill="hsl(200,50%,40%)"/>' +
  '<text x="20" y="610" font-family="sans-serif" font-size="22" fill="#fff">' + label + '</text></svg>';

async function newPage(ctx, daemon) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Uncaught/.test(m.text()))
      page.errors.push('console: ' + m.text());
  });
  // A thumbnail host the configuration does not allow: the console must
  // never fetch from it (the CSP would block it too, as a page error).
  page.trackerHits = 0;
  await page.route('https://tracker.example.org/**', (route) => {
    page.trackerHits++;
    route.fulfill({ status: 200, contentType: 'image/svg+xml', body: thumbnailSvg(0, 'tracked') });
  });
  // Thumbnails come from a made-up CDN host, answered here: no network.
  await page.route('https://thumbs.example.test/**', (route) => {
    const name = path.basename(new URL(route.request().url()).pathname, '.svg');
    route.fulfill({ status: 200, contentType: 'image/svg+xml', body: thumbnailSvg(name.length * 37 % 360, name) });
  });
  page.daemon = daemon;
  return page;
}

async function shot(page, name, height) {
  const file = path.join(OUT, String(++step).padStart(2, '0') + '-' + name + '.png');
  // A page that scrolls inside its own panes is shot in a taller window.
  if (height)
    await page.setViewportSize({ width: 1440, height });
  await page.screenshot({ path: file });
  if (height)
    await page.setViewportSize({ width: 1440, height: 900 });
  log('  screenshot ' + path.relative(BUILD, file));
}

async function signIn(page, token) {
  await page.fill('#login-token', token);
  await page.press('#login-token', 'Enter');
  await page.waitForSelector('#shell:not([hidden])');
  await page.waitForSelector('#queues li.queue');
}

async function cardId(page) {
  await page.waitForSelector('#card');
  return page.getAttribute('#card', 'data-item');
}

async function bannerText(page) {
  await page.waitForSelector('#banner:not([hidden])');
  return page.textContent('#banner');
}

// }========================================

// {================ Scenarios ================

const scenarios = [];
function scenario(name, fn) {
  scenarios.push({ name, fn });
}

const W = {};   // what the scenarios share

scenario('the console is served at /console and /console/', async () => {
  const d = W.main;
  for (const p of ['/console', '/console/', '/console/app.js', '/console/style.css']) {
    const r = await fetch(d.base + p);
    assert(r.status === 200, p + ' answers 200 (got ' + r.status + ')');
  }
  const res = await fetch(d.base + '/console');
  const html = await res.text();
  assert(html.includes('/console/app.js'), 'index.html loads /console/app.js by absolute path');
  const csp = res.headers.get('content-security-policy') || '';
  assert(/frame-ancestors 'none'/.test(csp), 'the CSP header forbids framing: ' + csp);
  assert(/img-src 'self' data: https:\/\/thumbs\.example\.test;/.test(csp),
    'the CSP lets images come from the allowed thumbnail host only: ' + csp);
});

scenario('sign in: unknown and wrong-role tokens are refused in words, a moderator token works', async () => {
  const page = W.page;
  await page.goto(W.main.base + '/console');
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('#login-token', 'sl_not_a_token');
  await page.press('#login-token', 'Enter');
  await page.waitForSelector('#login-error:not([hidden])');
  assert(/does not know/.test(await page.textContent('#login-error')), 'an unknown token is named as such');
  await page.fill('#login-token', W.ingestToken);
  await page.click('#login-submit');
  await until(async () => /moderator/.test(await page.textContent('#login-error')), 'the wrong-role message');
  await shot(page, 'login-wrong-role');
  await signIn(page, W.alice);
  const stored = await page.evaluate(() => sessionStorage.getItem('sluice.token'));
  assert(stored === W.alice, 'the token is kept in session storage');
  const local = await page.evaluate(() => Object.keys(localStorage).length);
  assert(local === 0, 'nothing is written to local storage');
});

scenario('queues show depth and oldest age; ? shows the keys', async () => {
  const page = W.page;
  const names = await page.$$eval('#queues li.queue .q-name', (els) => els.map((e) => e.textContent));
  assert(names.includes('minors') && names.includes('nsfw'), 'queues minors and nsfw are listed: ' + names.join(','));
  const minors = await page.textContent('#queues li[data-queue="minors"]');
  assert(/2/.test(minors) && /oldest/.test(minors), 'minors shows depth 2 and its oldest age: ' + minors);
  const waiting = await page.$$eval('#waiting .w-item', (els) => els.map((e) => e.dataset.item));
  assert(waiting.includes('m1') && waiting.includes('s1'), 'waiting items are listed: ' + waiting.join(','));
  await shot(page, 'queues');
  await page.keyboard.press('?');
  await page.waitForSelector('#help:not([hidden])');
  assert(/Approve/.test(await page.textContent('#help')), 'the help lists the decision keys');
  await shot(page, 'help');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#help', { state: 'hidden' });
});

scenario('j selects a queue, c claims; the card shows what a moderator needs', async () => {
  const page = W.page;
  await page.keyboard.press('j');
  await page.waitForSelector('#queues li.selected[data-queue="minors"]');
  await page.keyboard.press('c');
  const id = await cardId(page);
  assert(id === 'm1', 'the most urgent, oldest minors item is claimed first (got ' + id + ')');
  const card = await page.textContent('#card');
  for (const want of ['Kids building a sandcastle', 'the tide is coming in', 'a child may be on screen',
    'age.child', 'policy', 'c-family', 'upload', 'claim'])
    assert(card.includes(want), 'the card shows "' + want + '"');
  const version = (await W.main.ok(W.admin, 'GET', '/v1/policies')).version;
  assert(card.includes(version), 'the card shows the policy version ' + version);
  await until(() => page.$eval('.thumb img', (img) => img.complete && img.naturalWidth > 0), 'the thumbnail to load');
  await page.waitForSelector('#lease:not([hidden])');
  assert(/lease \d+:\d\d/.test(await page.textContent('#lease')), 'the lease counts in m:ss');
  await until(async () => (await page.textContent('#me')) === 'alice', 'the moderator name from the claim');
  await shot(page, 'card-claimed');
});

scenario('a approves; the item leaves the queue and its audit trail names the moderator', async () => {
  const page = W.page;
  await page.keyboard.press('a');
  await page.waitForSelector('#done[data-item="m1"] .audit');
  const done = await page.textContent('#done');
  assert(/Approved/.test(done) && /approve/.test(done) && /alice/.test(done), 'the done panel shows the approve by alice');
  await until(async () => !(await page.$('#waiting .w-item[data-item="m1"]')), 'm1 to leave the waiting list');
  const q = await W.main.ok(W.alice, 'GET', '/v1/queue');
  assert(!q.items.some((it) => it.id === 'm1'), 'm1 is not in the queue any more');
  const audit = (await W.main.ok(W.alice, 'GET', '/v1/audit?item=m1')).records;
  assert(audit.some((r) => r.action === 'approve' && r.actor === 'token:alice'), 'the audit has the approve by token:alice');
  // Approved items go on to distribution, so any state after approval will do.
  const state = (await W.main.ok(W.alice, 'GET', '/v1/items/m1')).state;
  assert(['approved', 'distributing', 'settled'].includes(state), 'm1 is approved (state ' + state + ')');
  assert(await page.isVisible('#history .h-item[data-item="m1"]'), 'the decision is in this tab\'s history');
  await shot(page, 'approved-audit');
});

scenario('r rejects with a reason from the picker', async () => {
  const page = W.page;
  await page.keyboard.press('c');
  await until(async () => (await cardId(page)) === 'm2', 'm2 to be claimed');
  await until(async () => /tracker\.example\.org is not an allowed thumbnail host/
    .test(await page.textContent('.thumb')), 'the card to name the thumbnail host it does not load');
  assert(!(await page.$('.thumb img')), 'no image element for a thumbnail from a host not allowed');
  assert(page.trackerHits === 0, 'nothing was fetched from the host not allowed');
  await page.keyboard.press('r');
  await page.waitForSelector('#picker:not([hidden])');
  await page.keyboard.press('2');
  await page.waitForSelector('#picker-list li.picked[data-index="1"]');
  await page.keyboard.press('n');
  await page.keyboard.type('face of a young child, no adult in frame');
  await shot(page, 'reject-picker');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#done[data-item="m2"] .audit');
  const item = await W.main.ok(W.alice, 'GET', '/v1/items/m2');
  assert(item.state === 'rejected', 'm2 is rejected (state ' + item.state + ')');
  const rec = item.audit.find((r) => r.action === 'reject');
  assert(rec && rec.actor === 'token:alice' && rec.reason === 'Minor safety: face of a young child, no adult in frame',
    'the reject carries the picked reason and note: ' + JSON.stringify(rec));
  assert(/Minor safety/.test(await page.textContent('#done')), 'the done panel shows the reason');
});

scenario('"Other" needs a typed reason; Esc cancels without deciding', async () => {
  const page = W.page;
  // minors is empty now: back up to "All queues", then claim the most urgent.
  for (let i = 0; i < 6; i++)
    await page.keyboard.press('k');
  await page.waitForSelector('#queues li.queue-all.selected');
  await page.keyboard.press('c');
  await until(async () => (await cardId(page)) === 's1', 's1 to be claimed');
  await page.keyboard.press('r');
  await page.waitForSelector('#picker:not([hidden])');
  await page.keyboard.press('9');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#picker-error:not([hidden])');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#picker', { state: 'hidden' });
  assert((await W.main.ok(W.alice, 'GET', '/v1/items/s1')).state === 'in_review', 's1 is still in review');
});

scenario('keyword hits are highlighted; j/k move between sections', async () => {
  const page = W.page;
  const marks = await page.$$eval('#card .sec-content mark.kw, #card .sec-transcript mark.kw', (els) => els.map((e) => e.textContent.toLowerCase()));
  if (W.main.plugin) {
    assert(marks.includes('free money'), 'the title and text mark "free money": ' + marks.join('|'));
    const rows = await page.$$eval('#card table.matches tr.m-kw', (els) => els.map((e) => e.textContent));
    const fm = rows.find((r) => r.startsWith('free money'));
    assert(fm && /title/.test(fm) && /transcript/.test(fm) && /spam/.test(fm), 'the matches table has one row for "free money" with its fields: ' + rows.join('|'));
  } else {
    log('  note: no keyword plugin in this build; highlights not checked');
  }
  // The uploader's markup is shown as text, never run.
  assert((await page.textContent('#card .item-desc')).includes('<img src=x onerror=alert(1)>'), 'markup in a description shows as text');
  assert(!(await page.$('#card .item-desc img')), 'markup in a description makes no element');
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.waitForSelector('#card .sec-transcript.sec-focus');
  await page.keyboard.press('k');
  await page.waitForSelector('#card .sec-content.sec-focus');
  await shot(page, 'card-keywords');
});

scenario('e escalates with a reason; the item moves to the escalated queue', async () => {
  const page = W.page;
  await page.keyboard.press('e');
  await page.waitForSelector('#picker:not([hidden])');
  assert(/Escalate s1/.test(await page.textContent('#picker-title')), 'the picker says escalate');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#done[data-item="s1"]');
  const q = await W.main.ok(W.alice, 'GET', '/v1/queue');
  const s1 = q.items.find((it) => it.id === 's1');
  assert(s1 && s1.queue === 'escalated' && /^(token:)?alice$/.test(s1.escalated_by), 's1 waits in escalated: ' + JSON.stringify(s1));
  await until(async () => await page.$('#queues li[data-queue="escalated"]'), 'the escalated queue to show');
});

scenario('a reported item shows its waves and report card; a approves it back', async () => {
  const page = W.page;
  for (let i = 0; i < 8 && !(await page.$('#queues li.selected[data-queue="reports"]')); i++)
    await page.keyboard.press('j');
  await page.waitForSelector('#queues li.selected[data-queue="reports"]');
  await page.keyboard.press('c');
  await until(async () => (await cardId(page)) === 'p1', 'p1 to be claimed');
  await page.waitForSelector('#card .sec-waves');
  const waves = await page.textContent('#card .sec-waves');
  assert(/followers/.test(waves), 'the distribution section shows the followers wave: ' + waves);
  assert(await page.$('#card .sec-waves tr.w-reported'), 'the wave with reports is marked');
  const why = await page.textContent('#card .sec-why');
  assert(/3 reports/.test(why) && /reports, priority/.test(why), 'the reason names the reports and the queue: ' + why);
  // The report card: three reporters a feed served it to, weighing 1 each.
  const card = await page.textContent('#card .sec-reports h3');
  const rows = await page.$$eval('#card .sec-reports tbody tr',
    (trs) => trs.map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent, tr.cells[2].textContent]));
  assert(/3 pending, weighing 3/.test(card) && JSON.stringify(rows) ===
    JSON.stringify([['u1', 'yes', '1'], ['u2', 'yes', '1'], ['u3', 'yes', '1']]),
    'the report card lists the three served reporters and their weight: ' + card + ' ' + JSON.stringify(rows));
  await shot(page, 'card-reported');
  await page.keyboard.press('a');
  await page.waitForSelector('#done[data-item="p1"]');
  const state = (await W.main.ok(W.alice, 'GET', '/v1/items/p1')).state;
  assert(state !== 'in_review', 'p1 left review (state ' + state + ')');
});

scenario('stats page draws SVG charts from /v1/stats', async () => {
  const page = W.page;
  await page.keyboard.press('s');
  await page.waitForSelector('#chart-decisions svg.chart');
  const charts = await page.$$eval('#stats svg.chart', (els) => els.length);
  assert(charts >= 3, 'at least three charts (got ' + charts + ')');
  assert(/alice/.test(await page.textContent('#chart-moderators')), 'per-moderator throughput names alice');
  const bars = await page.$$eval('#chart-decisions rect.c-approve, #chart-decisions rect.c-reject, #chart-decisions rect.c-escalate', (els) => els.length);
  assert(bars >= 1, 'the decisions chart has bars for people\'s decisions');
  const stats = await W.main.ok(W.alice, 'GET', '/v1/stats');
  if (stats.funnel === undefined && stats.shares === undefined)
    assert(/No distribution data yet/.test(await page.textContent('#stats')), 'missing distribution data is said');
  else
    assert(await page.$('#chart-funnel') && await page.$('#chart-shares'), 'the distribution panels show');
  await shot(page, 'stats', 1300);
});

scenario('stats page draws the wave funnel, wave decisions and traffic shares', async () => {
  const page = W.page;
  // Figures of a busy day, in the shape /v1/stats gives them (docs/http-api.md),
  // with the keys out of order: the funnel must still read wave 1 to 8+.
  await page.route('**/v1/stats', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    body.funnel = { wave2: 5210, wave1: 9400, wave3: 2380, wave4: 910, wave5: 402, wave6: 150, wave7: 61, 'wave8+': 17 };
    body.decisions = { continue: 8150, stop: 1040, switch: 311, skip: 52, review: 26, error: 0 };
    body.shares = { private: 0.34, ordinary: 0.72, gini: 0.41, served: 182400, served_public: 120384 };
    route.fulfill({ response: res, json: body });
  });
  await page.keyboard.press('q');
  await page.keyboard.press('s');
  await until(async () => /9,400/.test(await page.textContent('#chart-funnel')), 'the funnel with the figures given');
  const labels = await page.$$eval('#chart-funnel svg.chart:first-of-type text.ax-label', (els) => els.map((e) => e.textContent));
  assert(labels.slice(0, 3).join(',') === 'wave 1,wave 2,wave 3' && labels[7] === 'wave 8+', 'the funnel is in wave order: ' + labels.join(','));
  const stages = await page.$$eval('#chart-funnel rect.c-funnel', (els) => els.length);
  assert(stages === 8, 'the funnel has a bar per wave (got ' + stages + ')');
  assert(/55\.4% of wave 1/.test(await page.textContent('#chart-funnel')), 'the funnel gives the share kept from the wave before');
  assert(/continue/.test(await page.textContent('#chart-funnel')), 'the wave decisions are drawn');
  const shares = await page.textContent('#chart-shares');
  assert(/34\.0%/.test(shares) && /72\.0%/.test(shares) && /0\.410/.test(shares) && /182,400/.test(shares), 'the shares chart shows private, ordinary, Gini and the traffic: ' + shares);
  await shot(page, 'stats-distribution', 1300);
  await page.unroute('**/v1/stats');
  await page.keyboard.press('q');
});

scenario('a lease that runs out is said plainly, and c claims again', async () => {
  const d = W.short;
  const page = await newPage(W.ctx, d);
  W.spage = page;
  await page.goto(d.base + '/console/');
  await page.waitForSelector('#login:not([hidden])');
  await signIn(page, W.salice);
  await page.keyboard.press('c');
  assert((await cardId(page)) === 'x1', 'x1 is claimed');
  // While the moderator is active the lease renews (5-second lease here).
  await page.waitForResponse((r) => r.url().endsWith('/v1/items/x1/renew') && r.status() === 200);
  // Then the renewals stop reaching sluiced, and the lease runs out.
  await page.route('**/renew', (route) => route.abort());
  const text = await until(async () => {
    const t = await page.textContent('#banner');
    return /Lease expired/.test(t) ? t : null;
  }, 'the lease-expired banner');
  assert(/went back to the queue/.test(text) && /nothing was decided/.test(text), 'the banner says what happened: ' + text);
  assert(await page.isDisabled('#act-approve'), 'approve is disabled on an expired claim');
  await page.keyboard.press('a');
  await page.waitForSelector('.toast-bad');
  assert(/expired/.test(await page.textContent('.toast-bad')), 'a decision key on an expired claim is answered in words');
  await until(async () => {
    const q = await d.ok(W.salice, 'GET', '/v1/queue');
    const x1 = q.items.find((it) => it.id === 'x1');
    return x1 && x1.claimed_by === null;
  }, 'x1 to be back in the queue on the server');
  assert((await d.ok(W.salice, 'GET', '/v1/items/x1')).state === 'in_review', 'nothing was decided');
  await shot(page, 'lease-expired');
  await page.unroute('**/renew');
  await page.keyboard.press('c');
  await until(async () => !(await page.isVisible('#banner')) && (await cardId(page)) === 'x1' &&
    !(await page.$('#card.card-dead')), 'x1 claimed again');
});

scenario('a decision refused with lease_expired shows the banner', async () => {
  const page = W.spage, d = W.short;
  // The client believes its renewals work; sluiced lets the lease run out.
  await page.route('**/renew', (route) => route.fulfill({ status: 200, contentType: 'application/json',
    body: JSON.stringify({ id: 'x1', fence: 0, lease_until_ms: Date.now() + 600000 }) }));
  await until(async () => {
    const q = await d.ok(W.salice, 'GET', '/v1/queue');
    const x1 = q.items.find((it) => it.id === 'x1');
    return x1 && x1.claimed_by === null;
  }, 'the lease to run out on the server');
  const answer = page.waitForResponse((r) => r.url().endsWith('/v1/items/x1/decision'));
  await page.keyboard.press('a');
  const res = await answer;
  assert(res.status() === 409, 'sluiced refuses the late decision with 409 (got ' + res.status() + ')');
  const text = await bannerText(page);
  assert(/Lease expired/.test(text) && /went back to the queue/.test(text) && /not recorded/.test(text),
    'the banner says the lease expired and the decision was not recorded: ' + text);
  assert((await d.ok(W.salice, 'GET', '/v1/items/x1')).state === 'in_review', 'nothing was decided');
  await shot(page, 'lease-expired-server');
});

scenario('a decision on a claim someone else took since is refused in words', async () => {
  const page = W.spage, d = W.short;
  await page.keyboard.press('c');
  await until(async () => (await cardId(page)) === 'x1' && !(await page.$('#card.card-dead')), 'x1 claimed again');
  await until(async () => {
    const q = await d.ok(W.salice, 'GET', '/v1/queue');
    const x1 = q.items.find((it) => it.id === 'x1');
    return x1 && x1.claimed_by === null;
  }, 'the lease to run out on the server');
  const bob = await d.ok(W.sbob, 'POST', '/v1/queue/claim', { queue: 'minors' });
  assert(bob.items.length === 1 && bob.items[0].id === 'x1', 'bob claims x1');
  await page.keyboard.press('a');
  const text = await bannerText(page);
  assert(/Not yours any more/.test(text) && /Nothing you did was recorded/.test(text), 'the banner says the claim is stale: ' + text);
  assert((await d.ok(W.salice, 'GET', '/v1/items/x1')).state === 'in_review', 'alice\'s approve was not recorded');
  await shot(page, 'stale-claim');
  await page.unroute('**/renew');
});

scenario('a decision from this tab reopens read-only from the history', async () => {
  const page = W.page;
  await page.click('#history .h-item[data-item="m1"] button');
  await until(async () => (await cardId(page)) === 'm1', 'm1 to open');
  assert(await page.isVisible('#card.card-readonly'), 'the card is read-only');
  assert(!(await page.$('#act-approve')), 'a read-only card has no decision buttons');
  const actions = await page.$$eval('#card .audit li', (els) => els.map((e) => e.dataset.action));
  assert(actions.includes('approve'), 'its audit trail has the approve: ' + actions.join(','));
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'readonly-dark');
  await page.emulateMedia({ colorScheme: 'light' });
});

scenario('signing out forgets the token', async () => {
  const page = W.page;
  await page.click('#logout');
  await page.waitForSelector('#login:not([hidden])');
  assert((await page.evaluate(() => sessionStorage.getItem('sluice.token'))) === null, 'the token is gone from session storage');
});

// }========================================

async function seed() {
  const d = W.main;
  W.alice = await d.token('alice', 'moderator');
  W.ingestToken = await d.token('feeder', 'ingest');
  W.admin = d.admin;
  await d.upload({ id: 'm1', creator: 'c-family', title: 'Kids building a sandcastle at the beach',
    description: 'Our weekend at the coast. #beach #family', transcript: 'Look, the tide is coming in! Quick, build the wall higher.',
    duration_ms: 31000, city: 'Lisbon', thumbnail: 'https://thumbs.example.test/m1.svg',
    tags: { vacation: 0.7 }, signals: { 'face.age': 8, 'face.confidence': 0.93, 'emotion.joy': 0.82,
      'emotion.surprise': 0.74, 'scene.beach': 0.91, 'music.bpm': 118 } });
  await d.upload({ id: 'm2', creator: 'c-unknown', title: 'playground day', signals: { 'face.age': 6 },
    thumbnail: 'https://tracker.example.org/m2.svg?who=moderator' });
  await d.upload({ id: 's1', creator: 'c-hustle', title: 'Get free money with this one trick',
    description: 'Work from home and earn 500 a day. Free money is real: click the link in my bio. <img src=x onerror=alert(1)>',
    transcript: 'Hey guys, today I show you how to get free money every day. It is not a scam, ' +
      'thousands of people already did it. Crypto giveaway for the first hundred: dm me for prices, ' +
      'and remember, click the link in my bio. '.repeat(2),
    duration_ms: 58000, signals: { 'nsfw.score': 0.62, 'expression.smile': 0.8, 'motion.speed': 0.7 },
    thumbnail: 'https://thumbs.example.test/s1.svg' });
  await d.upload({ id: 'n1', creator: 'c-dance', title: 'Late night rehearsal', signals: { 'nsfw.score': 0.55 } });
  // p1 is approved and shown to the creator's followers; three of them
  // report it, which sends it back to people in the "reports" queue.
  for (const u of ['u1', 'u2', 'u3', 'u4'])
    await d.ok(d.admin, 'PUT', '/v1/follows/' + u + '/c-cook');
  await d.upload({ id: 'p1', creator: 'c-cook', title: 'Ten-minute shakshuka',
    description: 'Eggs poached in spiced tomato sauce.', duration_ms: 42000, city: 'Porto',
    thumbnail: 'https://thumbs.example.test/p1.svg', tags: { cooking: 0.95 } });
  await until(async () => {
    const w = (await d.ok(d.admin, 'GET', '/v1/items/p1')).waves;
    return Array.isArray(w) && w.length && w[0].placed >= 4;
  }, 'p1\'s first wave to reach the followers');
  // Three of the four read it in their feeds (only reports from users it
  // was served to count) and reported it while the wave still runs.
  for (const u of ['u1', 'u2', 'u3']) {
    await d.ok(d.admin, 'GET', '/v1/feed/' + u + '?tab=follow&limit=100');
    await d.ok(d.admin, 'POST', '/v1/events', { item: 'p1', user: u, type: 'impression' });
    await d.ok(d.admin, 'POST', '/v1/events', { item: 'p1', user: u, type: 'report' });
  }
  await until(async () => (await d.ok(d.admin, 'GET', '/v1/queue?queue=reports')).items.some((it) => it.id === 'p1'),
    'the reported p1 to reach the reports queue').catch(async (e) => {
    const it = await d.ok(d.admin, 'GET', '/v1/items/p1');
    throw new Error(e.message + '; p1 is ' + JSON.stringify({ state: it.state, counters: it.counters, waves: it.waves }));
  });

  const s = W.short;
  W.salice = await s.token('alice', 'moderator');
  W.sbob = await s.token('bob', 'moderator');
  await s.upload({ id: 'x1', creator: 'c-family', title: 'Birthday party in the garden', signals: { 'face.age': 7 } });
  await s.upload({ id: 'x2', creator: 'c-dance', title: 'Studio session', signals: { 'nsfw.score': 0.55 } });
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of fs.readdirSync(OUT))
    if (/\.(png|log)$/.test(f))
      fs.rmSync(path.join(OUT, f));

  const thumbs = 'thumbnail_hosts = { "thumbs.example.test" }\n';
  W.main = await Daemon.launch('main', thumbs);
  W.short = await Daemon.launch('short', thumbs + 'claim_lease_seconds = 5\n');
  log('sluiced at ' + W.main.base + ' and ' + W.short.base + ' (5 s lease)' + (W.main.plugin ? ', keyword plugin loaded' : ''));
  await seed();

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-console-chromium-'));
  tmpdirs.push(profile);
  W.ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    timeout: 60000,
  });
  browser = W.ctx;
  W.page = await newPage(W.ctx, W.main);

  let n = 0;
  for (const sc of scenarios) {
    n++;
    try {
      await sc.fn();
      const errs = [...W.page.errors, ...(W.spage ? W.spage.errors : [])];
      if (errs.length)
        throw new Error(errs.join('; '));
      log('ok ' + n + ' - ' + sc.name);
    } catch (e) {
      failures++;
      sc.failed = true;
      log('not ok ' + n + ' - ' + sc.name + ': ' + e.message);
      for (const p of [W.page, W.spage])
        for (const err of (p ? p.errors : []))
          log('  in the page: ' + err);
      for (const p of [W.spage, W.page])
        if (p && !p.isClosed()) {
          await p.screenshot({ path: path.join(OUT, 'failure-' + n + (p === W.spage ? '-short' : '') + '.png') }).catch(() => {});
          p.errors.length = 0;
        }
      // The scenarios build on each other: after one fails, the rest would
      // only fail for the same reason, each after a full wait.
      break;
    }
  }
  await W.ctx.close();
  browser = null;
  await W.main.stop();
  await W.short.stop();
  const ran = failures ? scenarios.findIndex((sc) => sc.failed) + 1 : scenarios.length;
  log((ran - failures) + ' of ' + scenarios.length + ' scenarios passed' +
    (ran < scenarios.length ? ' (' + (scenarios.length - ran) + ' not run after the failure)' : '') +
    '; screenshots in ' + OUT);
}

main().then(() => {
  clearTimeout(watchdog);
  cleanup();
  process.exit(failures ? 1 : 0);
}, async (e) => {
  log('FAIL: ' + (e && e.stack ? e.stack : e));
  if (browser)
    await browser.close().catch(() => {});
  clearTimeout(watchdog);
  cleanup();
  process.exit(1);
});
