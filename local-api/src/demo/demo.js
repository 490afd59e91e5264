'use strict';
// Drives the API as a browser app would: authorize through a connect session, consent in a popup,
// then the kept connection through the connections API, and its syncs. No token is stored here,
// and none is shown in full; the page holds no API key of its own (only one typed in its field).

const $ = (id) => document.getElementById(id);

/**
 * Calls the API; answers the JSON body, or throws the error body's `detail`. `bearer`: what
 * `Authorization: Bearer` carries, by default the API key field's value; null: nothing.
 */
async function api(method, path, { query, body, bearer = $('api-key').value.trim() } = {}) {
  const headers = {};
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new Error(answer?.detail ?? `HTTP ${response.status}`);
  return answer;
}

const at = (provider, action) => `/integrations/${encodeURIComponent(provider)}/${action}`;
const identity = () => ({ user_id: $('user-id').value.trim(), org_id: $('org-id').value.trim() });

/** Each provider's (GET /demo/providers): name, display_name, ready, missing. */
let providers = [];
/** This user's connections (GET /connections), by provider name. */
let connections = {};
/** The provider whose connection the details section shows, and Load, Refresh and Disconnect use. */
let selected = null;

const displayName = (name) => providers.find((p) => p.name === name)?.display_name ?? name;

/** Reads every connection of the user in the org, a page at a time, then renders. */
async function refreshConnections() {
  const { user_id, org_id } = identity();
  const found = {};
  if (user_id && org_id) {
    let cursor = null;
    do {
      const query = { org_id, user_id, limit: '100' };
      if (cursor) query.cursor = cursor;
      const page = await api('GET', '/connections', { query });
      for (const connection of page.connections) found[connection.provider] = connection;
      cursor = page.next_cursor;
    } while (cursor);
  }
  connections = found;
  if (!connections[selected]) {
    // The most recently updated connection, if any.
    selected = Object.values(connections)
      .sort((a, b) => (b.updated_at ?? '').localeCompare(a.updated_at ?? ''))[0]?.provider ?? null;
    $('results').hidden = true;
  }
  render();
}

async function connect(provider) {
  // Opened during the click, so that no popup blocker intervenes; sent to the consent page next.
  const popup = window.open('', 'consent', 'popup,width=560,height=680');
  if (!popup) throw new Error('The browser blocked the popup: allow popups for this page');
  let consentUrl;
  try {
    // A connect session for the demo's user, allowing this provider alone (local-api's own route,
    // as an app's backend would mint one with its key), spent on this one authorize call: the
    // token is neither kept nor shown. Authorize connects the session's user: no ids are sent.
    const { token } = await api('POST', '/demo/session', { query: { provider }, bearer: null });
    consentUrl = await api('POST', at(provider, 'authorize'), { bearer: token });
  } catch (error) {
    popup.close();
    throw error;
  }
  popup.location = consentUrl;
  const failure = await outcome(popup);
  if (failure) throw new Error(failure);
  // The callback saved the connection before closing the popup; none means no consent was given.
  selected = provider;
  $('results').hidden = true;
  await refreshConnections();
  if (!connections[provider]) {
    throw new Error(`${displayName(provider)} is not connected: the consent window closed before access was allowed`);
  }
  say(`Connected ${displayName(provider)}`);
}

/** Resolves with null when the popup closes, or with the reason its callback page posts. */
function outcome(popup) {
  return new Promise((resolve) => {
    const done = (failure) => {
      clearInterval(timer);
      window.removeEventListener('message', onMessage);
      resolve(failure);
    };
    const onMessage = (event) => {
      if (event.source === popup && typeof event.data?.oauth_error === 'string') done(event.data.oauth_error);
    };
    const timer = setInterval(() => popup.closed && done(null), 250);
    window.addEventListener('message', onMessage);
  });
}

/** Loads by user and org: the kept connection, its token refreshed first when due. */
async function load() {
  const provider = selected;
  let items;
  try {
    items = await api('POST', at(provider, 'load'), { body: identity() });
  } finally {
    // A load may have refreshed the token, or found that the user must reconnect.
    await refreshConnections().catch(() => {});
  }
  const rows = items.map((item) => {
    const row = document.createElement('tr');
    for (const text of [item.type, item.name, item.parent_path_or_name, item.last_modified_time]) {
      row.insertCell().textContent = text ?? '';
    }
    const cell = row.insertCell();
    if (/^https?:\/\//.test(item.url ?? '')) {
      const link = Object.assign(document.createElement('a'), {
        href: item.url, rel: 'noopener noreferrer', target: '_blank', textContent: 'open',
      });
      cell.append(link);
    }
    return row;
  });
  $('items').tBodies[0].replaceChildren(...rows);
  $('count').textContent = `(${items.length})`;
  $('results').hidden = false;
}

/** Forces a refresh; shows the new expiry and at most the token's first characters. */
async function refreshToken() {
  const provider = selected;
  const token = await api('POST', at(provider, 'token'), { body: { ...identity(), force_refresh: 'true' } });
  await refreshConnections();
  const start = String(token.access_token ?? '').slice(0, 6);
  const expiry = token.expires_at ? `expires ${token.expires_at}` : 'does not expire';
  say(`Token refreshed: ${start}… ${expiry}`);
}

/** Revokes at the provider where it can, then forgets the connection. */
async function disconnect() {
  const provider = selected;
  const answer = await api('DELETE', at(provider, 'connection'), { query: identity() });
  $('results').hidden = true;
  await refreshConnections();
  const how = answer.revoked
    ? 'the provider revoked its tokens'
    : 'the provider was not asked to revoke, its tokens lapse on their own';
  say(`Disconnected ${displayName(provider)} (deleted: ${answer.deleted}, revoked: ${answer.revoked}): ${how}`);
}

/** Items per page of the synced list: few, so that the sandbox's 14 show More at work. */
const SYNCED_PAGE = 10;
/** The connection the sync view shows (provider, org_id, user_id), or null. */
let synced = null;
/** Which showing of the sync view is current: a poll or a read begun for an older one stops. */
let syncShowing = 0;
/** Whether a loop polls the current showing's sync. */
let syncPolling = false;
/** The synced list's next page, or null. */
let syncedCursor = null;
/** Which connection the sync view was last shown for. */
let syncViewKey = '';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const syncQuery = () => ({ org_id: synced.org_id, user_id: synced.user_id });

/** Shows the sync view of `connection` (none: hides it): its sync and its first page of items. */
function showSyncView(connection) {
  syncShowing += 1;
  syncPolling = false;
  syncedCursor = null;
  synced = connection ? { provider: connection.provider, org_id: connection.org_id, user_id: connection.user_id } : null;
  $('syncs').hidden = !synced;
  $('synced').tBodies[0].replaceChildren();
  $('synced-count').textContent = '';
  $('synced-more').hidden = true;
  $('sync-error').hidden = true;
  $('sync').disabled = false;
  if (!synced) return;
  $('sandbox-changes').hidden = synced.provider !== 'sandbox';
  for (const id of ['status', 'items', 'added', 'changed', 'deleted', 'started', 'finished']) {
    $(`sync-${id}`).textContent = '…';
  }
  const showing = syncShowing;
  inBackground(showing, async () => {
    const view = await api('GET', at(synced.provider, 'sync'), { query: syncQuery() });
    if (showing !== syncShowing) return;
    showSync(view);
    await listSynced(showing, false);
    // Running, or never run: the finder starts a new connection's first sync within seconds.
    if (view.status === 'running' || !view.started_at) await pollSync(showing, view.status === 'running');
  });
}

/** Runs a read of the sync view, showing its failure in the view unless the view moved on. */
function inBackground(showing, action) {
  action().catch((error) => {
    if (showing !== syncShowing) return;
    $('sync-error').textContent = error.message;
    $('sync-error').hidden = false;
    $('sync').disabled = false;
  });
}

/** A sync as GET …/sync (or POST's `sync`) shows it. */
function showSync(view) {
  const never = view.status === 'idle' && !view.started_at;
  Object.assign($('sync-status'), {
    className: never ? '' : view.status,
    textContent: never ? 'never synced' : view.status,
  });
  for (const count of ['items', 'added', 'changed', 'deleted']) $(`sync-${count}`).textContent = String(view[count]);
  $('sync-started').textContent = view.started_at ? `${view.started_at}${view.full ? ' (full)' : ''}` : 'never';
  $('sync-finished').textContent = view.finished_at ?? (view.status === 'running' ? 'not yet' : 'never');
  $('sync-error').textContent = view.error ?? '';
  $('sync-error').hidden = !view.error;
  if (view.status === 'running') $('sync').disabled = true;
}

/**
 * Polls the sync about every second while it runs (every few seconds while none has run yet);
 * once it ends, lists the items anew and enables Sync again. One loop per showing.
 */
async function pollSync(showing, running) {
  if (syncPolling) return;
  syncPolling = true;
  try {
    for (;;) {
      await sleep(running ? 1000 : 3000);
      if (showing !== syncShowing) return;
      const view = await api('GET', at(synced.provider, 'sync'), { query: syncQuery() });
      if (showing !== syncShowing) return;
      showSync(view);
      if (view.status !== 'running' && view.started_at) {
        await listSynced(showing, false);
        if (showing === syncShowing) $('sync').disabled = false;
        return;
      }
      running = view.status === 'running';
    }
  } finally {
    if (showing === syncShowing) syncPolling = false;
  }
}

/** Starts a sync (or joins the one running), then follows it. */
async function startSync() {
  $('sync').disabled = true;
  // A showing of its own, so that a slower poll already under way gives way to this one.
  syncShowing += 1;
  syncPolling = false;
  const showing = syncShowing;
  try {
    const { sync } = await api('POST', at(synced.provider, 'sync'), { body: syncQuery() });
    if (showing !== syncShowing) return;
    showSync(sync);
  } catch (error) {
    $('sync').disabled = false;
    throw error;
  }
  inBackground(showing, () => pollSync(showing, true));
}

/** The first page of what the syncs kept (`more`: the next page, added below). */
async function listSynced(showing, more) {
  const query = { ...syncQuery(), limit: String(SYNCED_PAGE) };
  if (more) query.cursor = syncedCursor;
  const page = await api('GET', at(synced.provider, 'items'), { query });
  if (showing !== syncShowing) return;
  const rows = page.items.map((item) => {
    const row = document.createElement('tr');
    if (item.deleted) row.className = 'deleted';
    for (const text of [item.type, item.name, item.parent_path_or_name, item.last_modified_time, item.synced_at]) {
      row.insertCell().textContent = text ?? '';
    }
    row.cells[1].className = 'name';
    for (const cell of [row.cells[3], row.cells[4]]) cell.className = 'time';
    const mark = row.insertCell();
    if (item.deleted) mark.append(element('span', { className: 'mark', textContent: 'deleted' }));
    return row;
  });
  const body = $('synced').tBodies[0];
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  syncedCursor = page.next_cursor;
  $('synced-more').hidden = !syncedCursor;
  $('synced-count').textContent = `(${body.rows.length}${syncedCursor ? '+' : ''})`;
}

/**
 * Edits 3 documents and deletes 2 at the sandbox itself, as someone using it would, so that the
 * next sync has changes to find. The kept connection's access token is fetched for the one call
 * and neither kept nor shown.
 */
async function changeSandbox() {
  const { access_token: token } = await api('POST', at('sandbox', 'token'), { body: syncQuery() });
  const response = await fetch('/sandbox/api/changes', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ edit: 3, delete: 2 }),
  });
  const answer = await response.json().catch(() => null);
  // Fetching the token may have refreshed it.
  await refreshConnections().catch(() => {});
  if (!response.ok) {
    throw new Error(answer?.detail ?? answer?.error_description ?? `HTTP ${response.status}`);
  }
  const list = (ids) => ids.join(', ') || 'nothing';
  say(`At the sandbox: edited ${list(answer.edited)}; deleted ${list(answer.deleted)}. Sync to see it here.`);
}

const element = (tag, properties) => Object.assign(document.createElement(tag), properties);

function render() {
  $('providers').replaceChildren(...providers.map((provider) => {
    const connection = connections[provider.name];
    const item = element('li', { id: `provider-${provider.name}` });
    if (provider.name === selected) item.className = 'selected';
    const name = element('span', { className: 'name', textContent: provider.display_name });
    const status = element('span', { id: `status-${provider.name}`, className: 'state' });
    const expires = element('span', { id: `expires-${provider.name}`, className: 'expires' });
    const scopes = element('span', { id: `scopes-${provider.name}`, className: 'scopes' });
    if (connection) {
      Object.assign(status, { className: `state ${connection.status}`, textContent: connection.status });
      expires.textContent = connection.expires_at ? `expires ${connection.expires_at}` : 'no expiry';
      scopes.textContent = connection.scopes.join(' ');
    } else if (provider.ready) {
      Object.assign(status, { className: 'state ready', textContent: 'not connected' });
    } else {
      status.textContent = `needs ${provider.missing.join(', ')}`;
    }
    const info = element('span', { className: 'info' });
    info.append(status, expires, scopes);
    const actions = [];
    if (connection) {
      const show = element('button', {
        id: `show-${provider.name}`, type: 'button', className: 'secondary', textContent: 'Details',
      });
      show.addEventListener('click', () => {
        selected = provider.name;
        $('results').hidden = true;
        render();
      });
      actions.push(show);
    }
    const button = element('button', {
      id: `connect-${provider.name}`,
      type: 'button',
      textContent: connection ? 'Reconnect' : 'Connect',
      disabled: !provider.ready,
    });
    button.addEventListener('click', () => run(() => connect(provider.name)));
    actions.push(button);
    item.append(name, info, ...actions);
    return item;
  }));
  const connection = connections[selected];
  $('connection').hidden = !connection;
  if (connection) {
    $('connection-name').textContent = displayName(selected);
    $('detail-status').textContent = connection.status;
    $('detail-scopes').textContent = connection.scopes.join(' ') || 'none reported';
    $('detail-expires').textContent = connection.expires_at ?? 'never';
    $('detail-refreshed').textContent = connection.last_refreshed_at ?? 'not yet';
    $('detail-created').textContent = connection.created_at ?? '';
    const account = connection.account;
    $('detail-account').textContent = account ? `${account.name ?? ''} (${account.id ?? ''})`.trim() : 'not reported';
  }
  // A connection shown anew (another provider or user, or connected again) gets its sync view.
  const shown = connection ? [connection.provider, connection.org_id, connection.user_id, connection.created_at] : [];
  if (shown.join('\n') !== syncViewKey) {
    syncViewKey = shown.join('\n');
    showSyncView(connection);
  }
}

/** Shows a success in #message. */
function say(text) {
  $('message').textContent = text;
  $('message').hidden = false;
}

/** Runs an action, showing its failure in #error. */
async function run(action) {
  $('error').hidden = true;
  $('message').hidden = true;
  try {
    await action();
  } catch (error) {
    $('error').textContent = error.message;
    $('error').hidden = false;
  }
}

$('api-key').value = sessionStorage.getItem('apiKey') ?? '';
$('api-key').addEventListener('input', () => sessionStorage.setItem('apiKey', $('api-key').value));
$('api-key').addEventListener('change', () => run(refreshConnections));
$('load').addEventListener('click', () => run(load));
$('refresh').addEventListener('click', () => run(refreshToken));
$('disconnect').addEventListener('click', () => run(disconnect));
$('sync').addEventListener('click', () => run(startSync));
$('synced-more').addEventListener('click', () => run(() => listSynced(syncShowing, true)));
$('sandbox-changes').addEventListener('click', () => run(changeSandbox));
run(async () => {
  const response = await fetch('/demo/providers');
  providers = await response.json();
  render();
  await refreshConnections();
});
