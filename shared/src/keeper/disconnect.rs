//! Disconnecting: revoke at the provider, then delete, under the refresh lease so that no
//! refresh rotates the token being revoked.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{lease_owner, unreadable, Keeper};
use crate::clock;
use crate::connections::{Connection, ConnectionId, ConnectionStore, LeaseOutcome, Status};
use crate::error::{Error, Result};
use crate::oauth;
use crate::providers::Provider;

/// Times a disconnect starts over when a reconnect lands while it revokes.
const DISCONNECT_ATTEMPTS: usize = 3;
/// How often a disconnect looks again at a connection another caller is refreshing.
const LEASE_POLL: Duration = Duration::from_millis(100);

/// What became of the grant at the provider when a connection was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Revocation {
    /// The provider confirmed the revocation.
    Revoked,
    /// The provider documents no revocation endpoint: the grant ends when the user removes the
    /// app at the provider.
    Unsupported,
    /// The provider did not confirm it (refused, failed or out of reach): the grant may live on.
    Failed,
}

impl Revocation {
    pub fn as_str(self) -> &'static str {
        match self {
            Revocation::Revoked => "revoked",
            Revocation::Unsupported => "unsupported",
            Revocation::Failed => "failed",
        }
    }
}

impl Keeper {
    /// Revokes at the provider where it documents how, then deletes the connection at the
    /// version revoked. Holds the refresh lease meanwhile, so no refresh rotates the token being
    /// revoked; a reconnect that lands meanwhile is revoked and deleted in turn.
    pub async fn disconnect(
        &self,
        provider: &Provider,
        id: &ConnectionId,
        deadline: Option<Instant>,
    ) -> Result<Revocation> {
        for _ in 0..DISCONNECT_ATTEMPTS {
            let connection = self.leased(id, deadline).await?;
            let tokens = connection.tokens.as_ref().ok_or_else(unreadable)?;
            // Revoking the refresh token ends the whole grant where the provider has one.
            let token = tokens.refresh_token.as_deref().unwrap_or(&tokens.access_token);
            let revocation = match oauth::revoke(&self.http, provider, token).await {
                Ok(true) => Revocation::Revoked,
                Ok(false) => Revocation::Unsupported,
                Err(error) => {
                    tracing::warn!(error = %error, "revocation failed; deleting the connection anyway");
                    Revocation::Failed
                }
            };
            if self
                .connections
                .delete(id, connection.version, revocation.as_str())
                .await?
            {
                return Ok(revocation);
            }
        }
        Err(Error::ConnectionChanging)
    }

    /// The connection, under a refresh lease of this call's when it is active; waits out a
    /// refresh in flight.
    async fn leased(&self, id: &ConnectionId, deadline: Option<Instant>) -> Result<Connection> {
        let owner = lease_owner();
        let lease_ms = i64::try_from(self.lease().as_millis()).unwrap_or(i64::MAX);
        loop {
            let connection = self.get(id).await?;
            if connection.status != Status::Active {
                return Ok(connection);
            }
            match self
                .connections
                .acquire_lease(id, connection.version, &owner, lease_ms, clock::now_ms())
                .await?
            {
                LeaseOutcome::Acquired | LeaseOutcome::TakenOver { .. } => return Ok(connection),
                LeaseOutcome::Gone => return Err(Error::ConnectionNotFound),
                LeaseOutcome::Changed | LeaseOutcome::Busy { .. } => {}
            }
            if deadline.is_some_and(|deadline| Instant::now() + LEASE_POLL >= deadline) {
                return Err(Error::RefreshInProgress);
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }
}
