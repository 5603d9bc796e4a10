// SPDX-License-Identifier: MIT
// The console's investigation views: Search (filters, text, results with
// state, tags and who decided, bulk actions with their dry run, jobs and
// four eyes) and a creator's page. Keyboard-first like the queue; every
// string from the API reaches the page as text, never as markup.
'use strict';

(function () {
  const SL = window.SL;
  const { h, clear, kbd, api, toast, time, int, text, actorName } = SL;
  const $ = (id) => document.getElementById(id);
  const JOBS_POLL_MS = 3000;
  const JOB_POLL_MS = 400;
  const ACTIONS = {
    takedown: { verb: 'Take down', key: 'T', cls: 'btn-reject' },
    review: { verb: 'Send to review', key: 'V', cls: 'btn-escalate' },
    restore: { verb: 'Restore', key: 'R', cls: 'btn-approve' },
  };
  const FIELDS = ['q', 'creator', 'state', 'tag', 'tag_min', 'queue', 'matched', 'decided_by',
    'since', 'until'];

  const V = {
    filters: {},         // the search shown: {name: value}
    items: [],
    next: null,
    partial: false,
    sel: -1,
    open: null,          // the item whose card is open
    creator: null,       // the creator page's answer
    csel: -1,
    jobsTimer: 0,
    bulk: null,          // {action, filters, dry, job, timer}
  };

  // {================ Filters ================

  // The form's values, as the API names them (times as milliseconds).
  function formFilters() {
    const f = {};
    for (const k of FIELDS) {
      const el = $('sf-' + k);
      const v = el ? el.value.trim() : '';
      if (!v)
        continue;
      if (k === 'since' || k === 'until') {
        const ms = new Date(v).getTime();
        if (isFinite(ms))
          f[k + '_ms'] = String(ms);
      } else {
        f[k] = v;
      }
    }
    return f;
  }

  function fillForm(f) {
    for (const k of FIELDS) {
      const el = $('sf-' + k);
      if (!el)
        continue;
      if (k === 'since' || k === 'until') {
        const ms = Number(f[k + '_ms']);
        el.value = f[k + '_ms'] && isFinite(ms) ? localInput(ms) : '';
      } else {
        el.value = f[k] || '';
      }
    }
  }

  function localInput(ms) {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 16);
  }

  function query(f, extra) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(Object.assign({}, f, extra || {})))
      if (v !== undefined && v !== null && v !== '')
        p.set(k, v);
    return p.toString().replace(/\+/g, '%20');
  }

  // A bulk body's search: states as a list, numbers as numbers.
  function bulkSearch(f) {
    const s = {};
    for (const [k, v] of Object.entries(f)) {
      if (k === 'state')
        s.state = v.split(',').map((x) => x.trim()).filter(Boolean);
      else if (k === 'since_ms' || k === 'until_ms' || k === 'tag_min')
        s[k] = Number(v);
      else
        s[k] = v;
    }
    return s;
  }

  function describe(f) {
    const parts = Object.entries(f).map(([k, v]) =>
      k.endsWith('_ms') ? k.replace('_ms', '') + ' ' + time(Number(v)) : k + ' ' + v);
    return parts.length ? parts.join(' · ') : 'everything';
  }

  // }========================================

  // {================ Search ================

  async function runSearch(f, more) {
    const status = $('search-status');
    if (!more) {
      V.filters = f;
      V.items = [];
      V.next = null;
      V.sel = -1;
      closeItem();
    }
    status.textContent = 'Searching…';
    status.className = 'search-status muted';
    try {
      const data = await api('GET', '/v1/items?' + query(V.filters,
        more && V.next ? { cursor: V.next, limit: 50 } : { limit: 50 }));
      V.items = V.items.concat(Array.isArray(data.items) ? data.items : []);
      V.next = data.next || null;
      V.partial = !!data.partial;
      if (V.sel < 0 && V.items.length)
        V.sel = 0;
      renderResults();
      status.className = 'search-status';
      status.textContent = (V.items.length ? int(V.items.length) + ' shown' : 'Nothing found') +
        ' · ' + describe(V.filters) +
        (V.next ? (V.partial ? ' · stopped at the time bound: more with ' : ' · more with ') : '') +
        (data.took_ms !== undefined ? ' (' + data.took_ms + ' ms)' : '');
      if (V.next)
        status.appendChild(kbd('m'));
    } catch (e) {
      status.className = 'search-status bad';
      status.textContent = e.message;
    }
  }

  function submitSearch(ev) {
    if (ev)
      ev.preventDefault();
    const f = formFilters();
    const hash = '#/search' + (Object.keys(f).length ? '?' + query(f) : '');
    if (location.hash !== hash)
      history.replaceState(null, '', hash);
    runSearch(f, false);
    if (document.activeElement && document.activeElement.blur)
      document.activeElement.blur();
  }

  function decidedText(d) {
    if (!d || typeof d !== 'object')
      return '–';
    return text(d.action) + ' by ' + actorName(d.actor);
  }

  function topTags(tags) {
    if (!tags || typeof tags !== 'object')
      return '';
    return Object.keys(tags)
      .sort((a, b) => ((tags[b] || {}).confidence || 0) - ((tags[a] || {}).confidence || 0))
      .slice(0, 3).map((k) => k + ' ' + SL.num((tags[k] || {}).confidence, 2)).join(', ');
  }

  function renderResults() {
    const body = clear($('search-rows'));
    if (!V.items.length) {
      body.appendChild(h('tr', null, h('td', { colspan: 7, class: 'muted' },
        'No item matches. Change the filters (/) and press Enter.')));
      return;
    }
    V.items.forEach((it, i) => {
      body.appendChild(h('tr', {
        class: 'sr' + (i === V.sel ? ' selected' : ''), 'data-item': it.id,
        onclick: () => { V.sel = i; renderResults(); openItem(); },
      },
      h('td', null, h('span', { class: 'chip chip-state st-' + text(it.state) }, text(it.state).replace('_', ' '))),
      h('td', { class: 'mono' }, it.id),
      h('td', { class: 'sr-title' }, text(it.title)),
      h('td', null, h('a', { href: '#/creator/' + encodeURIComponent(it.creator) }, text(it.creator))),
      h('td', { class: 'small' }, topTags(it.tags),
        Array.isArray(it.matches) && it.matches.length
          ? h('div', { class: 'small bad' }, it.matches.map((m) => text(m.kind) + ':' + text(m.name)).join(', ')) : null),
      h('td', { class: 'small' }, decidedText(it.decided), it.queue ? h('div', { class: 'muted' }, 'in ' + it.queue) : null),
      h('td', { class: 'small muted' }, time(it.created_ms))));
    });
    const row = body.children[V.sel];
    if (row)
      row.scrollIntoView({ block: 'nearest' });
  }

  function move(delta) {
    if (!V.items.length)
      return;
    V.sel = Math.max(0, Math.min(V.items.length - 1, V.sel + delta));
    renderResults();
    if (V.open)
      openItem();
  }

  async function openItem() {
    const it = V.items[V.sel];
    if (!it)
      return;
    V.open = it.id;
    const panel = clear($('search-item'));
    panel.hidden = false;
    panel.appendChild(h('p', { class: 'muted' }, 'Loading ' + it.id + '…'));
    try {
      const item = await api('GET', '/v1/items/' + encodeURIComponent(it.id));
      if (V.open !== it.id)
        return;
      clear(panel).appendChild(SL.card(item, null));
    } catch (e) {
      clear(panel).appendChild(h('p', { class: 'bad' }, e.message));
    }
  }

  function closeItem() {
    V.open = null;
    const panel = $('search-item');
    if (panel) {
      panel.hidden = true;
      clear(panel);
    }
  }

  // }========================================

  // {================ Jobs ================

  function jobLine(j) {
    const mine = j.created_by === V.you;
    const total = j.total >= 0 ? (j.total_exact ? '' : '≥') + int(j.total) : '?';
    return h('li', { class: 'job job-' + text(j.state), 'data-job': j.id },
      h('span', { class: 'mono' }, j.id), ' ',
      h('strong', null, text(j.kind) + ' ' + text(j.action)), ' ',
      h('span', { class: 'chip' }, text(j.state).replace('_', ' ')), ' ',
      h('span', { class: 'small' }, int(j.acted) + ' acted, ' + int(j.skipped) + ' left, of ' + total +
        ' · by ' + actorName(j.created_by) + (j.confirmed_by ? ', confirmed by ' + actorName(j.confirmed_by) : '')),
      j.state === 'awaiting_confirmation' && !mine
        ? h('button', { type: 'button', class: 'btn btn-primary btn-small', onclick: () => confirmJob(j.id) },
          'Confirm ', kbd('c')) : null,
      j.state === 'awaiting_confirmation' || j.state === 'running'
        ? h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: () => cancelJob(j.id) },
          'Cancel') : null);
  }

  async function loadJobs() {
    clearTimeout(V.jobsTimer);
    try {
      const data = await api('GET', '/v1/bulk?limit=8');
      V.jobs = Array.isArray(data.jobs) ? data.jobs : [];
      V.you = typeof data.you === 'string' ? data.you : null;
      const ul = clear($('jobs'));
      if (!V.jobs.length)
        ul.appendChild(h('li', { class: 'muted small' }, 'No bulk job yet.'));
      for (const j of V.jobs)
        ul.appendChild(jobLine(j));
    } catch (e) {
      // the list stays as it was
    }
    if (!$('view-search').hidden)
      V.jobsTimer = setTimeout(loadJobs, JOBS_POLL_MS);
  }

  async function confirmJob(id) {
    try {
      const j = await api('POST', '/v1/bulk/' + encodeURIComponent(id) + '/confirm');
      toast('Confirmed ' + j.id + ': ' + j.action + ' runs.', 'good');
    } catch (e) {
      toast(e.message, 'bad');
    }
    loadJobs();
  }

  async function cancelJob(id) {
    try {
      await api('POST', '/v1/bulk/' + encodeURIComponent(id) + '/cancel');
      toast('Cancelled ' + id + '.', 'good');
    } catch (e) {
      toast(e.message, 'bad');
    }
    loadJobs();
  }

  // The newest job waiting for someone else's confirmation.
  function confirmNewest() {
    const j = (V.jobs || []).find((x) => x.state === 'awaiting_confirmation' && x.created_by !== V.you);
    if (j)
      confirmJob(j.id);
    else
      toast('No bulk job waits for your confirmation.');
  }

  // }========================================

  // {================ Bulk dialog ================

  // Opens on the search shown (or a creator's items): the dry run first,
  // then, with a reason, the job; its progress until it ends.
  async function openBulk(action, filters, route) {
    if (!Object.keys(filters).length) {
      toast('Search first: a bulk action needs at least one filter.', 'bad');
      return;
    }
    const a = ACTIONS[action];
    V.bulk = { action, filters, route, dry: null, job: null, timer: 0 };
    $('bulk-title').textContent = a.verb + ': ' + describe(filters);
    const ok = clear($('bulk-ok'));
    ok.className = 'btn ' + a.cls;
    ok.disabled = true;
    ok.appendChild(document.createTextNode(a.verb + ' '));
    ok.appendChild(kbd('Enter'));
    $('bulk-reason').value = '';
    $('bulk-reason').disabled = false;
    $('bulk-error').hidden = true;
    clear($('bulk-body')).appendChild(h('p', { class: 'muted' }, 'Counting (a dry run changes nothing)…'));
    $('bulk').hidden = false;
    $('bulk-reason').focus();
    try {
      const dry = await route(action, filters, { dry_run: true });
      if (!V.bulk || V.bulk.action !== action)
        return;
      V.bulk.dry = dry;
      const body = clear($('bulk-body'));
      body.appendChild(h('p', { class: 'bulk-count', id: 'bulk-count' },
        h('strong', null, (dry.exact ? '' : 'at least ') + int(dry.count)), ' items would be ',
        action === 'takedown' ? 'taken down' : action === 'review' ? 'sent to people' : 'restored to people',
        dry.needs_confirmation
          ? h('span', { class: 'warn' }, ' · more than ' + int(dry.confirm_above) + ': a second moderator must confirm')
          : null));
      const sample = Array.isArray(dry.sample) ? dry.sample : [];
      if (sample.length)
        body.appendChild(h('ul', { class: 'bulk-sample small' }, sample.slice(0, 8).map((it) =>
          h('li', null, h('span', { class: 'mono' }, it.id), ' ', text(it.state), ' · ', text(it.title)))));
      ok.disabled = !dry.count;
    } catch (e) {
      bulkError(e.message);
    }
  }

  function bulkError(msg) {
    const el = $('bulk-error');
    el.hidden = false;
    el.textContent = msg;
  }

  async function runBulk() {
    const b = V.bulk;
    if (!b || !b.dry || b.job)
      return;
    const reason = $('bulk-reason').value.trim();
    if (!reason) {
      bulkError('A reason is needed: every item\'s audit record carries it.');
      $('bulk-reason').focus();
      return;
    }
    $('bulk-ok').disabled = true;
    $('bulk-error').hidden = true;
    try {
      b.job = await b.route(b.action, b.filters, { reason });
      $('bulk-reason').disabled = true;
      showJob(b.job);
    } catch (e) {
      $('bulk-ok').disabled = false;
      bulkError(e.message);
    }
  }

  function showJob(j) {
    const b = V.bulk;
    if (!b)
      return;
    b.job = j;
    const body = $('bulk-body');
    let line = $('bulk-job');
    if (!line) {
      line = h('p', { id: 'bulk-job', class: 'bulk-job' });
      body.appendChild(line);
    }
    clear(line).appendChild(h('span', null, 'Job ', h('span', { class: 'mono' }, j.id), ': ',
      h('strong', { 'data-state': j.state }, text(j.state).replace('_', ' ')), ' · ',
      int(j.acted) + ' acted on, ' + int(j.skipped) + ' left as they were',
      j.state === 'awaiting_confirmation'
        ? h('span', { class: 'warn' }, ' · another moderator confirms it (Search, jobs, c)') : null,
      j.error ? h('span', { class: 'bad' }, ' · ' + text(j.error)) : null));
    clearTimeout(b.timer);
    if (j.state === 'running' || j.state === 'awaiting_confirmation')
      b.timer = setTimeout(async () => {
        try {
          showJob(await api('GET', '/v1/bulk/' + encodeURIComponent(j.id)));
        } catch (e) {
          bulkError(e.message);
        }
      }, JOB_POLL_MS);
    else if (j.state === 'done')
      toast(ACTIONS[b.action].verb + ': ' + int(j.acted) + ' items (job ' + j.id + ').', 'good');
    loadJobs();
  }

  function closeBulk() {
    if (V.bulk)
      clearTimeout(V.bulk.timer);
    const done = V.bulk && V.bulk.job;
    V.bulk = null;
    const el = $('bulk');
    if (el)
      el.hidden = true;
    if (done && !$('view-search').hidden)
      runSearch(V.filters, false);
    if (done && !$('view-creator').hidden && V.creator)
      loadCreator(V.creator.creator);
  }

  // The search's bulk route.
  function searchBulk(action, filters, extra) {
    return api('POST', '/v1/bulk', Object.assign({ action, search: bulkSearch(filters) },
      extra.dry_run ? { dry_run: true } : { reason: extra.reason }));
  }

  // }========================================

  // {================ Creator ================

  async function loadCreator(id) {
    const root = clear($('creator'));
    root.appendChild(h('p', { class: 'muted' }, 'Loading ' + id + '…'));
    try {
      const p = await api('GET', '/v1/creators/' + encodeURIComponent(id));
      V.creator = p;
      V.csel = Math.min(Math.max(V.csel, 0), (p.recent || []).length - 1);
      renderCreator();
    } catch (e) {
      V.creator = null;
      clear(root).appendChild(h('p', { class: 'banner banner-bad' }, e.message));
    }
  }

  function renderCreator() {
    const p = V.creator;
    const root = clear($('creator'));
    const st = p.standing || {};
    const sus = p.suspension;
    const rep = p.reports || {};
    const me = p.reporter;
    const states = p.states && typeof p.states === 'object' ? p.states : {};
    root.appendChild(h('div', { class: 'creator-head' },
      h('h2', null, 'Creator ', h('span', { class: 'mono', id: 'creator-id' }, p.creator)),
      sus ? h('span', { class: 'chip chip-dead', id: 'creator-suspended' },
        'suspended: uploads ' + (sus.mode === 'refuse' ? 'refused' : 'held for review')) : null,
      h('div', { class: 'creator-actions' },
        sus ? null : h('button', { type: 'button', class: 'btn btn-escalate', id: 'creator-suspend',
          onclick: () => openSuspend() }, 'Suspend ', kbd('H')),
        h('button', { type: 'button', class: 'btn btn-reject', id: 'creator-takedown',
          onclick: () => openBulk('takedown', { creator: p.creator }, creatorBulk) }, 'Take down everything ', kbd('T')),
        h('button', { type: 'button', class: 'btn btn-approve', id: 'creator-restore',
          onclick: () => openBulk('restore', { creator: p.creator }, creatorBulk) }, 'Restore ', kbd('R')),
        h('a', { class: 'btn btn-quiet', href: '#/search?' + query({ creator: p.creator }) }, 'Search their items ', kbd('f')))));
    if (sus)
      root.appendChild(h('div', { class: 'banner banner-warn' },
        h('strong', null, 'Suspended '), 'by ' + actorName(sus.by) + ' at ' + time(sus.since_ms) + ': ', text(sus.reason),
        '. Restore (R) lifts it and sends their removed items back to people.'));
    root.appendChild(h('div', { class: 'tiles' },
      tile('uploads', int(st.uploads), int(st.rejections) + ' rejected'),
      tile('items now', int(Object.values(states).reduce((n, v) => n + (typeof v === 'number' ? v : 0), 0)),
        Object.keys(states).sort().map((k) => k.replace('_', ' ') + ' ' + states[k]).join(' · ') || 'none'),
      tile('reports against', int(rep.reports), int(rep.items) + ' items · ' + int(rep.pending) + ' pending · ' +
        int(rep.upheld) + ' upheld · ' + int(rep.dismissed) + ' dismissed'),
      tile('as a reporter', me ? int(me.reports) : '–',
        me ? int(me.upheld) + ' upheld · ' + int(me.dismissed) + ' dismissed' : 'never reported')));
    const recent = Array.isArray(p.recent) ? p.recent : [];
    root.appendChild(h('h3', null, 'Newest uploads', h('span', { class: 'sec-extra' }, 'j / k, o opens')));
    root.appendChild(h('table', { class: 'results' }, h('tbody', { id: 'creator-rows' },
      recent.length ? recent.map((it, i) => h('tr', {
        class: 'sr' + (i === V.csel ? ' selected' : ''), 'data-item': it.id,
        onclick: () => { V.csel = i; renderCreator(); openCreatorItem(); },
      },
      h('td', null, h('span', { class: 'chip chip-state st-' + text(it.state) }, text(it.state).replace('_', ' '))),
      h('td', { class: 'mono' }, it.id), h('td', null, text(it.title)),
      h('td', { class: 'small' }, decidedText(it.decided)), h('td', { class: 'small muted' }, time(it.created_ms))))
        : h('tr', null, h('td', { class: 'muted' }, 'No upload.')))));
    const reps = Array.isArray(rep.recent) ? rep.recent : [];
    if (reps.length) {
      root.appendChild(h('h3', null, 'Reports against their items'));
      root.appendChild(h('table', { class: 'reports' }, h('tbody', null, reps.map((r) => h('tr', null,
        h('td', { class: 'mono' }, text(r.item)), h('td', null, text(r.user)),
        h('td', null, r.served ? 'served' : 'not served'), h('td', { class: 'num' }, SL.num(r.weight, 2)),
        h('td', { class: r.judged === 'upheld' ? 'bad' : null }, text(r.judged)), h('td', { class: 'muted small' }, time(r.ts_ms)))))));
    }
    root.appendChild(h('div', { id: 'creator-item', class: 'search-item', hidden: true }));
  }

  function tile(label, value, sub) {
    return h('div', { class: 'tile' }, h('div', { class: 'tile-value' }, value),
      h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-sub' }, sub));
  }

  async function openCreatorItem() {
    const it = V.creator && (V.creator.recent || [])[V.csel];
    const panel = $('creator-item');
    if (!it || !panel)
      return;
    panel.hidden = false;
    try {
      const item = await api('GET', '/v1/items/' + encodeURIComponent(it.id));
      clear(panel).appendChild(SL.card(item, null));
      panel.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      clear(panel).appendChild(h('p', { class: 'bad' }, e.message));
    }
  }

  // A creator's takedown and restore are bulk actions of their own routes.
  async function creatorBulk(action, filters, extra) {
    const path = '/v1/creators/' + encodeURIComponent(filters.creator) + '/' + action;
    return api('POST', path, extra.dry_run ? { dry_run: true, reason: 'dry run' } : { reason: extra.reason });
  }

  function openSuspend() {
    if (!V.creator)
      return;
    $('suspend-title').textContent = 'Suspend ' + V.creator.creator;
    $('suspend-reason').value = '';
    $('suspend-error').hidden = true;
    $('suspend').hidden = false;
    $('suspend-reason').focus();
  }

  async function runSuspend() {
    const reason = $('suspend-reason').value.trim();
    const mode = $('suspend-mode').value;
    if (!reason) {
      $('suspend-error').hidden = false;
      $('suspend-error').textContent = 'A reason is needed: it goes into the audit trail.';
      return;
    }
    try {
      await api('POST', '/v1/creators/' + encodeURIComponent(V.creator.creator) + '/suspend', { reason, mode });
      $('suspend').hidden = true;
      toast('Suspended ' + V.creator.creator + ': new uploads ' + (mode === 'refuse' ? 'refused.' : 'held for review.'), 'good');
      loadCreator(V.creator.creator);
    } catch (e) {
      $('suspend-error').hidden = false;
      $('suspend-error').textContent = e.message;
    }
  }

  // }========================================

  // {================ Keyboard ================

  function dialogKey(ev, typing) {
    if (!$('bulk').hidden) {
      if (ev.key === 'Escape')
        closeBulk();
      else if (ev.key === 'Enter')
        runBulk();
      else
        return typing ? false : true;
      return true;
    }
    if (!$('suspend').hidden) {
      if (ev.key === 'Escape')
        $('suspend').hidden = true;
      else if (ev.key === 'Enter')
        runSuspend();
      else
        return typing ? false : true;
      return true;
    }
    return null;
  }

  function searchKey(ev, typing) {
    const d = dialogKey(ev, typing);
    if (d !== null)
      return d;
    if (typing) {
      if (ev.key === 'Escape') {
        ev.target.blur();
        return true;
      }
      return false;   // Enter submits the form
    }
    switch (ev.key) {
    case '/': $('sf-q').focus(); $('sf-q').select(); return true;
    case 'j': case 'ArrowDown': move(1); return true;
    case 'k': case 'ArrowUp': move(-1); return true;
    case 'o': case 'Enter': openItem(); return true;
    case 'Escape': closeItem(); return true;
    case 'm': if (V.next) runSearch(V.filters, true); return true;
    case 'u': {
      const it = V.items[V.sel];
      if (it)
        location.hash = '#/creator/' + encodeURIComponent(it.creator);
      return true;
    }
    case 'c': confirmNewest(); return true;
    case 'T': openBulk('takedown', V.filters, searchBulk); return true;
    case 'V': openBulk('review', V.filters, searchBulk); return true;
    case 'R': openBulk('restore', V.filters, searchBulk); return true;
    default: return false;
    }
  }

  function creatorKey(ev, typing) {
    const d = dialogKey(ev, typing);
    if (d !== null)
      return d;
    if (typing || !V.creator)
      return false;
    const recent = V.creator.recent || [];
    switch (ev.key) {
    case 'j': case 'ArrowDown':
    case 'k': case 'ArrowUp':
      if (recent.length) {
        V.csel = Math.max(0, Math.min(recent.length - 1, V.csel + (ev.key === 'j' || ev.key === 'ArrowDown' ? 1 : -1)));
        renderCreator();
      }
      return true;
    case 'o': case 'Enter': openCreatorItem(); return true;
    case 'H': if (!V.creator.suspension) openSuspend(); return true;
    case 'T': openBulk('takedown', { creator: V.creator.creator }, creatorBulk); return true;
    case 'R': openBulk('restore', { creator: V.creator.creator }, creatorBulk); return true;
    case 'f': location.hash = '#/search?' + query({ creator: V.creator.creator }); return true;
    default: return false;
    }
  }

  // }========================================

  SL.view('search', {
    hash: '#/search',
    tab: 'tab-search',
    show(hash) {
      const f = {};
      new URLSearchParams(hash.split('?')[1] || '').forEach((v, k) => { f[k] = v; });
      fillForm(f);
      runSearch(f, false);
      loadJobs();
      if (!Object.keys(f).length)
        $('sf-q').focus();
    },
    hide() {
      clearTimeout(V.jobsTimer);
      closeBulk();
    },
    key: searchKey,
    closeOverlays: closeBulk,
  });

  SL.view('creator', {
    hash: '#/creator/',
    tab: null,
    show(hash) {
      V.csel = 0;
      loadCreator(decodeURIComponent(hash.slice('#/creator/'.length).split('?')[0]));
    },
    hide() {
      closeBulk();
      $('suspend').hidden = true;
    },
    key: creatorKey,
    closeOverlays() {
      closeBulk();
      const s = $('suspend');
      if (s)
        s.hidden = true;
    },
  });

  document.addEventListener('DOMContentLoaded', () => {
    $('search-form').addEventListener('submit', submitSearch);
    $('bulk-ok').addEventListener('click', runBulk);
    $('suspend-ok').addEventListener('click', runSuspend);
    for (const a of Object.keys(ACTIONS))
      $('bulk-' + a).addEventListener('click', () => openBulk(a, V.filters, searchBulk));
    $('search-more').addEventListener('click', () => { if (V.next) runSearch(V.filters, true); });
  });
})();
