//! `/items`: the kept items of a connection in feed order, the time each version was recorded
//! then its id. Only what no step is still writing is shown, so a reader that goes on from its
//! last item (its cursor, or `modified_after` its `synced_at`) misses nothing, even mid-sync.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use super::store::{ItemStore, SharedItems, StoredItem};
use crate::clock::{parse_rfc3339_ms, rfc3339_ms};
use crate::connections::ConnectionId;
use crate::error::{Error, Result};
use crate::item::Item;
use crate::request::bounded;

pub const DEFAULT_ITEMS_LIMIT: usize = 100;
pub const MAX_ITEMS_LIMIT: usize = 1000;

/// An item as `/items` answers it: the common shape, whether it is a tombstone, and when this
/// version was recorded.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedItem {
    #[serde(flatten)]
    pub item: Item,
    pub deleted: bool,
    pub synced_at: Option<String>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemsPage {
    pub items: Vec<FeedItem>,
    /// `null` when nothing more is kept now: go on later with `modified_after` set to the last
    /// item's `synced_at`.
    pub next_cursor: Option<String>,
    /// When the last sync finished; `null` before the first.
    pub synced_at: Option<String>,
}

/// What a reader asked for, unchecked.
#[derive(Debug, Default)]
pub struct ItemsQuery {
    pub modified_after: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

fn invalid(name: &str, why: &str) -> Error {
    Error::InvalidField {
        name: name.into(),
        why: why.into(),
    }
}

fn encode_cursor(item: &StoredItem) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", item.synced_at, item.id))
}

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (time, id) = text.split_once(':')?;
    Some((time.parse().ok()?, id.to_owned()))
}

pub async fn items_page(items: &SharedItems, id: &ConnectionId, query: &ItemsQuery) -> Result<ItemsPage> {
    let limit = bounded(
        "limit",
        query.limit.as_deref(),
        "a number",
        MAX_ITEMS_LIMIT as u64,
    )?
    .map_or(DEFAULT_ITEMS_LIMIT, |limit| limit as usize);
    let after = match (&query.cursor, &query.modified_after) {
        (Some(cursor), _) => Some(decode_cursor(cursor).ok_or_else(|| invalid("cursor", "is malformed"))?),
        (None, Some(time)) => {
            let time = parse_rfc3339_ms(time).ok_or_else(|| {
                invalid(
                    "modified_after",
                    "must be an RFC 3339 time, such as 2026-12-01T00:00:00Z",
                )
            })?;
            // Strictly after: the feed's times are whole milliseconds.
            Some((time + 1, String::new()))
        }
        (None, None) => None,
    };
    let key = id.key();
    let record = items.sync_record(&key).await?;
    // Only what is older than any step that may be writing: the one in flight, or the next
    // (every step writes after the record's clock), which could claim between these two reads.
    let before = record.as_ref().map_or(i64::MIN, |record| {
        record.writing_since.unwrap_or(record.clock + 1)
    });
    let mut found = items.feed(&key, after, Some(before), limit + 1).await?;
    let next_cursor = (found.len() > limit).then(|| {
        found.truncate(limit);
        found.last().map(encode_cursor)
    });
    Ok(ItemsPage {
        items: found
            .into_iter()
            .map(|stored| FeedItem {
                synced_at: rfc3339_ms(stored.synced_at),
                deleted: stored.deleted,
                item: stored.item,
            })
            .collect(),
        next_cursor: next_cursor.flatten(),
        synced_at: record.and_then(|record| record.synced_at).and_then(rfc3339_ms),
    })
}
