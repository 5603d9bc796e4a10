// SPDX-License-Identifier: MIT
// The moderators' console: sign in, queues, the claimed item's card with its
// lease, decisions by keyboard, and statistics drawn as inline SVG.
//
// Every string from the API reaches the page through textContent or an SVG
// text node, never as markup: titles and transcripts are written by uploaders.
'use strict';

(function () {
  const TOKEN_KEY = 'sluice.token';
  const ME_KEY = 'sluice.me';
  const QUEUE_KEY = 'sluice.queue';
  const POLL_QUEUE_MS = 5000;
  const POLL_STATS_MS = 10000;
  const ACTIVE_WINDOW_MS = 60000;   // activity this recent keeps the lease alive
  const RENEW_EVERY_MS = 30000;     // at most this often (shorter for short leases)
  const SVGNS = 'http://www.w3.org/2000/svg';

  const REJECT_REASONS = [
    'Sexual content or nudity',
    'Minor safety',
    'Violence or gore',
    'Hate or harassment',
    'Spam or scam',
    'Matches known-bad content',
    'Dangerous acts or self-harm',
    'Copyright',
    'Other',
  ];
  const ESCALATE_REASONS = [
    'Needs a second opinion',
    'Possible minor: specialist review',
    'Legal or law-enforcement question',
    'Policy does not cover this',
    'Other',
  ];

  const S = {
    token: null,
    me: null,              // the token's name, learnt from the first claim's audit record
    skew: 0,               // server clock minus ours, in ms
    skewKnown: false,
    queues: [],
    waiting: [],
    selected: null,        // queue name, or null for "any queue"
    claim: null,           // {id, fence, leaseUntil, item, dead: null | 'expired' | 'conflict' | 'forbidden'}
    leaseSeconds: 0,
    renewing: false,
    lastRenew: 0,
    lastActivity: Date.now(),
    busy: false,           // a claim or decision is on its way
    section: -1,
    history: [],
    depthSamples: [],      // [ms, total waiting] while the tab is open
    view: null,
    online: true,
    pollTimer: 0,
    statsTimer: 0,
    tickTimer: 0,
    thumbHosts: null,      // hosts thumbnails may come from (GET /v1/console/settings); null: not known yet
  };

  const $ = (id) => document.getElementById(id);

  // {================ DOM helpers ================

  // h('div', {class: 'x', onclick: f}, 'text', child, [more]) builds elements;
  // strings become text nodes, so they are never parsed as markup.
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    setProps(el, props);
    append(el, kids);
    return el;
  }

  function s(tag, props, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    setProps(el, props);
    append(el, kids);
    return el;
  }

  function setProps(el, props) {
    if (!props)
      return;
    for (const [k, v] of Object.entries(props)) {
      if (v === null || v === undefined || v === false)
        continue;
      if (k === 'class')
        el.setAttribute('class', v);
      else if (k.startsWith('on'))
        el.addEventListener(k.slice(2), v);
      else
        el.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function append(el, kids) {
    for (const k of kids) {
      if (k === null || k === undefined || k === false)
        continue;
      if (Array.isArray(k))
        append(el, k);
      else if (k instanceof Node)
        el.appendChild(k);
      else
        el.appendChild(document.createTextNode(String(k)));
    }
  }

  function clear(el) {
    while (el.firstChild)
      el.removeChild(el.firstChild);
    return el;
  }

  function kbd(k) {
    return h('kbd', null, k);
  }

  // }========================================

  // {================ Formatting ================

  function serverNow() {
    return Date.now() + S.skew;
  }

  function age(ms) {
    if (!(ms >= 0))
      return '–';
    const sec = Math.floor(ms / 1000);
    if (sec < 60)
      return sec + 's';
    const min = Math.floor(sec / 60);
    if (min < 60)
      return min + 'm ' + (sec % 60) + 's';
    const hr = Math.floor(min / 60);
    if (hr < 48)
      return hr + 'h ' + (min % 60) + 'm';
    return Math.floor(hr / 24) + 'd ' + (hr % 24) + 'h';
  }

  function clock(ms) {
    const sec = Math.max(0, Math.ceil(ms / 1000));
    const m = Math.floor(sec / 60);
    return m + ':' + String(sec % 60).padStart(2, '0');
  }

  function time(ms) {
    if (typeof ms !== 'number')
      return '';
    const d = new Date(ms);
    const today = new Date();
    const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    if (d.toDateString() === today.toDateString())
      return t;
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + t;
  }

  function num(x, digits) {
    if (typeof x !== 'number' || !isFinite(x))
      return '–';
    return digits === undefined ? String(x) : x.toFixed(digits);
  }

  function int(x) {
    return typeof x === 'number' && isFinite(x) ? x.toLocaleString('en-US') : '–';
  }

  function pct(x) {
    return typeof x === 'number' && isFinite(x) ? (x * 100).toFixed(1) + '%' : '–';
  }

  // "token:alice" reads as "alice"; policy and plugin actors keep their kind.
  function actorName(a) {
    if (typeof a !== 'string')
      return '–';
    return a.startsWith('token:') ? a.slice(6) : a;
  }

  function text(x) {
    return typeof x === 'string' ? x : '';
  }

  // }========================================

  // {================ API ================

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + S.token, Accept: 'application/json' };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      setOnline(false);
      throw new ApiError(0, 'network', 'sluiced cannot be reached (' + e.message + ').');
    }
    setOnline(true);
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      const e = new ApiError(res.status, err.code || 'http_' + res.status,
        err.message || 'sluiced answered ' + res.status + ' ' + res.statusText + '.', err.field);
      if (res.status === 401)
        signOut('Your token is no longer accepted (revoked or unknown). Sign in again.');
      throw e;
    }
    if (data === null)
      throw new ApiError(res.status, 'bad_answer', 'sluiced sent an answer that is not JSON.');
    return data;
  }

  function setOnline(on) {
    if (S.online === on)
      return;
    S.online = on;
    $('net').hidden = on;
  }

  // }========================================

  // {================ Toasts and banner ================

  function toast(msg, kind) {
    const t = h('div', { class: 'toast' + (kind ? ' toast-' + kind : '') }, msg);
    $('toasts').appendChild(t);
    setTimeout(() => t.remove(), kind === 'bad' ? 6000 : 2500);
  }

  // A banner over the work area says what went wrong with a claim, in words,
  // with the one action that helps.
  function banner(kind, title, body, action) {
    const b = clear($('banner'));
    b.className = 'banner banner-' + kind;
    delete b.dataset.kind;
    b.appendChild(h('div', { class: 'banner-text' },
      h('strong', { class: 'banner-title' }, title), ' ', h('span', null, body)));
    if (action)
      b.appendChild(h('button', { type: 'button', class: 'btn btn-primary', id: 'banner-action',
        onclick: action.run }, action.label, ' ', kbd(action.key)));
    b.hidden = false;
  }

  function hideBanner() {
    $('banner').hidden = true;
    clear($('banner'));
  }

  // }========================================

  // {================ Sign in ================

  async function signIn(token) {
    S.token = token;
    const data = await api('GET', '/v1/queue?limit=1');
    return data;
  }

  function showLogin(message) {
    stopTimers();
    $('shell').hidden = true;
    $('login').hidden = false;
    const err = $('login-error');
    err.hidden = !message;
    err.textContent = message || '';
    $('login-token').value = '';
    $('login-token').focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ME_KEY);
    S.token = null;
    S.me = null;
    S.claim = null;
    closeOverlays();
    showLogin(message);
  }

  async function onLoginSubmit(ev) {
    ev.preventDefault();
    const token = $('login-token').value.trim();
    const err = $('login-error');
    if (!token)
      return;
    $('login-submit').disabled = true;
    try {
      await signIn(token);
      sessionStorage.setItem(TOKEN_KEY, token);
      enter();
    } catch (e) {
      S.token = null;
      err.hidden = false;
      if (e.status === 401)
        err.textContent = 'sluiced does not know this token.';
      else if (e.status === 403)
        err.textContent = 'This token may not review: it needs the moderator (or admin) role.';
      else
        err.textContent = e.message;
    } finally {
      $('login-submit').disabled = false;
    }
  }

  function enter() {
    $('login').hidden = true;
    $('shell').hidden = false;
    S.me = sessionStorage.getItem(ME_KEY);
    S.selected = sessionStorage.getItem(QUEUE_KEY) || null;
    showMe();
    renderWork();
    route();
    S.tickTimer = setInterval(tick, 250);
    loadSettings();
  }

  // The thumbnail hosts the daemon allows (its CSP allows no other): a
  // thumbnail from elsewhere is shown as its host name, never fetched.
  async function loadSettings() {
    try {
      const data = await api('GET', '/v1/console/settings');
      S.thumbHosts = Array.isArray(data.thumbnail_hosts) ? data.thumbnail_hosts : [];
    } catch (e) {
      S.thumbHosts = [];
    }
    if (S.claim)
      renderWork();
  }

  function showMe() {
    $('me').textContent = S.me ? actorName(S.me) : '';
    $('me').hidden = !S.me;
  }

  function stopTimers() {
    clearTimeout(S.pollTimer);
    clearTimeout(S.statsTimer);
    clearInterval(S.tickTimer);
    S.pollTimer = S.statsTimer = S.tickTimer = 0;
  }

  // }========================================

  // {================ Views ================

  // Views other files add (investigate.js: search, creator) register here:
  // {hash: '#/search', tab: element id or null, show(hash), hide(), key(ev)}.
  const extraViews = {};

  function route() {
    let view = location.hash.startsWith('#/stats') ? 'stats' : 'queue';
    for (const [name, v] of Object.entries(extraViews))
      if (location.hash.startsWith(v.hash))
        view = name;
    const was = S.view;
    S.view = view;
    if (was && was !== view && extraViews[was])
      extraViews[was].hide();
    $('view-queue').hidden = view !== 'queue';
    $('view-stats').hidden = view !== 'stats';
    for (const [name, v] of Object.entries(extraViews)) {
      $('view-' + name).hidden = view !== name;
      if (v.tab) {
        $(v.tab).classList.toggle('active', view === name);
        $(v.tab).setAttribute('aria-current', view === name ? 'page' : 'false');
      }
    }
    $('tab-queue').classList.toggle('active', view === 'queue');
    $('tab-stats').classList.toggle('active', view === 'stats');
    $('tab-queue').setAttribute('aria-current', view === 'queue' ? 'page' : 'false');
    $('tab-stats').setAttribute('aria-current', view === 'stats' ? 'page' : 'false');
    clearTimeout(S.pollTimer);
    clearTimeout(S.statsTimer);
    if (view === 'queue')
      pollQueue();
    else if (view === 'stats')
      pollStats();
    else
      extraViews[view].show(location.hash);
  }

  // }========================================

  // {================ Queues ================

  async function pollQueue() {
    clearTimeout(S.pollTimer);
    try {
      await loadQueue();
    } catch (e) {
      if (e.status !== 401)
        $('queues-updated').textContent = 'not updated: ' + e.message;
    }
    if (S.token && S.view === 'queue')
      S.pollTimer = setTimeout(pollQueue, POLL_QUEUE_MS);
  }

  async function loadQueue() {
    const sent = Date.now();
    const data = await api('GET', '/v1/queue?limit=200');
    const got = Date.now();
    // A slow answer says little about when the server read its clock.
    if (typeof data.now_ms === 'number' && (got - sent < 250 || !S.skewKnown)) {
      S.skew = data.now_ms - (sent + got) / 2;
      S.skewKnown = true;
    }
    S.queues = Array.isArray(data.queues) ? data.queues : [];
    S.waiting = Array.isArray(data.items) ? data.items : [];
    sampleDepth(S.queues);
    renderQueues();
    $('queues-updated').textContent = 'updated ' + time(serverNow());
  }

  function sampleDepth(queues) {
    const total = queues.reduce((n, q) => n + (q.depth || 0), 0);
    S.depthSamples.push([serverNow(), total]);
    if (S.depthSamples.length > 720)
      S.depthSamples.shift();
  }

  function queueEntries() {
    const total = S.queues.reduce((n, q) => n + (q.depth || 0), 0);
    const oldest = S.queues.reduce((m, q) => (typeof q.oldest_ms === 'number' && (m === null || q.oldest_ms < m)) ? q.oldest_ms : m, null);
    const claimed = S.queues.reduce((n, q) => n + (q.claimed || 0), 0);
    const overdue = S.queues.reduce((n, q) => n + (q.overdue || 0), 0);
    const list = [{ name: null, label: 'All queues', depth: total, oldest_ms: oldest, claimed, overdue }];
    for (const q of S.queues)
      list.push({ name: q.name, label: q.name, depth: q.depth, oldest_ms: q.oldest_ms, claimed: q.claimed,
        overdue: q.overdue, sla_ms: q.sla_ms });
    if (S.selected && !S.queues.some((q) => q.name === S.selected))
      list.push({ name: S.selected, label: S.selected, depth: 0, oldest_ms: null, claimed: 0 });
    return list;
  }

  function renderQueues() {
    const ul = clear($('queues'));
    const now = serverNow();
    for (const q of queueEntries()) {
      const sel = q.name === S.selected;
      const oldest = typeof q.oldest_ms === 'number' ? age(now - q.oldest_ms) : '';
      ul.appendChild(h('li', {
        class: 'queue' + (sel ? ' selected' : '') + (q.name === null ? ' queue-all' : '') + (q.depth ? '' : ' queue-empty'),
        role: 'option', 'aria-selected': sel ? 'true' : 'false', 'data-queue': q.name === null ? '' : q.name,
        onclick: () => selectQueue(q.name),
      },
      h('span', { class: 'q-name' }, q.label),
      h('span', { class: 'q-depth', title: 'waiting' }, String(q.depth || 0)),
      h('span', { class: 'q-meta' },
        q.depth ? 'oldest ' + oldest : 'empty',
        q.claimed ? ' · ' + q.claimed + ' claimed' : '',
        q.overdue ? h('span', { class: 'overdue', title: typeof q.sla_ms === 'number'
          ? 'waiting longer than ' + age(q.sla_ms) + ', the time to decision' : 'waiting longer than the time to decision' },
          ' · ' + q.overdue + ' past SLA') : null)));
    }
    renderWaiting();
    const sum = $('empty-summary');
    if (sum)
      sum.textContent = queueSummary();
  }

  function renderWaiting() {
    const ul = clear($('waiting'));
    const now = serverNow();
    const items = S.waiting.filter((it) => S.selected === null || it.queue === S.selected);
    $('waiting-title').textContent = 'Waiting' + (S.selected ? ' in ' + S.selected : '') + ' (' + items.length + ')';
    if (!items.length) {
      ul.appendChild(h('li', { class: 'empty small muted' }, 'Nothing waiting.'));
      return;
    }
    for (const it of items.slice(0, 60)) {
      const mine = S.claim && !S.claim.dead && S.claim.id === it.id;
      ul.appendChild(h('li', { class: 'w-item' + (mine ? ' mine' : '') + (it.overdue ? ' overdue' : ''), 'data-item': it.id },
        h('div', { class: 'w-title' }, text(it.title) || it.id),
        h('div', { class: 'w-meta' },
          h('span', { class: 'prio', title: 'priority' }, 'P' + num(it.priority)), ' ',
          S.selected === null ? h('span', { class: 'chip' }, it.queue) : null, ' ',
          text(it.reason), ' · ', age(now - it.enqueued_ms),
          it.overdue ? h('span', { class: 'overdue' }, ' · past SLA') : null,
          it.claimed_by ? h('span', { class: 'claimed-by' }, ' · ' + (mine ? 'you' : actorName(it.claimed_by))) : null,
          it.escalated_by ? h('span', { class: 'esc-by' }, ' · escalated by ' + actorName(it.escalated_by)) : null)));
    }
  }

  function selectQueue(name) {
    S.selected = name;
    if (name)
      sessionStorage.setItem(QUEUE_KEY, name);
    else
      sessionStorage.removeItem(QUEUE_KEY);
    renderQueues();
    if (!S.claim)
      renderWork();
  }

  function moveQueue(delta) {
    const list = queueEntries();
    let i = list.findIndex((q) => q.name === S.selected);
    i = Math.max(0, Math.min(list.length - 1, (i < 0 ? 0 : i) + delta));
    selectQueue(list[i].name);
    const el = $('queues').children[i];
    if (el)
      el.scrollIntoView({ block: 'nearest' });
  }

  // }========================================

  // {================ Claim, lease, decisions ================

  async function claimNext(queue) {
    if (S.busy)
      return;
    if (S.claim && !S.claim.dead) {
      toast('Decide ' + S.claim.id + ' first (a, r or e).');
      return;
    }
    S.busy = true;
    hideBanner();
    const body = {};
    if (queue)
      body.queue = queue;
    try {
      const data = await api('POST', '/v1/queue/claim', body);
      const got = Array.isArray(data.items) ? data.items[0] : null;
      if (!got) {
        S.claim = null;
        renderWork('Nothing is waiting' + (queue ? ' in ' + queue : '') + '. The list refreshes by itself.');
      } else {
        S.leaseSeconds = data.lease_seconds || 0;
        S.claim = { id: got.id, fence: got.fence, leaseUntil: got.lease_until_ms, item: got.item, dead: null };
        S.lastRenew = Date.now();
        S.section = -1;
        learnMe(got.item, got.fence);
        await loadQueue().catch(() => {});   // the entry: why it waits now
        renderWork();
        tick();
        completeItem(S.claim);
      }
    } catch (e) {
      if (e.status !== 401)
        banner('bad', 'Could not claim.', e.message);
    } finally {
      S.busy = false;
    }
    loadQueue().catch(() => {});
  }

  // The claim's answer carries the item without its distribution waves;
  // GET /v1/items has them (a reported item's waves are why it is here).
  async function completeItem(c) {
    if (Array.isArray(c.item && c.item.waves))
      return;
    try {
      const item = await api('GET', '/v1/items/' + encodeURIComponent(c.id));
      if (S.claim !== c || c.dead || !Array.isArray(item.waves) || !item.waves.length)
        return;
      c.item = item;
      const at = S.section;
      renderWork();
      if (at >= 0) {
        S.section = at;
        moveSection(0);
      }
    } catch (e) {
      // the card without waves is still the item
    }
  }

  // The claim's own audit record names the token ("fence N" by token:NAME).
  function learnMe(item, fence) {
    const audit = (item && Array.isArray(item.audit)) ? item.audit : [];
    for (let i = audit.length - 1; i >= 0; i--) {
      const r = audit[i];
      if (r.action === 'claim' && r.reason === 'fence ' + fence && typeof r.actor === 'string') {
        S.me = r.actor;
        sessionStorage.setItem(ME_KEY, r.actor);
        showMe();
        return;
      }
    }
  }

  function leaseLeft() {
    return S.claim ? S.claim.leaseUntil - serverNow() : 0;
  }

  function renewInterval() {
    return Math.max(1000, Math.min(RENEW_EVERY_MS, S.leaseSeconds * 1000 / 2.5));
  }

  function tick() {
    const pill = $('lease');
    const c = S.claim;
    if (!c || c.dead) {
      pill.hidden = true;
      return;
    }
    const left = leaseLeft();
    if (left <= 0) {
      expire('Your claim on ' + c.id + ' ran out at ' + time(c.leaseUntil) + '.');
      return;
    }
    const active = Date.now() - S.lastActivity < ACTIVE_WINDOW_MS;
    pill.hidden = false;
    pill.textContent = 'lease ' + clock(left) + (active ? '' : ' · idle, not renewing');
    pill.title = 'Your claim on ' + c.id + ' lasts until ' + time(c.leaseUntil) +
      '. It renews while you are active.';
    pill.className = 'pill lease' + (left < Math.min(60000, S.leaseSeconds * 400) ? ' lease-low' : '');
    const card = document.querySelector('.card .lease-inline');
    if (card)
      card.textContent = clock(left);
    if (active && !S.renewing && Date.now() - S.lastRenew >= renewInterval())
      renew();
  }

  async function renew() {
    const c = S.claim;
    S.renewing = true;
    S.lastRenew = Date.now();
    try {
      const data = await api('POST', '/v1/items/' + encodeURIComponent(c.id) + '/renew', { fence: c.fence });
      if (S.claim === c && typeof data.lease_until_ms === 'number') {
        c.leaseUntil = data.lease_until_ms;
        if ($('banner').dataset.kind === 'renew')
          hideBanner();
      }
    } catch (e) {
      if (S.claim === c)
        claimRefused(e, 'renew');
    } finally {
      S.renewing = false;
    }
  }

  // A claim that died: show the item as it is now (the audit trail says who
  // has it), and keep the banner above it.
  async function refreshDead(c) {
    try {
      const item = await api('GET', '/v1/items/' + encodeURIComponent(c.id));
      if (S.claim === c) {
        c.item = item;
        renderWork();
      }
    } catch (e) {
      // the card as it was is still worth showing
    }
  }

  // message: what happened, in a sentence; the banner adds what it means.
  function expire(message, fromServer) {
    const c = S.claim;
    if (!c || c.dead)
      return;
    c.dead = 'expired';
    closeOverlays();
    renderWork();
    refreshDead(c);
    banner('bad', 'Lease expired.', message + (fromServer ? ' Your decision was not recorded.'
      : ' The item went back to the queue and nothing was decided.'),
      { label: 'Claim again', key: 'c', run: () => claimNext(S.selected) });
    $('lease').hidden = true;
    loadQueue().catch(() => {});
  }

  // A refused renew or decision: say exactly what happened to the claim.
  function claimRefused(e, what) {
    const c = S.claim;
    if (e.status === 409 && e.code === 'lease_expired') {
      expire(e.message, true);
    } else if (e.status === 409 && e.code === 'conflict') {
      c.dead = 'conflict';
      closeOverlays();
      renderWork();
      refreshDead(c);
      banner('bad', 'Not yours any more.', e.message + ' Nothing you did was recorded.',
        { label: 'Claim next', key: 'c', run: () => claimNext(S.selected) });
      loadQueue().catch(() => {});
    } else if (e.status === 403) {
      c.dead = 'forbidden';
      renderWork();
      banner('bad', 'Someone else must decide this.', e.message,
        { label: 'Claim next', key: 'c', run: () => claimNext(S.selected) });
    } else if (e.status === 401) {
      // signOut has run
    } else if (what === 'renew') {
      banner('warn', 'Could not renew the lease.', e.message + ' Retrying while you work.');
      $('banner').dataset.kind = 'renew';
      S.lastRenew = Date.now() - renewInterval() + 3000;
    } else {
      banner('bad', 'The decision was not recorded.', e.message);
    }
  }

  async function decide(decision, reason) {
    const c = S.claim;
    if (!c || c.dead || S.busy)
      return;
    S.busy = true;
    const body = { decision, fence: c.fence };
    if (reason)
      body.reason = reason;
    setActionsDisabled(true);
    try {
      const data = await api('POST', '/v1/items/' + encodeURIComponent(c.id) + '/decision', body);
      const past = { approve: 'Approved', reject: 'Rejected', escalate: 'Escalated' }[decision];
      S.history.unshift({ id: c.id, title: text(c.item && c.item.upload && c.item.upload.title),
        decision, reason: reason || '', ts: serverNow(), state: data.state });
      S.claim = null;
      hideBanner();
      renderHistory();
      toast(past + ' ' + c.id + (reason ? ': ' + reason : ''), 'good');
      showDone(c, decision, reason);
    } catch (e) {
      if (S.claim === c) {
        claimRefused(e, 'decision');
        if (!c.dead)
          setActionsDisabled(false);
      }
    } finally {
      S.busy = false;
    }
    loadQueue().catch(() => {});
  }

  function setActionsDisabled(off) {
    for (const b of document.querySelectorAll('.card-actions button'))
      b.disabled = off;
  }

  // }========================================

  // {================ Work area ================

  function renderWork(emptyMessage) {
    const work = clear($('work'));
    const c = S.claim;
    if (c) {
      work.appendChild(card(c.item, c));
      return;
    }
    const where = S.selected ? 'the ' + S.selected + ' queue' : 'any queue';
    work.appendChild(h('div', { class: 'empty-state' },
      h('p', { class: 'big' }, emptyMessage || 'No item claimed.'),
      h('p', null, h('button', { type: 'button', class: 'btn btn-primary', id: 'claim-btn',
        onclick: () => claimNext(S.selected) }, 'Claim next from ' + where, ' ', kbd('c'))),
      h('p', { class: 'muted', id: 'empty-summary' }, queueSummary()),
      h('p', { class: 'muted small' }, 'j / k choose a queue · ? all keys')));
  }

  function queueSummary() {
    const qs = S.selected ? S.queues.filter((q) => q.name === S.selected) : S.queues;
    const total = qs.reduce((n, q) => n + (q.depth || 0), 0);
    if (!total)
      return 'Nothing is waiting' + (S.selected ? ' in ' + S.selected : '') + '.';
    let oldest = null;
    for (const q of qs)
      if (typeof q.oldest_ms === 'number' && (!oldest || q.oldest_ms < oldest.oldest_ms))
        oldest = q;
    return total + ' waiting' + (oldest ? ' · oldest ' + age(serverNow() - oldest.oldest_ms) +
      (S.selected ? '' : ' in ' + oldest.name) : '');
  }

  // After a decision: what was recorded, straight from the audit trail.
  async function showDone(c, decision, reason) {
    const work = clear($('work'));
    const past = { approve: 'Approved', reject: 'Rejected', escalate: 'Escalated' }[decision];
    const panel = h('section', { class: 'done', id: 'done', 'data-item': c.id },
      h('div', { class: 'done-head' },
        h('span', { class: 'verdict-badge v-' + decision }, past),
        h('span', { class: 'done-title' }, text(c.item && c.item.upload && c.item.upload.title) || c.id),
        h('span', { class: 'muted' }, ' ' + c.id)),
      reason ? h('p', { class: 'small' }, 'Reason: ', reason) : null,
      h('p', { class: 'muted small' }, 'Press ', kbd('c'), ' for the next item.'));
    work.appendChild(panel);
    try {
      const data = await api('GET', '/v1/audit?item=' + encodeURIComponent(c.id));
      if (!document.body.contains(panel))
        return;
      panel.appendChild(h('h3', null, 'Audit trail'));
      panel.appendChild(auditList(data.records || []));
    } catch (e) {
      if (document.body.contains(panel))
        panel.appendChild(h('p', { class: 'muted small' }, 'Audit trail not available: ', e.message));
    }
  }

  async function showDecided(id) {
    if (S.claim && !S.claim.dead) {
      toast('Decide ' + S.claim.id + ' first.');
      return;
    }
    try {
      const item = await api('GET', '/v1/items/' + encodeURIComponent(id));
      S.claim = null;
      hideBanner();
      clear($('work')).appendChild(card(item, null));
    } catch (e) {
      toast(e.message, 'bad');
    }
  }

  function renderHistory() {
    const ul = clear($('history'));
    if (!S.history.length) {
      ul.appendChild(h('li', { class: 'empty small muted' }, 'Nothing yet.'));
      return;
    }
    for (const d of S.history.slice(0, 30))
      ul.appendChild(h('li', { class: 'h-item', 'data-item': d.id },
        h('button', { type: 'button', class: 'linkish', onclick: () => showDecided(d.id) },
          h('span', { class: 'verdict-dot v-' + d.decision, title: d.decision }),
          h('span', { class: 'h-title' }, d.title || d.id),
          h('span', { class: 'muted small' }, ' ' + time(d.ts)))));
  }

  // }========================================

  // {================ The item card ================

  const FIELD_LABEL = { title: 'Title', description: 'Description', transcript: 'Transcript' };

  // The text of one field with the keyword matches in it marked. Offsets and
  // lengths are bytes of the UTF-8 text, so the cut is made on the bytes.
  function highlighted(str, field, matches) {
    const ranges = [];
    const bytes = new TextEncoder().encode(str);
    for (const m of matches) {
      if (m.kind !== 'keyword' || m.field !== field)
        continue;
      const a = m.offset, n = m.length;
      if (!Number.isInteger(a) || !Number.isInteger(n) || a < 0 || n <= 0 || a + n > bytes.length)
        continue;
      ranges.push({ a, b: a + n, m });
    }
    if (!ranges.length)
      return [str];
    ranges.sort((x, y) => x.a - y.a || y.b - x.b);
    const dec = new TextDecoder();
    const out = [];
    let at = 0;
    for (const r of ranges) {
      if (r.a < at)
        continue;   // overlapping: the first, longer one is already marked
      if (r.a > at)
        out.push(dec.decode(bytes.subarray(at, r.a)));
      out.push(h('mark', { class: 'kw', title: text(r.m.name) + ': ' + text(r.m.detail) + ' (severity ' + num(r.m.score, 2) + ')' },
        dec.decode(bytes.subarray(r.a, r.b))));
      at = r.b;
    }
    if (at < bytes.length)
      out.push(dec.decode(bytes.subarray(at)));
    return out;
  }

  // A host-source of the CSP, as the browser matches it: "host" itself, or
  // "*.domain" for every name under domain; HTTPS on its default port.
  function thumbAllowed(u) {
    if (u.protocol !== 'https:' || u.port !== '' || u.username || u.password)
      return false;
    return (S.thumbHosts || []).some((p) => p.startsWith('*.')
      ? u.hostname.endsWith(p.slice(1)) : u.hostname === p);
  }

  // {url} to show, {host} of one not allowed, or null for none at all.
  function safeThumb(url) {
    if (typeof url !== 'string')
      return null;
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:')
        return null;
      return thumbAllowed(u) ? { url: u.href, host: u.host } : { url: null, host: u.host };
    } catch (e) {
      return null;
    }
  }

  function section(key, title, extra, ...body) {
    return h('section', { class: 'sec sec-' + key, 'data-sec': key },
      h('h3', null, title, extra ? h('span', { class: 'sec-extra' }, extra) : null),
      body);
  }

  function card(item, claim) {
    const up = (item && item.upload) || {};
    const matches = Array.isArray(item.matches) ? item.matches : [];
    const verdict = item.verdict || {};
    const dead = claim && claim.dead;
    const entry = S.waiting.find((w) => w.id === item.id) || null;
    const queue = entry ? entry.queue : (item.state === 'in_review' ? verdict.queue : null);
    const prio = entry ? entry.priority : (item.state === 'in_review' ? verdict.priority : null);
    const cls = 'card' + (dead ? ' card-dead' : '') + (claim ? '' : ' card-readonly');

    // Header: id, queue, state, lease, actions.
    const head = h('div', { class: 'card-head' },
      h('div', { class: 'card-ids' },
        h('span', { class: 'item-id' }, item.id),
        queue ? h('span', { class: 'chip chip-queue' }, queue) : null,
        typeof prio === 'number' ? h('span', { class: 'prio', title: 'priority' }, 'P' + prio) : null,
        h('span', { class: 'chip chip-state st-' + text(item.state) }, text(item.state).replace('_', ' ')),
        claim && !dead ? h('span', { class: 'lease-box', title: 'time left on your claim' }, 'lease ',
          h('span', { class: 'lease-inline' }, clock(claim.leaseUntil - serverNow()))) : null,
        dead ? h('span', { class: 'chip chip-dead' }, dead === 'expired' ? 'lease expired' : 'not yours') : null),
      claim ? h('div', { class: 'card-actions' },
        h('button', { type: 'button', class: 'btn btn-approve', id: 'act-approve', disabled: !!dead,
          onclick: () => decide('approve') }, 'Approve ', kbd('a')),
        h('button', { type: 'button', class: 'btn btn-reject', id: 'act-reject', disabled: !!dead,
          onclick: () => openPicker('reject') }, 'Reject ', kbd('r')),
        h('button', { type: 'button', class: 'btn btn-escalate', id: 'act-escalate', disabled: !!dead,
          onclick: () => openPicker('escalate') }, 'Escalate ', kbd('e')))
        : h('div', { class: 'card-actions muted small' }, 'Read only: not claimed'));

    // Main column: the content a person looks at.
    const thumb = safeThumb(up.thumbnail);
    const thumbEl = thumb && thumb.url
      ? h('figure', { class: 'thumb' },
        h('img', { src: thumb.url, alt: 'thumbnail', referrerpolicy: 'no-referrer', loading: 'lazy',
          onerror: (ev) => { ev.target.replaceWith(h('div', { class: 'thumb-missing' }, 'thumbnail did not load')); } }),
        h('figcaption', { class: 'small muted' }, thumb.host))
      : thumb
        ? h('figure', { class: 'thumb' }, h('div', { class: 'thumb-missing thumb-blocked' },
          S.thumbHosts === null ? 'thumbnail: checking its host'
            : 'thumbnail not shown: ' + thumb.host + ' is not an allowed thumbnail host'))
        : h('figure', { class: 'thumb' }, h('div', { class: 'thumb-missing' }, 'no thumbnail'));

    const contentSec = section('content', 'Upload',
      typeof up.duration_ms === 'number' ? (up.duration_ms / 1000).toFixed(1) + ' s' + (up.city ? ' · ' + up.city : '') : (up.city || ''),
      h('div', { class: 'content-top' },
        thumbEl,
        h('div', { class: 'content-text' },
          h('h2', { class: 'item-title' }, highlighted(text(up.title), 'title', matches)),
          up.description
            ? h('p', { class: 'item-desc' }, highlighted(text(up.description), 'description', matches))
            : h('p', { class: 'muted small' }, 'No description.'))));

    const transcriptSec = section('transcript', 'Transcript', up.transcript ? text(up.transcript).length + ' characters' : '',
      up.transcript
        ? h('div', { class: 'transcript' }, highlighted(text(up.transcript), 'transcript', matches))
        : h('p', { class: 'muted small' }, 'No transcript.'));

    const auditSec = section('audit', 'Audit trail', '', auditList(Array.isArray(item.audit) ? item.audit : []));

    // Side column: why it is here and what is known.
    const reasons = Array.isArray(item.reasons) ? item.reasons : [];
    // The queue entry says why it waits now (reports, an escalation); the
    // verdict says what the policy decided on arrival, which may be older.
    const why = entry && entry.reason ? [entry.reason] : reasons;
    const verdictSays = reasons.filter((r) => !why.includes(r));
    const whySec = section('why', 'Why it is here', '',
      why.length
        ? h('ul', { class: 'reasons' }, why.map((r) => h('li', null, text(r))))
        : h('p', { class: 'muted small' }, 'No reasons given.'),
      h('dl', { class: 'kv' },
        queue ? [h('dt', null, 'queue'), h('dd', null, queue +
          (typeof prio === 'number' ? ', priority ' + prio : ''))] : null,
        entry && entry.escalated_by ? [h('dt', null, 'escalated by'), h('dd', null, actorName(entry.escalated_by))] : null,
        h('dt', null, 'policy verdict'), h('dd', null, text(verdict.state).replace('_', ' ') || '–',
          verdict.actor ? [' by ', verdictActor(verdict.actor)] : null),
        verdictSays.length ? [h('dt', null, 'policy said'), h('dd', null, verdictSays.join('; '))] : null,
        verdict.failed ? [h('dt', null, 'failure'), h('dd', { class: 'bad' }, 'a policy hook failed')] : null,
        h('dt', null, 'waiting since'), h('dd', null, time(entry ? entry.enqueued_ms : item.created_ms))));

    const creatorSec = section('creator', 'Creator', '', creatorBlock(item));
    const tagsSec = section('tags', 'Tags', Object.keys(item.tags || {}).length + '', tagTable(item.tags || {}));
    const matchSec = section('matches', 'Plugin matches', matches.length ? String(matches.length) : '', matchList(matches));
    const signals = up.signals && typeof up.signals === 'object' ? up.signals : {};
    const sigSec = Object.keys(signals).length
      ? section('signals', 'Signals', 'from the upload', h('dl', { class: 'kv kv-mono' },
        Object.keys(signals).sort().map((k) => [h('dt', null, k), h('dd', null, num(signals[k]))])))
      : null;
    const waves = Array.isArray(item.waves) ? item.waves : [];
    const wavesSec = waves.length ? section('waves', 'Distribution', waves.length + ' wave' + (waves.length > 1 ? 's' : ''), waveTable(waves)) : null;
    const rep = item.reports && typeof item.reports === 'object' ? item.reports : null;
    const repList = rep && Array.isArray(rep.reports) ? rep.reports : [];
    const reportSec = repList.length
      ? section('reports', 'Reports', int(rep.pending) + ' pending, weighing ' + num(rep.weight) +
          ' of ' + num(rep.threshold), reportCard(repList))
      : null;
    const counters = item.counters && typeof item.counters === 'object' ? item.counters : {};
    const seen = Object.keys(counters).filter((k) => counters[k]);
    const countSec = seen.length
      ? section('counters', 'Audience events', 'all waves', h('dl', { class: 'kv' },
        seen.map((k) => [h('dt', { class: k === 'report' ? 'bad' : null }, k), h('dd', { class: k === 'report' ? 'bad' : null }, String(counters[k]))])))
      : null;

    return h('article', { class: cls, id: 'card', 'data-item': item.id },
      head,
      h('div', { class: 'card-body' },
        h('div', { class: 'card-main' }, contentSec, transcriptSec, wavesSec, auditSec),
        h('div', { class: 'card-side' }, whySec, reportSec, matchSec, tagsSec, creatorSec, sigSec, countSec)));
  }

  // Who reported it, whether a feed had served it to them (a report from
  // anyone else weighs nothing by default), what each weighs, and how each
  // reporter's reports fared with people so far.
  function reportCard(list) {
    return h('table', { class: 'reports' },
      h('thead', null, h('tr', null, ['reporter', 'served', 'weight', 'their record', 'judged'].map((t) => h('th', null, t)))),
      h('tbody', null, list.map((r) => {
        const p = r.reporter && typeof r.reporter === 'object' ? r.reporter : {};
        return h('tr', { class: r.served ? null : 'muted' },
          h('td', null, text(r.user)),
          h('td', null, r.served ? 'yes' : 'no'),
          h('td', { class: 'num' }, num(r.weight)),
          h('td', { class: 'num', title: 'reports, upheld by people, dismissed by people' },
            int(p.reports) + ' · ' + int(p.upheld) + ' upheld · ' + int(p.dismissed) + ' dismissed'),
          h('td', { class: r.judged === 'upheld' ? 'bad' : null }, text(r.judged)));
      })));
  }

  // The item's waves so far: who saw it, how it did, what was decided.
  function waveTable(waves) {
    return h('table', { class: 'waves' },
      h('thead', null, h('tr', null, ['wave', 'audience', 'placed', 'seen', 'engaged', 'reports', 'decision', 'why'].map((t) => h('th', null, t)))),
      h('tbody', null, waves.map((w) => {
        const st = w.stats && typeof w.stats === 'object' ? w.stats : {};
        return h('tr', { class: st.report ? 'w-reported' : null },
          h('td', { class: 'num' }, num(w.n)),
          h('td', null, text(w.audience)),
          h('td', { class: 'num' }, num(w.placed) + (typeof w.size === 'number' ? ' / ' + int(w.size) : '')),
          h('td', { class: 'num', title: 'impressions' }, String(st.impression || 0)),
          h('td', { class: 'num', title: 'likes, completions and shares' }, String(typeof st.engaged === 'number' ? st.engaged
            : (st.like || 0) + (st.complete || 0) + (st.share || 0))),
          h('td', { class: 'num' + (st.report ? ' bad' : '') }, typeof st.report === 'number' ? String(st.report) : '–'),
          h('td', { title: w.ended_by ? 'ended by ' + w.ended_by : null },
            text(w.decision) || (w.ended_ms ? '' : 'running')),
          h('td', { class: 'muted' }, text(w.reason)));
      })));
  }

  function verdictActor(a) {
    if (typeof a !== 'string')
      return '–';
    if (a.startsWith('policy:'))
      return h('span', null, 'policy ', h('code', { title: 'policy version' }, a.slice(7)));
    if (a.startsWith('plugin:'))
      return h('span', null, 'plugin ', h('code', null, a.slice(7)));
    return actorName(a);
  }

  function creatorBlock(item) {
    const id = text(item.creator) || text(item.upload && item.upload.creator);
    const others = S.waiting.filter((w) => w.creator === id && w.id !== item.id);
    return [
      h('div', { class: 'creator-id' }, id || '–',
        id ? [' ', h('a', { class: 'creator-link', href: '#/creator/' + encodeURIComponent(id),
          title: 'Everything this creator uploaded, their standing and reports' }, 'creator page ', kbd('u'))] : null),
      h('p', { class: 'small muted' },
        others.length ? others.length + ' other upload' + (others.length > 1 ? 's' : '') + ' by this creator waiting:'
          : 'No other upload by this creator is waiting for review.'),
      others.length ? h('ul', { class: 'others small' }, others.slice(0, 8).map((w) =>
        h('li', null, text(w.title) || w.id, h('span', { class: 'muted' }, ' · ' + w.queue)))) : null,
    ];
  }

  function tagTable(tags) {
    const names = Object.keys(tags).sort((x, y) => (tags[y].confidence || 0) - (tags[x].confidence || 0));
    if (!names.length)
      return h('p', { class: 'muted small' }, 'No tags.');
    return h('table', { class: 'tags' }, h('tbody', null, names.map((n) => {
      const t = tags[n] || {};
      const c = typeof t.confidence === 'number' ? Math.max(0, Math.min(1, t.confidence)) : 0;
      const fill = h('span', { class: 'bar-fill' });
      fill.style.width = (c * 100).toFixed(1) + '%';
      return h('tr', null,
        h('td', { class: 'tag-name' }, n),
        h('td', { class: 'tag-bar' }, h('span', { class: 'bar' }, fill)),
        h('td', { class: 'tag-conf' }, num(t.confidence, 2)),
        h('td', { class: 'tag-src' }, h('span', { class: 'src src-' + text(t.source) }, text(t.source) || '?')));
    })));
  }

  // One row per thing found, with every field it was found in: a keyword
  // repeated through a transcript is one lead, not ten.
  function matchList(matches) {
    if (!matches.length)
      return h('p', { class: 'muted small' }, 'No plugin found anything.');
    const groups = new Map();
    for (const m of matches) {
      const key = [m.kind, m.name, m.detail].join('\u0000');
      if (!groups.has(key))
        groups.set(key, { m, fields: new Map(), n: 0 });
      const g = groups.get(key);
      g.n++;
      if (m.field)
        g.fields.set(m.field, (g.fields.get(m.field) || 0) + 1);
    }
    const rows = Array.from(groups.values());
    const kw = rows.filter((g) => g.m.kind !== 'hash');
    const hs = rows.filter((g) => g.m.kind === 'hash');
    const out = [];
    if (kw.length)
      out.push(h('table', { class: 'matches' },
        h('thead', null, h('tr', null, h('th', null, 'keyword'), h('th', null, 'where'), h('th', null, 'list'),
          h('th', { class: 'num' }, 'severity'))),
        h('tbody', null, kw.map((g) => h('tr', { class: 'm-kw' },
          h('td', null, h('mark', { class: 'kw' }, text(g.m.detail))),
          h('td', { class: 'muted' }, Array.from(g.fields).map(([f, n]) => f + (n > 1 ? ' ×' + n : '')).join(', ')),
          h('td', { title: 'found by ' + (text(g.m.source) || '?') }, text(g.m.name)),
          h('td', { class: 'num' + (g.m.score >= 0.9 ? ' bad' : '') }, num(g.m.score, 2)))))));
    if (hs.length)
      out.push(h('table', { class: 'matches' },
        h('thead', null, h('tr', null, h('th', null, 'hash'), h('th', null, 'bank'), h('th', { class: 'num' }, 'distance'))),
        h('tbody', null, hs.map((g) => h('tr', { class: 'm-hash' },
          h('td', null, h('code', null, text(g.m.detail))),
          h('td', null, text(g.m.name)),
          h('td', { class: 'num' + (g.m.score <= 4 ? ' bad' : '') }, num(g.m.score) + ' bits'))))));
    return out;
  }

  function auditList(records) {
    if (!records.length)
      return h('p', { class: 'muted small' }, 'No records.');
    return h('ol', { class: 'audit' }, records.map((r) => {
      const human = typeof r.actor === 'string' && r.actor.startsWith('token:');
      return h('li', { class: 'a-rec a-' + text(r.action) + (human ? ' a-human' : ''), 'data-action': text(r.action) },
        h('span', { class: 'a-time' }, time(r.ts_ms)),
        h('span', { class: 'a-action' }, text(r.action)),
        h('span', { class: 'a-actor' }, human ? actorName(r.actor) : verdictActor(r.actor)),
        h('span', { class: 'a-move' }, r.from || r.to ? (text(r.from) || '·') + ' → ' + (text(r.to) || '·') : ''),
        h('span', { class: 'a-reason' }, text(r.reason)));
    }));
  }

  function moveSection(delta) {
    const secs = Array.from(document.querySelectorAll('#card .sec'));
    if (!secs.length)
      return;
    S.section = Math.max(0, Math.min(secs.length - 1, S.section + delta));
    secs.forEach((el, i) => el.classList.toggle('sec-focus', i === S.section));
    secs[S.section].scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  // }========================================

  // {================ Reason picker ================

  const picker = { kind: null, index: 0, reasons: [] };

  function openPicker(kind) {
    const c = S.claim;
    if (!c || c.dead || S.busy)
      return;
    picker.kind = kind;
    picker.index = 0;
    picker.reasons = kind === 'reject' ? REJECT_REASONS : ESCALATE_REASONS;
    $('picker-title').textContent = kind === 'reject' ? 'Reject ' + c.id : 'Escalate ' + c.id;
    $('picker-sub').textContent = kind === 'reject'
      ? 'Why is it refused? The reason goes to the audit trail.'
      : 'The item moves to the escalated queue for someone else. Why?';
    const ok = $('picker-ok');
    clear(ok);
    append(ok, [kind === 'reject' ? 'Reject ' : 'Escalate ', kbd('Enter')]);
    ok.className = 'btn ' + (kind === 'reject' ? 'btn-danger' : 'btn-escalate');
    $('picker-note').value = '';
    $('picker-error').hidden = true;
    const list = clear($('picker-list'));
    picker.reasons.forEach((r, i) => {
      list.appendChild(h('li', { role: 'option', class: 'pick', 'data-index': String(i),
        onclick: () => { pickReason(i); confirmPicker(); } },
      kbd(String(i + 1)), ' ', r));
    });
    pickReason(0);
    $('picker').hidden = false;
    $('picker-list').focus();
  }

  function pickReason(i) {
    picker.index = Math.max(0, Math.min(picker.reasons.length - 1, i));
    Array.from($('picker-list').children).forEach((li, j) => {
      li.classList.toggle('picked', j === picker.index);
      li.setAttribute('aria-selected', j === picker.index ? 'true' : 'false');
    });
  }

  function confirmPicker() {
    const label = picker.reasons[picker.index];
    const note = $('picker-note').value.trim();
    if (label === 'Other' && !note) {
      $('picker-error').hidden = false;
      $('picker-error').textContent = 'Type the reason in the note for "Other".';
      $('picker-note').focus();
      return;
    }
    const reason = label === 'Other' ? note : (note ? label + ': ' + note : label);
    const kind = picker.kind;
    closeOverlays();
    decide(kind, reason);
  }

  function closeOverlays() {
    $('picker').hidden = true;
    $('help').hidden = true;
    picker.kind = null;
    for (const v of Object.values(extraViews))
      if (v.closeOverlays)
        v.closeOverlays();
  }

  // }========================================

  // {================ Stats ================

  async function pollStats() {
    clearTimeout(S.statsTimer);
    const root = $('stats');
    try {
      const data = await api('GET', '/v1/stats');
      if (typeof data.now_ms === 'number' && !S.skewKnown)
        S.skew = data.now_ms - Date.now();
      sampleDepth(Array.isArray(data.queues) ? data.queues : []);
      renderStats(root, data);
    } catch (e) {
      if (e.status !== 401) {
        clear(root).appendChild(h('p', { class: 'banner banner-bad' }, 'Statistics not available: ', e.message));
      }
    }
    if (S.token && S.view === 'stats')
      S.statsTimer = setTimeout(pollStats, POLL_STATS_MS);
  }

  function panel(id, title, sub, ...body) {
    return h('section', { class: 'panel', id }, h('h3', null, title, sub ? h('span', { class: 'sec-extra' }, sub) : null), body);
  }

  function renderStats(root, d) {
    const queues = Array.isArray(d.queues) ? d.queues : [];
    const byHour = Array.isArray(d.decisions_by_hour) ? d.decisions_by_hour : [];
    const mods = d.moderators && typeof d.moderators === 'object' ? d.moderators : {};
    const states = d.items && typeof d.items === 'object' ? d.items : {};
    const now = typeof d.now_ms === 'number' ? d.now_ms : serverNow();

    const waiting = queues.reduce((n, q) => n + (q.depth || 0), 0);
    const claimed = queues.reduce((n, q) => n + (q.claimed || 0), 0);
    const sumBy = (pred) => byHour.filter(pred).reduce((n, r) => n + (r.count || 0), 0);
    const human = sumBy((r) => r.action !== 'verdict');
    const auto = sumBy((r) => r.action === 'verdict');
    const oldest = queues.reduce((m, q) => (typeof q.oldest_ms === 'number' && (m === null || q.oldest_ms < m)) ? q.oldest_ms : m, null);

    clear(root).appendChild(h('div', { class: 'stats-grid' },
      h('div', { class: 'tiles' },
        tile('waiting', String(waiting), claimed ? claimed + ' claimed now' : 'none claimed'),
        tile('oldest wait', oldest === null ? '–' : age(now - oldest), 'across queues'),
        tile('people decided', String(human), 'last 24 h'),
        tile('automatic verdicts', String(auto), 'last 24 h'),
        tile('items', String(Object.values(states).reduce((n, v) => n + (typeof v === 'number' ? v : 0), 0)),
          Object.keys(states).sort().map((k) => k.replace('_', ' ') + ' ' + states[k]).join(' · ') || 'none')),
      panel('chart-queues', 'Queue depth', 'now', queueChart(queues, now)),
      panel('chart-depth', 'Waiting over time', 'sampled while this console is open', depthChart(S.depthSamples)),
      panel('chart-decisions', 'Decisions per hour', 'last 24 h', decisionsChart(byHour, now)),
      panel('chart-moderators', 'Per moderator', 'decisions, last 24 h', moderatorChart(mods)),
      distributionPanels(d),
      h('p', { class: 'muted small stats-foot' }, 'Updated ' + time(now) + ' · refreshes every ' + POLL_STATS_MS / 1000 + ' s')));
  }

  function tile(label, value, sub) {
    return h('div', { class: 'tile' }, h('div', { class: 'tile-value' }, value),
      h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-sub' }, sub));
  }

  function chartSvg(w, hgt, label) {
    return s('svg', { viewBox: '0 0 ' + w + ' ' + hgt, role: 'img', 'aria-label': label, class: 'chart' });
  }

  function legend(entries) {
    return h('div', { class: 'legend' }, entries.map(([cls, label]) =>
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch ' + cls }), label)));
  }

  // Horizontal bars, one per row: [label, [[value, cls, title]...], note].
  function hbars(rows, label, unit) {
    const rowH = 22, left = 140, w = 560, right = rows.some((r) => r[2]) ? 150 : 60;
    const max = Math.max(1, ...rows.map((r) => r[1].reduce((n, p) => n + p[0], 0)));
    const svg = chartSvg(w, Math.max(1, rows.length) * rowH + 8, label);
    rows.forEach((r, i) => {
      const y = 4 + i * rowH;
      svg.appendChild(s('text', { x: left - 8, y: y + 14, class: 'ax-label', 'text-anchor': 'end' }, r[0]));
      svg.appendChild(s('rect', { x: left, y: y + 3, width: w - left - right, height: rowH - 8, class: 'track' }));
      let x = left, total = 0;
      for (const [v, cls, title] of r[1]) {
        const bw = (w - left - right) * v / max;
        if (bw > 0)
          svg.appendChild(s('rect', { x, y: y + 3, width: bw, height: rowH - 8, class: cls, rx: 2 },
            s('title', null, title + ': ' + v)));
        x += bw;
        total += v;
      }
      svg.appendChild(s('text', { x: x + 6, y: y + 14, class: 'ax-value' }, int(total) + (unit || ''),
        r[2] ? s('tspan', { class: 'ax-note', dx: 8 }, r[2]) : null));
    });
    return svg;
  }

  function queueChart(queues, now) {
    if (!queues.length)
      return h('p', { class: 'muted' }, 'Every queue is empty.');
    const rows = queues.slice().sort((a, b) => (b.depth || 0) - (a.depth || 0)).map((q) => [
      q.name,
      [[q.claimed || 0, 'c-claimed', 'claimed'], [Math.max(0, (q.depth || 0) - (q.claimed || 0)), 'c-waiting', 'unclaimed']],
      typeof q.oldest_ms === 'number' ? 'oldest ' + age(now - q.oldest_ms) : '']);
    return [hbars(rows, 'Queue depth per queue'), legend([['c-waiting', 'unclaimed'], ['c-claimed', 'claimed']])];
  }

  function depthChart(samples) {
    const w = 560, hgt = 120, pad = 28;
    if (samples.length < 2)
      return h('p', { class: 'muted small' }, 'Collecting: the line starts after the next refresh.');
    const t0 = samples[0][0], t1 = samples[samples.length - 1][0];
    const max = Math.max(1, ...samples.map((p) => p[1]));
    const x = (t) => pad + (w - pad - 8) * (t1 > t0 ? (t - t0) / (t1 - t0) : 1);
    const y = (v) => hgt - 18 - (hgt - 30) * v / max;
    const svg = chartSvg(w, hgt, 'Total waiting over time');
    svg.appendChild(s('line', { x1: pad, x2: w - 8, y1: y(0), y2: y(0), class: 'axis' }));
    svg.appendChild(s('line', { x1: pad, x2: w - 8, y1: y(max), y2: y(max), class: 'grid' }));
    svg.appendChild(s('text', { x: pad - 4, y: y(max) + 4, class: 'ax-label', 'text-anchor': 'end' }, String(max)));
    svg.appendChild(s('text', { x: pad - 4, y: y(0) + 4, class: 'ax-label', 'text-anchor': 'end' }, '0'));
    const pts = samples.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ');
    svg.appendChild(s('polyline', { points: pts, class: 'line' }));
    svg.appendChild(s('text', { x: pad, y: hgt - 3, class: 'ax-label' }, time(t0)));
    svg.appendChild(s('text', { x: w - 8, y: hgt - 3, class: 'ax-label', 'text-anchor': 'end' }, time(t1)));
    return svg;
  }

  const ACTIONS = [['verdict', 'c-verdict', 'automatic'], ['approve', 'c-approve', 'approve'],
    ['reject', 'c-reject', 'reject'], ['escalate', 'c-escalate', 'escalate']];

  function decisionsChart(rows, now) {
    const HOUR = 3600000, w = 560, hgt = 160, left = 30, bottom = 20;
    const last = Math.floor(now / HOUR) * HOUR;
    const hours = [];
    for (let i = 23; i >= 0; i--)
      hours.push(last - i * HOUR);
    const at = new Map(hours.map((t) => [t, {}]));
    for (const r of rows) {
      const slot = at.get(r.hour_ms);
      if (slot && typeof r.count === 'number')
        slot[r.action] = (slot[r.action] || 0) + r.count;
    }
    const max = Math.max(1, ...hours.map((t) => Object.values(at.get(t)).reduce((n, v) => n + v, 0)));
    const svg = chartSvg(w, hgt, 'Decisions per hour over the last 24 hours');
    const plotH = hgt - bottom - 10, bw = (w - left - 4) / 24;
    const y = (v) => 10 + plotH - plotH * v / max;
    svg.appendChild(s('line', { x1: left, x2: w - 4, y1: y(max), y2: y(max), class: 'grid' }));
    svg.appendChild(s('text', { x: left - 4, y: y(max) + 4, class: 'ax-label', 'text-anchor': 'end' }, String(max)));
    svg.appendChild(s('line', { x1: left, x2: w - 4, y1: y(0), y2: y(0), class: 'axis' }));
    svg.appendChild(s('text', { x: left - 4, y: y(0) + 4, class: 'ax-label', 'text-anchor': 'end' }, '0'));
    hours.forEach((t, i) => {
      const slot = at.get(t);
      let acc = 0;
      const x = left + i * bw + 1;
      for (const [action, cls, label] of ACTIONS) {
        const v = slot[action] || 0;
        if (!v)
          continue;
        svg.appendChild(s('rect', { x, y: y(acc + v), width: bw - 2, height: y(acc) - y(acc + v), class: cls },
          s('title', null, new Date(t).getHours() + ':00 ' + label + ': ' + v)));
        acc += v;
      }
      if (i % 3 === 0 || i === 23)
        svg.appendChild(s('text', { x: x + bw / 2, y: hgt - 5, class: 'ax-label', 'text-anchor': 'middle' },
          String(new Date(t).getHours()).padStart(2, '0') + 'h'));
    });
    return [svg, legend(ACTIONS.map(([, cls, label]) => [cls, label]))];
  }

  function moderatorChart(mods) {
    const names = Object.keys(mods);
    if (!names.length)
      return h('p', { class: 'muted' }, 'No moderator has decided anything in the last 24 hours.');
    const total = (m) => (m.approve || 0) + (m.reject || 0) + (m.escalate || 0);
    names.sort((a, b) => total(mods[b] || {}) - total(mods[a] || {}));
    const rows = names.slice(0, 20).map((n) => {
      const m = mods[n] || {};
      return [actorName(n), [[m.approve || 0, 'c-approve', 'approve'], [m.reject || 0, 'c-reject', 'reject'],
        [m.escalate || 0, 'c-escalate', 'escalate']], ''];
    });
    return [hbars(rows, 'Decisions per moderator'), legend(ACTIONS.slice(1).map(([, cls, label]) => [cls, label]))];
  }

  // The funnel is {"wave1": n, ..., "wave8+": n}: items that reached each
  // wave. Keys are put in wave order whatever order they arrive in.
  function funnelStages(f) {
    if (!f || typeof f !== 'object' || Array.isArray(f))
      return [];
    const order = (k) => {
      const m = /(\d+)/.exec(k);
      return m ? Number(m[1]) + (k.endsWith('+') ? 0.5 : 0) : Infinity;
    };
    return Object.keys(f).filter((k) => typeof f[k] === 'number' && isFinite(f[k]))
      .sort((a, b) => order(a) - order(b) || (a < b ? -1 : 1))
      .map((k) => [k.replace(/^wave(\d)/, 'wave $1'), f[k]]);
  }

  function funnelChart(stages) {
    const w = 560, rowH = 22, left = 80, span = 330;
    const max = Math.max(1, ...stages.map((p) => p[1]));
    const svg = chartSvg(w, stages.length * rowH + 4, 'Wave funnel: items that reached each wave');
    stages.forEach(([name, v], i) => {
      const y = 2 + i * rowH;
      svg.appendChild(s('text', { x: left - 8, y: y + 14, class: 'ax-label', 'text-anchor': 'end' }, name));
      svg.appendChild(s('rect', { x: left, y: y + 3, width: span, height: rowH - 8, class: 'track', rx: 2 }));
      if (v > 0)
        svg.appendChild(s('rect', { x: left, y: y + 3, width: Math.max(2, span * v / max), height: rowH - 8, class: 'c-funnel', rx: 2 },
          s('title', null, name + ': ' + int(v) + ' items')));
      const prev = i ? stages[i - 1][1] : 0;
      svg.appendChild(s('text', { x: left + span + 8, y: y + 14, class: 'ax-value' }, int(v),
        i && prev > 0 ? s('tspan', { class: 'ax-note', dx: 8 }, pct(v / prev) + ' of ' + stages[i - 1][0]) : null));
    });
    return svg;
  }

  const WAVE_DECISIONS = ['continue', 'switch', 'stop', 'skip', 'review', 'error'];

  function waveDecisionChart(dec) {
    const names = WAVE_DECISIONS.filter((k) => typeof dec[k] === 'number')
      .concat(Object.keys(dec).filter((k) => !WAVE_DECISIONS.includes(k) && typeof dec[k] === 'number'));
    if (!names.length)
      return null;
    const cls = { continue: 'c-approve', switch: 'c-waiting', stop: 'c-verdict', skip: 'c-verdict', review: 'c-escalate', error: 'c-reject' };
    return hbars(names.map((k) => [k, [[dec[k], cls[k] || 'c-verdict', k]], '']), 'Wave decisions');
  }

  function sharesChart(sh) {
    const served = typeof sh.served === 'number' ? sh.served : null;
    const pub = typeof sh.served_public === 'number' ? sh.served_public : null;
    const sub = served === null ? null : h('p', { class: 'muted small' },
      int(served) + ' items served from feeds' + (pub === null ? '' : ', ' + int(pub) + ' of them public') + '.');
    if (served === 0)
      return [h('p', { class: 'muted' }, 'No feed traffic yet.'), sub];
    const rows = [
      ['private', sh.private, 'of served items, from creators the user follows'],
      ['ordinary creators', sh.ordinary, 'of public traffic, to creators outside the head'],
      ['Gini', sh.gini, 'exposure over creators: 0 even, 1 all to one'],
    ].filter((r) => typeof r[1] === 'number' && isFinite(r[1]));
    if (!rows.length)
      return h('p', { class: 'muted' }, 'No traffic shares in the statistics.');
    const w = 560, rowH = 34, left = 140, span = 300;
    const svg = chartSvg(w, rows.length * rowH + 4, 'Traffic shares');
    rows.forEach(([name, v, note], i) => {
      const y = 2 + i * rowH, c = Math.max(0, Math.min(1, v));
      const label = name === 'Gini' ? v.toFixed(3) : pct(v);
      svg.appendChild(s('text', { x: left - 8, y: y + 14, class: 'ax-label', 'text-anchor': 'end' }, name));
      svg.appendChild(s('rect', { x: left, y: y + 4, width: span, height: 12, class: 'track', rx: 2 }));
      svg.appendChild(s('rect', { x: left, y: y + 4, width: span * c, height: 12, class: name === 'Gini' ? 'c-gini' : 'c-share', rx: 2 },
        s('title', null, name + ': ' + label)));
      svg.appendChild(s('text', { x: left + span + 8, y: y + 14, class: 'ax-value' }, label));
      svg.appendChild(s('text', { x: left, y: y + 29, class: 'ax-note' }, note));
    });
    return [svg, sub];
  }

  function distributionPanels(d) {
    const hasF = d.funnel && typeof d.funnel === 'object';
    const hasS = d.shares && typeof d.shares === 'object';
    if (!hasF && !hasS)
      return panel('chart-distribution', 'Distribution', '', h('p', { class: 'muted', id: 'no-distribution' }, 'No distribution data yet.'));
    const stages = hasF ? funnelStages(d.funnel) : [];
    const dec = d.decisions && typeof d.decisions === 'object' ? waveDecisionChart(d.decisions) : null;
    return [
      panel('chart-funnel', 'Wave funnel', 'items that reached each wave',
        stages.length ? funnelChart(stages) : h('p', { class: 'muted' }, 'No distribution data yet.'),
        dec ? [h('h4', { class: 'sub-head' }, 'Decisions after a wave'), dec] : null),
      panel('chart-shares', 'Traffic shares', 'feeds',
        hasS ? sharesChart(d.shares) : h('p', { class: 'muted' }, 'No distribution data yet.')),
    ];
  }

  // }========================================

  // {================ Keyboard ================

  function onKey(ev) {
    if (!S.token || ev.ctrlKey || ev.metaKey || ev.altKey)
      return;
    const tgt = ev.target;
    const typing = tgt && (tgt.tagName === 'INPUT' || tgt.tagName === 'TEXTAREA' || tgt.isContentEditable);

    if (!$('picker').hidden) {
      if (ev.key === 'Escape') {
        closeOverlays();
      } else if (ev.key === 'Enter') {
        confirmPicker();
      } else if (typing) {
        return;
      } else if (/^[1-9]$/.test(ev.key) && Number(ev.key) <= picker.reasons.length) {
        pickReason(Number(ev.key) - 1);
      } else if (ev.key === 'j' || ev.key === 'ArrowDown') {
        pickReason(picker.index + 1);
      } else if (ev.key === 'k' || ev.key === 'ArrowUp') {
        pickReason(picker.index - 1);
      } else if (ev.key === 'n') {
        $('picker-note').focus();
      } else {
        return;
      }
      ev.preventDefault();
      return;
    }
    if (!$('help').hidden) {
      if (ev.key === 'Escape' || ev.key === '?') {
        closeOverlays();
        ev.preventDefault();
      }
      return;
    }
    if (extraViews[S.view] && extraViews[S.view].key(ev, typing)) {
      ev.preventDefault();
      return;
    }
    if (typing)
      return;
    if (ev.key === '?') {
      $('help').hidden = false;
      $('help').querySelector('[data-close]').focus();
    } else if (ev.key === 'q') {
      location.hash = '#/queue';
    } else if (ev.key === 's') {
      location.hash = '#/stats';
    } else if (ev.key === '/') {
      location.hash = '#/search';
    } else if (S.view !== 'queue') {
      return;
    } else if (ev.key === 'u') {
      const it = S.claim ? S.claim.item : null;
      if (it && it.creator)
        location.hash = '#/creator/' + encodeURIComponent(it.creator);
      else
        toast('No item open: claim one (c), or search (/).');
    } else if (ev.key === 'c' || (ev.key === 'Enter' && tgt === document.body)) {
      if (S.claim && !S.claim.dead)
        toast('Decide ' + S.claim.id + ' first (a, r or e).');
      else
        claimNext(S.selected);
    } else if (ev.key === 'j' || ev.key === 'k') {
      if (S.claim)
        moveSection(ev.key === 'j' ? 1 : -1);
      else
        moveQueue(ev.key === 'j' ? 1 : -1);
    } else if (ev.key === 'a') {
      if (claimOpen())
        decide('approve');
    } else if (ev.key === 'r') {
      if (claimOpen())
        openPicker('reject');
    } else if (ev.key === 'e') {
      if (claimOpen())
        openPicker('escalate');
    } else {
      return;
    }
    ev.preventDefault();
  }

  // Decision keys without a live claim are answered in words, not ignored.
  function claimOpen() {
    if (S.claim && !S.claim.dead)
      return true;
    if (S.claim && S.claim.dead === 'expired')
      toast('Your lease on ' + S.claim.id + ' expired: press c to claim again.', 'bad');
    else if (S.claim)
      toast('This item is not yours any more: press c for the next.', 'bad');
    else
      toast('No item claimed: press c to claim one.');
    return false;
  }

  function activity() {
    S.lastActivity = Date.now();
  }

  // }========================================

  // What investigate.js shares of this file: the helpers, not the state.
  window.SL = {
    h, clear, kbd, api, toast, time, age, num, int, text, actorName, verdictActor, card,
    auditList, serverNow, closeOverlays,
    me: () => S.me,
    view: (name, v) => { extraViews[name] = v; },
  };

  function init() {
    $('login-form').addEventListener('submit', onLoginSubmit);
    $('logout').addEventListener('click', () => signOut(''));
    $('help-btn').addEventListener('click', () => { $('help').hidden = false; });
    $('picker-ok').addEventListener('click', confirmPicker);
    for (const b of document.querySelectorAll('[data-close]'))
      b.addEventListener('click', closeOverlays);
    for (const o of document.querySelectorAll('.overlay'))
      o.addEventListener('click', (ev) => { if (ev.target === o) closeOverlays(); });
    document.addEventListener('keydown', onKey);
    for (const t of ['keydown', 'mousedown', 'mousemove', 'wheel', 'touchstart'])
      document.addEventListener(t, activity, { passive: true, capture: true });
    window.addEventListener('hashchange', () => { if (S.token) route(); });

    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      showLogin('');
      return;
    }
    S.token = token;
    signIn(token).then(enter, (e) => {
      if (e.status !== 401)
        showLogin(e.status === 403 ? 'This token may not review.' : e.message);
    });
  }

  if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', init);
  else
    init();
})();
