//! A sync's reads of what changed since a watermark, as each listing's [`Changes`] declares:
//! newest first until past the watermark (Notion), or a search by modification time from it and
//! then what was archived (HubSpot). A step reads one provider page from a [`Delta`].

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::request::{read_with, Page};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::providers::{Changes, Listing, Provider};
use crate::upstream::Api;

/// Where a walk of the changes stands: a listing and how far into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub listing: usize,
    pub stage: Stage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    /// Newest first, at the provider's cursor.
    Newest { cursor: Option<String> },
    /// Searching from `from` (unix ms), the first `skip` results at exactly that time read.
    Search { from: i64, skip: usize },
    /// The archived objects, at the provider's cursor.
    Archived { cursor: Option<String> },
}

/// Whether every listing of `provider` can be read by change: otherwise a sync reads it all.
pub fn incremental(provider: &Provider) -> bool {
    provider
        .spec
        .listings
        .iter()
        .all(|listing| listing.changes.is_some())
}

/// The first step of reading the changes of `provider`'s listing `listing` since `since`.
pub fn first(provider: &Provider, listing: usize, since: i64) -> Option<Delta> {
    let stage = match provider.spec.listings.get(listing)?.changes.as_ref()? {
        Changes::NewestFirst(_) => Stage::Newest { cursor: None },
        Changes::Search { .. } => Stage::Search { from: since, skip: 0 },
    };
    Some(Delta { listing, stage })
}

/// One provider page of changes from `at`; the items (deleted ones with `visibility: false`) and
/// where the walk goes on, `None` at its end.
pub async fn step(
    api: &Api<'_>,
    provider: &Provider,
    at: Delta,
    since: i64,
    size: usize,
) -> Result<(Vec<Item>, Option<Delta>)> {
    let listing = provider
        .spec
        .listings
        .get(at.listing)
        .ok_or_else(|| Error::InvalidField {
            name: "sync position".into(),
            why: "names no listing of this provider".into(),
        })?;
    let changes = listing.changes.as_ref().ok_or_else(|| Error::InvalidField {
        name: "sync position".into(),
        why: "names a listing that has no changes to read".into(),
    })?;
    let (items, stage) = match (at.stage, changes) {
        (Stage::Newest { cursor }, Changes::NewestFirst(sort)) => {
            let sort = serde_json::from_str(sort).unwrap_or_default();
            let page = read_with(api, listing, None, cursor.as_deref(), size, sort).await?;
            let past = page
                .items
                .iter()
                .any(|item| modified_ms(item).is_none_or(|time| time < since));
            let next = page.next.filter(|_| !past);
            let stage = next.map(|cursor| Stage::Newest { cursor: Some(cursor) });
            (page.items, stage)
        }
        (
            Stage::Search { from, skip },
            Changes::Search {
                path,
                property,
                max_page,
                archived,
            },
        ) => {
            let items = search(
                api,
                listing,
                path,
                property,
                from,
                skip,
                (*max_page).min(size.max(1)),
            )
            .await?;
            let full = items.len() >= (*max_page).min(size.max(1));
            let stage = match items.last().and_then(modified_ms) {
                _ if !full => Some(Stage::Archived { cursor: None }).filter(|_| !archived.is_empty()),
                // A whole page at one time: on past it by offset, the only way forward.
                Some(last) if last == from => Some(Stage::Search {
                    from,
                    skip: skip + items.len(),
                }),
                // Otherwise from the last time read, again from its first: the order of equal
                // times is not guaranteed, and what is read twice is a repeat, not a change.
                Some(last) => Some(Stage::Search { from: last, skip: 0 }),
                None => return Err(no_times(provider)),
            };
            (items, stage)
        }
        (Stage::Archived { cursor }, Changes::Search { archived, .. }) => {
            let params = archived
                .iter()
                .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
                .collect();
            let Page { items, next } = read_with(api, listing, None, cursor.as_deref(), size, params).await?;
            let items = items
                .into_iter()
                .filter(|item| item.visibility == Some(false))
                .collect();
            (items, next.map(|cursor| Stage::Archived { cursor: Some(cursor) }))
        }
        _ => {
            return Err(Error::InvalidField {
                name: "sync position".into(),
                why: "does not fit this provider's listing".into(),
            })
        }
    };
    let next = match stage {
        Some(stage) => Some(Delta {
            listing: at.listing,
            stage,
        }),
        None => {
            (at.listing + 1..provider.spec.listings.len()).find_map(|listing| first(provider, listing, since))
        }
    };
    Ok((items, next))
}

/// Up to `size` live objects modified at `from` or later, oldest first, the first `skip` left out.
async fn search(
    api: &Api<'_>,
    listing: &Listing,
    path: &str,
    property: &str,
    from: i64,
    skip: usize,
    size: usize,
) -> Result<Vec<Item>> {
    let properties: Vec<&str> = listing
        .params
        .iter()
        .filter(|(name, _)| *name == "properties")
        .flat_map(|(_, value)| value.split(','))
        .collect();
    let mut body = json!({
        "filterGroups": [{"filters": [{"propertyName": property, "operator": "GTE", "value": from.to_string()}]}],
        "sorts": [{"propertyName": property, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": size,
    });
    if skip > 0 {
        body["after"] = Value::from(skip.to_string());
    }
    let mut answer = api.send_json(api.post(path).json(&body)).await?;
    let objects = match answer[listing.results].take() {
        Value::Array(objects) => objects,
        _ => Vec::new(),
    };
    Ok(objects
        .iter()
        .filter_map(|object| (listing.normalise)(object, listing.kind, None))
        .collect())
}

/// An item's `last_modified_time` in unix milliseconds.
pub fn modified_ms(item: &Item) -> Option<i64> {
    crate::clock::parse_rfc3339_ms(item.last_modified_time.as_deref()?)
}

fn no_times(provider: &Provider) -> Error {
    Error::ProviderFailed {
        provider: provider.spec.display_name,
        reason: "a search answered objects without a modification time".into(),
    }
}
