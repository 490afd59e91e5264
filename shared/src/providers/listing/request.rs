//! One provider page: the request a [`Listing`] describes, and its answer normalised.

use serde_json::{Map, Value};

use crate::error::Result;
use crate::item::Item;
use crate::providers::Listing;
use crate::upstream::Api;

/// One page of a listing, normalised.
pub(super) struct Page {
    pub(super) items: Vec<Item>,
    pub(super) next: Option<String>,
}

pub(super) async fn children_of(
    api: &Api<'_>,
    listing: &Listing,
    parent: Item,
    size: usize,
) -> Result<(Item, Page)> {
    let page = read(api, listing, Some(&parent), None, size).await?;
    Ok((parent, page))
}

pub(super) async fn read(
    api: &Api<'_>,
    listing: &Listing,
    parent: Option<&Item>,
    cursor: Option<&str>,
    size: usize,
) -> Result<Page> {
    read_with(api, listing, parent, cursor, size, Map::new()).await
}

/// [`read`] with `extra` parameters over the listing's own (a sync's sort, or `archived`).
pub(super) async fn read_with(
    api: &Api<'_>,
    listing: &Listing,
    parent: Option<&Item>,
    cursor: Option<&str>,
    size: usize,
    extra: Map<String, Value>,
) -> Result<Page> {
    let path = match parent {
        Some(parent) => listing
            .path
            .replace("{parent}", parent.id.as_deref().unwrap_or_default()),
        None => listing.path.to_owned(),
    };
    let mut params: Map<String, Value> = listing
        .params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
        .collect();
    if let Some((name, max)) = listing.page_size {
        params.insert(name.to_owned(), Value::from(size.clamp(1, max)));
    }
    if let (Some(name), Some(cursor)) = (listing.cursor, cursor) {
        params.insert(name.to_owned(), Value::from(cursor));
    }
    params.extend(extra);
    let request = if listing.post {
        api.post(&path).json(&params)
    } else {
        let query: Vec<(String, String)> = params
            .into_iter()
            .map(|(name, value)| match value {
                Value::String(text) => (name, text),
                other => (name, other.to_string()),
            })
            .collect();
        api.get(&path).query(&query)
    };
    let mut answer = api.send_json(request).await?;
    let more = listing.more.is_none_or(|flag| answer[flag] == true);
    let next = listing
        .next
        .iter()
        .try_fold(&answer, |value, key| value.get(key))
        .and_then(Value::as_str)
        .filter(|cursor| more && !cursor.is_empty())
        .map(str::to_owned);
    let objects = match answer[listing.results].take() {
        Value::Array(objects) => objects,
        _ => Vec::new(),
    };
    let items = objects
        .iter()
        .filter_map(|object| (listing.normalise)(object, listing.kind, parent))
        .collect();
    Ok(Page { items, next })
}
