'use strict';
// Drives the API as a browser app would: authorize, consent in a popup, then the kept connection
// through the connections API. No token is stored here, and none is shown in full.

const $ = (id) => document.getElementById(id);

/** Calls the API; answers the JSON body, or throws the error body's `detail`. */
async function api(method, path, { query, body } = {}) {
  const headers = {};
  const key = $('api-key').value.trim();
  if (key) headers.authorization = `Bearer ${key}`;
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
    consentUrl = await api('POST', at(provider, 'authorize'), { body: identity() });
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
for (const id of ['user-id', 'org-id', 'api-key']) {
  $(id).addEventListener('change', () => run(refreshConnections));
}
$('load').addEventListener('click', () => run(load));
$('refresh').addEventListener('click', () => run(refreshToken));
$('disconnect').addEventListener('click', () => run(disconnect));
run(async () => {
  const response = await fetch('/demo/providers');
  providers = await response.json();
  render();
  await refreshConnections();
});
