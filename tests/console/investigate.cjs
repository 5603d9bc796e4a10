// SPDX-License-Identifier: MIT
// The console's investigation pages in a real browser, by keyboard: search
// (Latin and Chinese text, filters, j/k, opening an item), a bulk takedown
// with its dry run and a second moderator's confirmation, a creator's page
// reached from a search result and from a claimed item, suspending and
// restoring. Screenshots of each step; run by investigate.test.
'use strict';

const hr = require('./harness.cjs');
const { assert, until } = hr;

const log = hr.logger('investigate.test');
const WATCHDOG_MS = 180000;
const W = {};
let failures = 0;

const watchdog = setTimeout(() => {
  log('FAIL: the whole test took longer than ' + WATCHDOG_MS / 1000 + ' s');
  hr.cleanup();
  process.exit(1);
}, WATCHDOG_MS);
process.on('exit', hr.cleanup);

const shot = (page, name) => hr.shot(page, 'investigate', name, log);

async function rows(page) {
  return page.$$eval('#search-rows tr.sr', (els) => els.map((e) => e.dataset.item));
}

async function seed() {
  const d = W.d;
  W.alice = await d.token('alice', 'moderator');
  W.bob = await d.token('bob', 'moderator');
  const up = (u) => d.ok(d.admin, 'POST', '/v1/uploads', u);
  for (let i = 1; i <= 4; i++)
    await up({ id: 'w' + i, creator: 'wave', title: 'Crypto bonus number ' + i, description: 'limited offer' });
  await up({ id: 'g1', creator: 'good', title: 'Sunset over the harbour', signals: { 'face.age': 7 } });
  await up({ id: 'z1', creator: 'cn', title: '猫咪视频 每天更新', description: '关注我 免费领取 红包' });
}

const steps = [];
function step(name, fn) {
  steps.push({ name, fn });
}

step('/ opens Search; text finds items newest first', async () => {
  const page = W.page;
  await page.goto(W.d.base + '/console');
  await hr.signIn(page, W.alice);
  await page.keyboard.press('/');
  await page.waitForSelector('#view-search:not([hidden])');
  await until(() => page.evaluate(() => document.activeElement && document.activeElement.id === 'sf-q'),
    'the text box to have the focus');
  await page.keyboard.type('crypto bonus');
  await page.keyboard.press('Enter');
  await until(async () => (await rows(page)).length === 4, 'four results');
  assert(JSON.stringify(await rows(page)) === JSON.stringify(['w4', 'w3', 'w2', 'w1']),
    'newest first: ' + (await rows(page)).join(','));
  const first = await page.textContent('#search-rows tr.sr.selected');
  assert(/w4/.test(first) && /Crypto bonus number 4/.test(first) && /verdict by policy/.test(first),
    'a row shows the id, title and who decided: ' + first);
  assert(/4 shown/.test(await page.textContent('#search-status')), 'the status counts them');
  assert(/#\/search\?q=crypto%20bonus/.test(page.url()), 'the search is in the address: ' + page.url());
  await shot(page, 'search-latin');
});

step('j/k move, o opens the item, Esc closes it', async () => {
  const page = W.page;
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.keyboard.press('k');
  await page.waitForSelector('#search-rows tr.sr.selected[data-item="w3"]');
  await page.keyboard.press('o');
  await page.waitForSelector('#search-item #card[data-item="w3"]');
  assert(/Crypto bonus number 3/.test(await page.textContent('#search-item')), 'the card shows w3');
  await shot(page, 'search-item');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#search-item', { state: 'hidden' });
});

step('Chinese text: a substring of the description', async () => {
  const page = W.page;
  await page.keyboard.press('/');
  await page.fill('#sf-q', '免费领取');
  await page.keyboard.press('Enter');
  await until(async () => JSON.stringify(await rows(page)) === '["z1"]', 'z1 alone');
  await page.fill('#sf-q', '狗');
  await page.keyboard.press('Enter');
  await until(async () => /1 or 2 characters/.test(await page.textContent('#search-status')),
    'a one-character word alone is refused in words');
  await shot(page, 'search-chinese');
});

step('a bulk takedown: the dry run, a reason, four eyes', async () => {
  const page = W.page;
  await page.fill('#sf-q', '');
  await page.fill('#sf-creator', 'wave');
  await page.press('#sf-creator', 'Enter');
  await until(async () => (await rows(page)).length === 4, 'wave\'s four items');
  await page.keyboard.press('T');
  await page.waitForSelector('#bulk:not([hidden])');
  await page.waitForSelector('#bulk-count');
  const count = await page.textContent('#bulk-count');
  assert(/^4 items would be taken down/.test(count) && /second moderator/.test(count),
    'the dry run counts 4 and asks for four eyes: ' + count);
  const before = await W.d.ok(W.alice, 'GET', '/v1/items/w1');
  assert(before.state !== 'removed', 'the dry run removed nothing');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#bulk-error:not([hidden])');
  assert(/reason/.test(await page.textContent('#bulk-error')), 'without a reason it says so');
  await page.keyboard.type('crypto scam wave');
  await shot(page, 'bulk-dry-run');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#bulk-job strong[data-state="awaiting_confirmation"]');
  W.job = (await page.textContent('#bulk-job .mono')).trim();
  await shot(page, 'bulk-awaiting');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#bulk', { state: 'hidden' });
  await until(async () => await page.$('#jobs li[data-job="' + W.job + '"]'), 'the job in the list');
  assert(!(await page.$('#jobs li[data-job="' + W.job + '"] .btn-primary')),
    'alice is offered no Confirm for her own job');
});

step('another moderator confirms with c; the items are removed', async () => {
  const page = W.page2 = await hr.newPage(W.ctx);
  await page.goto(W.d.base + '/console/#/search');
  await hr.signIn(page, W.bob);
  await page.waitForSelector('#view-search:not([hidden])');
  await page.waitForSelector('#jobs li[data-job="' + W.job + '"] .btn-primary');
  await page.click('#search-rows');   // the keys are the page's, not the text box's
  await page.keyboard.press('Escape');
  await page.keyboard.press('c');
  await until(async () => (await W.d.ok(W.bob, 'GET', '/v1/bulk/' + W.job)).state === 'done', 'the job to finish');
  const j = await W.d.ok(W.bob, 'GET', '/v1/bulk/' + W.job);
  assert(j.acted === 4 && j.confirmed_by === 'token:bob', 'bob confirmed, 4 taken down: ' + JSON.stringify(j));
  for (const id of ['w1', 'w2', 'w3', 'w4'])
    assert((await W.d.ok(W.bob, 'GET', '/v1/items/' + id)).state === 'removed', id + ' is removed');
  await shot(page, 'bulk-confirmed');
});

step('u opens the creator page from a result; H suspends', async () => {
  const page = W.page;
  await page.bringToFront();
  await page.fill('#sf-creator', 'wave');
  await page.press('#sf-creator', 'Enter');
  await until(async () => /removed/.test(await page.textContent('#search-rows')), 'the removed rows');
  await page.keyboard.press('u');
  await page.waitForSelector('#view-creator:not([hidden]) #creator-id');
  assert((await page.textContent('#creator-id')) === 'wave', 'the page is wave\'s');
  const p = await page.textContent('#creator');
  assert(/removed 4/.test(p) && /4 uploads|uploads/.test(p), 'it counts 4 removed: ' + p.slice(0, 300));
  await page.keyboard.press('H');
  await page.waitForSelector('#suspend:not([hidden])');
  await page.selectOption('#suspend-mode', 'review');
  await page.fill('#suspend-reason', 'scam ring');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#creator-suspended');
  const r = await W.d.ok(W.d.admin, 'POST', '/v1/uploads', { id: 'w5', creator: 'wave', title: 'innocent' });
  assert(r.state === 'in_review' && /suspended: scam ring/.test(r.reasons[0]),
    'a new upload of the suspended creator waits for people: ' + JSON.stringify(r));
  await shot(page, 'creator-suspended');
});

step('R restores everything removed: back to people, after four eyes', async () => {
  const page = W.page;
  await page.keyboard.press('R');
  await page.waitForSelector('#bulk-count');
  assert(/^4 items would be restored/.test(await page.textContent('#bulk-count')), 'four to restore');
  await page.keyboard.type('appeal granted');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#bulk-job strong[data-state="awaiting_confirmation"]');
  const job = (await page.textContent('#bulk-job .mono')).trim();
  await W.d.ok(W.bob, 'POST', '/v1/bulk/' + job + '/confirm');
  await page.waitForSelector('#bulk-job strong[data-state="done"]');
  for (const id of ['w1', 'w2', 'w3', 'w4'])
    assert((await W.d.ok(W.bob, 'GET', '/v1/items/' + id)).state === 'in_review', id + ' is back with people');
  await page.keyboard.press('Escape');
  await until(async () => !(await page.$('#creator-suspended')), 'the suspension to be lifted on the page');
  await shot(page, 'creator-restored');
});

step('u on a claimed item opens its creator\'s page', async () => {
  const page = W.page;
  await page.keyboard.press('q');
  await page.waitForSelector('#view-queue:not([hidden])');
  await page.waitForSelector('#queues li[data-queue="minors"]');
  for (let i = 0; i < 8 && !(await page.$('#queues li.selected[data-queue="minors"]')); i++)
    await page.keyboard.press('j');
  await page.keyboard.press('c');
  await page.waitForSelector('#card[data-item="g1"]');
  assert(await page.$('#card a.creator-link[href="#/creator/good"]'), 'the card links the creator page');
  await page.keyboard.press('u');
  await page.waitForSelector('#view-creator:not([hidden]) #creator-id');
  assert((await page.textContent('#creator-id')) === 'good', 'the page is good\'s');
  await shot(page, 'creator-from-card');
});

async function main() {
  W.d = await new hr.Daemon().start('investigate', 'bulk_confirm_above = 2\n', ['keyword']);
  log('sluiced at ' + W.d.base + (W.d.plugins ? ' with the keyword plugin' : ''));
  await seed();
  W.ctx = await hr.launch();
  W.page = await hr.newPage(W.ctx);
  let n = 0;
  for (const s of steps) {
    n++;
    try {
      await s.fn();
      const errs = [...W.page.errors, ...(W.page2 ? W.page2.errors : [])];
      if (errs.length)
        throw new Error(errs.join('; '));
      log('ok ' + n + ' - ' + s.name);
    } catch (e) {
      failures++;
      log('not ok ' + n + ' - ' + s.name + ': ' + e.message);
      for (const p of [W.page, W.page2])
        if (p && !p.isClosed())
          await p.screenshot({ path: require('path').join(hr.OUT, 'investigate-failure-' + n + (p === W.page2 ? '-bob' : '') + '.png') }).catch(() => {});
      break;    // the steps build on each other
    }
  }
  await W.ctx.close();
  await W.d.stop();
  log((failures ? n - 1 : n) + ' of ' + steps.length + ' steps passed; screenshots in ' + hr.OUT);
}

main().then(() => {
  clearTimeout(watchdog);
  hr.cleanup();
  process.exit(failures ? 1 : 0);
}, (e) => {
  log('FAIL: ' + (e && e.stack ? e.stack : e));
  clearTimeout(watchdog);
  hr.cleanup();
  process.exit(1);
});
