//! Connect sessions: a short-lived token the app mints with its API key and hands the browser,
//! which then starts one connect for one user (`POST …/authorize` with `Authorization: Bearer
//! <token>`) without ever holding the API key. Sealed in the single-use store under the token's
//! hash; the callback that completes the connect consumes it.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{Error, Result};
use crate::single_use::{session_key, SingleUse};

/// What tells a session's token from an API key at a glance (and in a leaked log line).
pub const TOKEN_PREFIX: &str = "cs_";
pub const DEFAULT_SESSION_SECS: u64 = 1800;
pub const MAX_SESSION_SECS: u64 = 3600;

/// Who a session connects, to what, and until when (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub org_id: String,
    pub user_id: String,
    /// The providers it may connect; `None`: any.
    pub providers: Option<Vec<String>>,
    pub expires_at: i64,
}

/// Whether a bearer value is a session's token rather than an API key.
pub fn is_token(bearer: &str) -> bool {
    bearer.starts_with(TOKEN_PREFIX)
}

/// A minted session's token, shown once, and when it expires.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionMinted {
    pub token: String,
    pub expires_at: Option<String>,
}

/// Mints a session for `user_id` of `org_id` (to `providers`, or any), kept for `ttl`: its
/// token is 256 bits from the thread's CSPRNG.
pub async fn mint(
    store: &SingleUse,
    org_id: String,
    user_id: String,
    providers: Option<Vec<String>>,
    ttl: Duration,
) -> Result<SessionMinted> {
    let expires_at = clock::now() + ttl.as_secs() as i64;
    let session = Session {
        org_id,
        user_id,
        providers,
        expires_at,
    };
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    store.put(&session_key(&token), &session, ttl).await?;
    Ok(SessionMinted {
        token,
        expires_at: clock::rfc3339(expires_at),
    })
}

/// The live session `token` names, allowed to connect `provider`, and where it is kept.
pub async fn open(store: &SingleUse, token: &str, provider: &str) -> Result<(Session, String)> {
    let key = session_key(token);
    let session: Session = store
        .get(&key)
        .await?
        .filter(|session: &Session| session.expires_at > clock::now())
        .ok_or(Error::SessionInvalid)?;
    if session
        .providers
        .as_ref()
        .is_some_and(|allowed| !allowed.iter().any(|name| name == provider))
    {
        return Err(Error::SessionForbidden(format!("does not allow {provider}")));
    }
    Ok((session, key))
}

/// Ends the session a completed connect used: `false` when it was already gone (another connect
/// completed with it first, or it expired).
pub async fn consume(store: &SingleUse, key: &str) -> Result<bool> {
    Ok(store.take::<Session>(key).await?.is_some())
}
