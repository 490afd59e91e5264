//! Page cursors of the listings: opaque to clients, checked before they reach a backend.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::id::{due_shard, provider_prefix, unhex};
use super::{Connection, ConnectionId, ConnectionStoreError, DueConnection, Page, DUE_SHARDS, MAX_PAGE};
use crate::ids;

/// The validated start of a `ConnectionStore::list` page: after this provider and user id.
pub(super) fn list_start(
    cursor: Option<&str>,
    provider: Option<&str>,
) -> Result<Option<(String, String)>, ConnectionStoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let sort = decode_cursor(cursor)?;
    // A cursor from another provider's listing would start outside the queried range.
    if provider.is_some_and(|provider| !sort.starts_with(&provider_prefix(provider))) {
        return Err(ConnectionStoreError::InvalidCursor);
    }
    let (provider, user_id) = sort.split_once('.').ok_or(ConnectionStoreError::InvalidCursor)?;
    let text = |part: &str| {
        unhex(part)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|text| ids::check("cursor", text).is_ok())
            .ok_or(ConnectionStoreError::InvalidCursor)
    };
    Ok(Some((text(provider)?, text(user_id)?)))
}

/// The validated start of a `ConnectionStore::due` page: after this shard, expiry and key.
pub(super) fn due_start(
    cursor: Option<&str>,
) -> Result<Option<(u8, i64, ConnectionId)>, ConnectionStoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let decoded = decode_cursor(cursor)?;
    let mut parts = decoded.splitn(3, '.');
    let (Some(shard), Some(expires_at), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ConnectionStoreError::InvalidCursor);
    };
    let shard = shard
        .parse()
        .ok()
        .filter(|shard| *shard < DUE_SHARDS)
        .ok_or(ConnectionStoreError::InvalidCursor)?;
    let expires_at = expires_at
        .parse()
        .map_err(|_| ConnectionStoreError::InvalidCursor)?;
    let id = ConnectionId::from_key(key).ok_or(ConnectionStoreError::InvalidCursor)?;
    if due_shard(&id.key()) != shard {
        return Err(ConnectionStoreError::InvalidCursor);
    }
    Ok(Some((shard, expires_at, id)))
}

pub(super) fn list_cursor(connection: &Connection) -> String {
    URL_SAFE_NO_PAD.encode(connection.id.org_sort())
}

pub(super) fn due_cursor(due: &DueConnection) -> String {
    let key = due.id.key();
    URL_SAFE_NO_PAD.encode(format!("{}.{}.{key}", due_shard(&key), due.expires_at))
}

/// The validated start of a `ConnectionStore::under_old_keys` page: after this connection.
pub(super) fn old_keys_start(cursor: Option<&str>) -> Result<Option<ConnectionId>, ConnectionStoreError> {
    cursor
        .map(|cursor| {
            decode_cursor(cursor)
                .ok()
                .and_then(|key| ConnectionId::from_key(&key))
                .ok_or(ConnectionStoreError::InvalidCursor)
        })
        .transpose()
}

pub(super) fn old_keys_cursor(connection: &Connection) -> String {
    URL_SAFE_NO_PAD.encode(connection.id.key())
}

fn decode_cursor(cursor: &str) -> Result<String, ConnectionStoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(ConnectionStoreError::InvalidCursor)
}

pub(super) fn check_limit(limit: usize) -> Result<(), ConnectionStoreError> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(())
    } else {
        Err(ConnectionStoreError::InvalidLimit)
    }
}

/// Cuts `limit + 1` found items to a page: the extra one only says that more exist.
pub(super) fn page<T>(mut found: Vec<T>, limit: usize, cursor: fn(&T) -> String) -> Page<T> {
    if found.len() <= limit {
        return (found, None);
    }
    found.truncate(limit);
    let next = found.last().map(cursor);
    (found, next)
}
