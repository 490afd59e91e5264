//! A connection as the backends keep it, tokens still sealed, and how it opens.

use serde::{Deserialize, Serialize};

use super::{Account, Connection, ConnectionId, ConnectionStoreError, LeaseOutcome, Status};
use crate::crypto::Sealer;
use crate::tokens::TokenSet;

/// The token set as a backend stores it: sealed under the connection's key, so that an item
/// copied under another key does not open.
pub(super) fn seal(sealer: &Sealer, id: &ConnectionId, tokens: &TokenSet) -> String {
    sealer.seal(&id.key(), &tokens.to_bytes())
}

/// A connection as stored, tokens still sealed; the backends keep exactly these fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) provider: String,
    pub(super) org_id: String,
    pub(super) user_id: String,
    pub(super) status: Status,
    /// `None` where a reader did not fetch them (index pages).
    pub(super) tokens: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) account: Option<Account>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) expires_at: Option<i64>,
    pub(super) last_refreshed_at: Option<i64>,
    pub(super) version: u64,
    pub(super) lease_owner: Option<String>,
    pub(super) lease_expires_at_ms: Option<i64>,
    #[serde(default)]
    pub(super) consents: u64,
    #[serde(default)]
    pub(super) refresh_failures: u32,
    #[serde(default)]
    pub(super) reauthorization: Option<String>,
    #[serde(default)]
    pub(super) revocation: Option<String>,
}

impl Record {
    /// What taking the lease over this record (as it was) amounts to: a takeover if it still
    /// names a holder, whose lease can only have lapsed.
    pub(super) fn acquired_from(&self) -> LeaseOutcome {
        match (&self.lease_owner, self.lease_expires_at_ms) {
            (Some(_), Some(lapsed_at_ms)) => LeaseOutcome::TakenOver { lapsed_at_ms },
            _ => LeaseOutcome::Acquired,
        }
    }

    /// Opens the tokens under `key`, the primary key the record was read by, never under the ids
    /// the record carries: attributes copied from another connection's item (everything but its
    /// key) name that connection, and must not hand out its tokens. Such a record is unreadable.
    pub(super) fn open(self, key: &str, sealer: &Sealer) -> Result<Connection, ConnectionStoreError> {
        let id = ConnectionId::from_key(key)
            .ok_or_else(|| ConnectionStoreError::Corrupt("a connection's key is malformed".into()))?;
        let agrees = (id.provider(), id.org_id(), id.user_id())
            == (
                self.provider.as_str(),
                self.org_id.as_str(),
                self.user_id.as_str(),
            );
        let Some(sealed) = self.tokens.as_deref() else {
            return Ok(self.into_connection(id, None, false));
        };
        let tokens = agrees
            .then(|| sealer.open(key, sealed))
            .flatten()
            .and_then(|bytes| TokenSet::from_bytes(&bytes));
        let current_key = tokens.is_some() && sealer.is_current(sealed);
        if !agrees {
            tracing::error!(
                provider = %id.provider,
                "a connection's item disagrees with its key: its tokens are not opened"
            );
        } else if tokens.is_none() {
            tracing::warn!(
                provider = %id.provider,
                "a connection's tokens could not be opened (tampered, moved, unknown key or unknown shape)"
            );
        }
        Ok(self.into_connection(id, tokens, current_key))
    }

    /// The connection without its tokens, for readers that never hand them out (the webhooks
    /// function reads the stream's images, and holds no key).
    pub(super) fn unopened(self, key: &str) -> Result<Connection, ConnectionStoreError> {
        let id = ConnectionId::from_key(key)
            .ok_or_else(|| ConnectionStoreError::Corrupt("a connection's key is malformed".into()))?;
        Ok(self.into_connection(id, None, false))
    }

    fn into_connection(self, id: ConnectionId, tokens: Option<TokenSet>, current_key: bool) -> Connection {
        Connection {
            id,
            status: self.status,
            tokens,
            scopes: self.scopes,
            account: self.account,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            last_refreshed_at: self.last_refreshed_at,
            version: self.version,
            current_key,
            lease_owner: self.lease_owner,
            lease_expires_at_ms: self.lease_expires_at_ms,
            consents: self.consents,
            refresh_failures: self.refresh_failures,
            reauthorization: self.reauthorization,
            revocation: self.revocation,
        }
    }
}
