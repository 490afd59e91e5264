//! A built-in OAuth 2.0 provider, so that a newcomer can connect an account offline, with no
//! third-party app to register: an authorization server (RFC 6749 code grant with RFC 7636 PKCE,
//! rotating refresh tokens, RFC 7009 revocation) and a small resource API over a fixed dataset,
//! whose documents a caller can edit and delete so that a sync has changes to find.
//!
//! Everything lives in memory and speaks plain [`http`] types, so any server can mount
//! [`Sandbox::handle`] under `/sandbox/`. It is `local-api`'s alone: no Lambda binary links it.
//! What it serves is normalised like any provider's, by `integrations::providers::sandbox`.

mod api;
mod authorize;
mod configure;
mod token;

pub use api::MAX_CHANGES;
pub use configure::configure;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Where the sandbox serves what; `configure` points the sandbox provider's URLs at them.
pub const AUTHORIZE_PATH: &str = "/sandbox/oauth/authorize";
pub const TOKEN_PATH: &str = "/sandbox/oauth/token";
pub const REVOKE_PATH: &str = "/sandbox/oauth/revoke";
/// The API's base; its listing is `{API_PATH}/items`.
pub const API_PATH: &str = "/sandbox/api";
const ITEMS_PATH: &str = "/sandbox/api/items";
/// Edits and deletes documents of the workspace.
const CHANGES_PATH: &str = "/sandbox/api/changes";

/// Past this many entries, a map drops its expired ones before taking another.
const SWEEP_AT: usize = 256;
/// The most entries a map holds; at the limit the one closest to expiry makes room.
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// Lifetime of access tokens, reported in whole seconds; short, so that a refresh can be
    /// seen working.
    pub token_ttl: Duration,
    /// The registered redirect URIs, matched as exact strings.
    pub redirect_uris: Vec<String>,
    /// Documents listed after the fixed workspace (`SANDBOX_ITEMS` counts both), so that paging
    /// and an account too large for one load can be tried locally.
    pub bulk_items: usize,
}

impl Default for SandboxSettings {
    /// Two-minute tokens, and the callback local-api offers a provider named `sandbox`.
    fn default() -> Self {
        SandboxSettings {
            token_ttl: Duration::from_secs(120),
            redirect_uris: vec!["http://localhost:8000/integrations/sandbox/oauth2callback".into()],
            bulk_items: 0,
        }
    }
}

/// One registered confidential client, one account (its workspace), and the grants made to it.
pub struct Sandbox {
    client_id: String,
    client_secret: String,
    settings: SandboxSettings,
    state: Mutex<State>,
}

impl Sandbox {
    /// The client id and secret come from the OS CSPRNG, fresh for every instance.
    pub fn new(settings: SandboxSettings) -> Self {
        Sandbox {
            client_id: format!("sandbox-{}", random_text(16)),
            client_secret: random_text(32),
            settings,
            state: Mutex::default(),
        }
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// Serves every path under `/sandbox/`; anything else is a 404.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let method = request.method();
        match request.uri().path() {
            AUTHORIZE_PATH => match *method {
                Method::GET => self.authorize_page(&request),
                Method::POST => self.authorize_decision(&request),
                _ => method_not_allowed("GET, POST"),
            },
            TOKEN_PATH if method == Method::POST => self.token(&request),
            REVOKE_PATH if method == Method::POST => self.revoke(&request),
            TOKEN_PATH | REVOKE_PATH => method_not_allowed("POST"),
            ITEMS_PATH if method == Method::GET => self.items(&request),
            ITEMS_PATH => method_not_allowed("GET"),
            CHANGES_PATH if method == Method::POST => self.changes(&request),
            CHANGES_PATH => method_not_allowed("POST"),
            _ => json_response(StatusCode::NOT_FOUND, &json!({ "error": "not_found" })),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the maps consistent, so a panic elsewhere poisons nothing real.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Codes and tokens are kept by their SHA-256, so the maps hold nothing a caller could present.
type Key = [u8; 32];

#[derive(Default)]
struct State {
    codes: HashMap<Key, Code>,
    access_tokens: HashMap<Key, Token>,
    refresh_tokens: HashMap<Key, Token>,
    /// Numbers grants: every token descending from one authorization code shares its number.
    grants: u64,
    /// What `POST /sandbox/api/changes` did to the account's workspace.
    workspace: api::Changes,
}

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    expires_at: Instant,
    /// The grant of the first redemption; kept until expiry so that a replay can revoke it.
    spent: Option<u64>,
}

struct Token {
    grant: u64,
    scope: String,
    expires_at: Instant,
}

trait Expiring {
    fn expires_at(&self) -> Instant;
}

impl Expiring for Code {
    fn expires_at(&self) -> Instant {
        self.expires_at
    }
}

impl Expiring for Token {
    fn expires_at(&self) -> Instant {
        self.expires_at
    }
}

impl State {
    fn next_grant(&mut self) -> u64 {
        self.grants += 1;
        self.grants
    }

    /// Withdraws every access and refresh token of a grant.
    fn revoke_grant(&mut self, grant: u64) {
        self.access_tokens.retain(|_, token| token.grant != grant);
        self.refresh_tokens.retain(|_, token| token.grant != grant);
    }
}

/// Inserts after sweeping expired entries, so that memory stays bounded whatever callers do.
fn insert_bounded<V: Expiring>(map: &mut HashMap<Key, V>, key: Key, value: V) {
    if map.len() >= SWEEP_AT {
        let now = Instant::now();
        map.retain(|_, entry| entry.expires_at() > now);
    }
    if map.len() >= MAX_ENTRIES {
        let soonest = map
            .iter()
            .min_by_key(|(_, entry)| entry.expires_at())
            .map(|(key, _)| *key);
        if let Some(soonest) = soonest {
            map.remove(&soonest);
        }
    }
    map.insert(key, value);
}

/// `bytes` bytes from the OS CSPRNG, base64url without padding.
fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0; bytes];
    OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A new code or token, and the key it is stored under.
fn new_secret() -> (String, Key) {
    let secret = random_text(32);
    let key = key(&secret);
    (secret, key)
}

fn key(secret: &str) -> Key {
    Sha256::digest(secret).into()
}

/// Form fields or query parameters. RFC 6749 §3.1: an empty parameter counts as omitted, and
/// none may be sent twice.
struct Params {
    values: HashMap<String, String>,
    /// Names given more than once.
    repeated: Vec<String>,
}

impl Params {
    fn parse(encoded: &[u8]) -> Self {
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        for (name, value) in url::form_urlencoded::parse(encoded) {
            if values.insert(name.to_string(), value.into_owned()).is_some() {
                repeated.push(name.into_owned());
            }
        }
        values.retain(|_, value| !value.is_empty());
        Params { values, repeated }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|repeated| repeated == name)
    }
}

/// Whether the body is `application/x-www-form-urlencoded`, charset or not.
fn is_form<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Nothing the sandbox answers may be cached: its pages and bodies carry codes and tokens.
fn response(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if !content_type.is_empty() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn json_response(status: StatusCode, value: &Value) -> Response<Bytes> {
    response(status, "application/json", value.to_string())
}

/// An RFC 6749 §5.2 error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Bytes> {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

fn invalid_request(description: &str) -> Response<Bytes> {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn method_not_allowed(allow: &'static str) -> Response<Bytes> {
    let mut response = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({ "error": "method_not_allowed" }),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}
