'use strict';
// Drives the API as a browser app would: authorize, consent in a popup, the one-time
// credentials hand-off, then load. Tokens stay in this tab's sessionStorage, never elsewhere.

const $ = (id) => document.getElementById(id);
const read = (key, fallback) => JSON.parse(sessionStorage.getItem(key) ?? 'null') ?? fallback;
const write = (key, value) => sessionStorage.setItem(key, JSON.stringify(value));

/** Each provider's credentials as /credentials handed them over, by provider name. */
const connections = () => read('connections', {});
/** The provider that Load and Disconnect act on: the last one connected. */
const active = () => read('active', null);

/** POSTs JSON to /integrations/{provider}/{action}; throws the error body's `detail`. */
async function call(provider, action, body) {
  const headers = { 'content-type': 'application/json' };
  const key = $('api-key').value.trim();
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(`/integrations/${encodeURIComponent(provider)}/${action}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new Error(answer?.detail ?? `HTTP ${response.status}`);
  return answer;
}

const identity = () => ({ user_id: $('user-id').value.trim(), org_id: $('org-id').value.trim() });

async function connect(provider) {
  // Opened during the click, so that no popup blocker intervenes; sent to the consent page next.
  const popup = window.open('', 'consent', 'popup,width=560,height=680');
  if (!popup) throw new Error('The browser blocked the popup: allow popups for this page');
  let consentUrl;
  try {
    consentUrl = await call(provider, 'authorize', identity());
  } catch (error) {
    popup.close();
    throw error;
  }
  popup.location = consentUrl;
  const failure = await outcome(popup);
  if (failure) throw new Error(failure);
  // The one-time hand-off: a 404 here means the consent did not complete.
  const credentials = await call(provider, 'credentials', identity());
  write('connections', { ...connections(), [provider]: credentials });
  write('active', provider);
  $('results').hidden = true;
  render();
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

async function load() {
  const provider = active();
  const items = await call(provider, 'load', { credentials: connections()[provider] });
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

function disconnect() {
  const { [active()]: _forgotten, ...rest } = connections();
  write('connections', rest);
  sessionStorage.removeItem('active');
  $('results').hidden = true;
  render();
}

let providers = [];

function render() {
  const connected = connections();
  $('providers').replaceChildren(...providers.map((provider) => {
    const item = Object.assign(document.createElement('li'), { id: `provider-${provider.name}` });
    const name = Object.assign(document.createElement('span'), { className: 'name', textContent: provider.display_name });
    const state = document.createElement('span');
    if (connected[provider.name]) {
      Object.assign(state, { className: 'state connected', textContent: 'connected' });
    } else if (provider.ready) {
      Object.assign(state, { className: 'state ready', textContent: 'ready' });
    } else {
      Object.assign(state, { className: 'state', textContent: `needs ${provider.missing.join(', ')}` });
    }
    const button = Object.assign(document.createElement('button'), {
      id: `connect-${provider.name}`, type: 'button', textContent: 'Connect', disabled: !provider.ready,
    });
    button.addEventListener('click', () => run(() => connect(provider.name)));
    item.append(name, state, button);
    return item;
  }));
  const provider = active();
  const credentials = connected[provider];
  $('connection').hidden = !credentials;
  if (credentials) {
    $('connection-name').textContent = providers.find((p) => p.name === provider)?.display_name ?? provider;
    const details = [];
    if (credentials.expires_in != null) details.push(`access token expires in ${credentials.expires_in} s`);
    if (credentials.scope) details.push(`scope ${credentials.scope}`);
    $('connection-details').textContent = details.join('; ') || 'access token without expiry';
  }
}

/** Runs an action, showing its failure in #error. */
async function run(action) {
  $('error').hidden = true;
  try {
    await action();
  } catch (error) {
    $('error').textContent = error.message;
    $('error').hidden = false;
  }
}

$('api-key').value = sessionStorage.getItem('apiKey') ?? '';
$('api-key').addEventListener('input', () => sessionStorage.setItem('apiKey', $('api-key').value));
$('load').addEventListener('click', () => run(load));
$('disconnect').addEventListener('click', disconnect);
run(async () => {
  const response = await fetch('/demo/providers');
  providers = await response.json();
  render();
});
