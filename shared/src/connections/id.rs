//! Which connection: its ids, its primary key, and where it sorts in the indexes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{ConnectionStoreError, DUE_SHARDS};
use crate::ids;

/// The `due` partition of a connection: a hash of its key, so every process agrees.
pub(super) fn due_shard(key: &str) -> u8 {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())[0] % DUE_SHARDS
}

/// Which connection: the provider's name and the caller's org and user ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    pub(super) provider: String,
    pub(super) org_id: String,
    pub(super) user_id: String,
}

impl ConnectionId {
    /// Each part follows [`ids::check`].
    pub fn new(provider: &str, org_id: &str, user_id: &str) -> Result<Self, ConnectionStoreError> {
        ids::check("provider", provider)?;
        ids::check("org_id", org_id)?;
        ids::check("user_id", user_id)?;
        Ok(ConnectionId {
            provider: provider.to_owned(),
            org_id: org_id.to_owned(),
            user_id: user_id.to_owned(),
        })
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The primary key, also the associated data of the sealed tokens. Each part is base64url,
    /// which has no `#`, so two different triples never share a key.
    pub fn key(&self) -> String {
        format!(
            "connection#{}#{}#{}",
            URL_SAFE_NO_PAD.encode(&self.provider),
            URL_SAFE_NO_PAD.encode(&self.org_id),
            URL_SAFE_NO_PAD.encode(&self.user_id)
        )
    }

    /// The ids of a primary key ([`ConnectionId::key`]).
    pub fn from_key(key: &str) -> Option<Self> {
        let mut parts = key.strip_prefix("connection#")?.split('#').map(|part| {
            let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
            String::from_utf8(bytes).ok()
        });
        let (provider, org_id, user_id) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() {
            return None;
        }
        ConnectionId::new(&provider, &org_id, &user_id).ok()
    }

    /// Position within the org: by provider, then user id, byte-wise. Hex keeps the byte order
    /// and has no `.`, and `.` sorts below every hex digit, so a prefix sorts first.
    pub(super) fn org_sort(&self) -> String {
        org_sort(&self.provider, &self.user_id)
    }
}

pub(super) fn org_sort(provider: &str, user_id: &str) -> String {
    format!("{}.{}", hex(provider.as_bytes()), hex(user_id.as_bytes()))
}

/// The range of [`org_sort`] values of one provider.
pub(super) fn provider_prefix(provider: &str) -> String {
    format!("{}.", hex(provider.as_bytes()))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub(super) fn unhex(value: &str) -> Option<Vec<u8>> {
    if value.len() % 2 != 0 {
        return None;
    }
    (0..value.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(value.get(at..at + 2)?, 16).ok())
        .collect()
}
