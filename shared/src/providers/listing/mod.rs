//! Walks a provider's listings as its spec declares them, one step at a time: a step reads one
//! provider page, or the children of a batch of parents, from a [`Position`] that a cursor can
//! carry. The same position and size give the same items, which is what a cursor resumes from.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{name_parents, Provider};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::upstream::Api;

pub mod changes;
mod request;

use request::{children_of, read, Page};

/// Children listings fetched at once (the spec's rate limit paces them).
const CONCURRENT_CHILDREN: usize = 20;

/// The provider page an unpaged walk asks for (each provider serves at most its own maximum).
const FULL_PAGE: usize = 100;

/// When an unpaged walk gives up: past `max_bytes` of items (a Lambda answers at most 6 MB), or
/// when less time is left before `deadline` than the slowest step so far took.
pub struct Budget {
    pub max_bytes: usize,
    pub deadline: Option<Instant>,
}

/// Every item, step after step, each listing walked at the same time as the others (HubSpot's
/// object types): what an unpaged load answers. Past its budget it fails with
/// [`Error::ListingTooLarge`], never with part of the list.
pub async fn all(api: &Api<'_>, provider: &Provider, budget: &Budget) -> Result<Vec<Item>> {
    let bytes = AtomicUsize::new(0);
    let walks =
        (0..provider.spec.listings.len()).map(|listing| walk_all(api, provider, listing, budget, &bytes));
    let mut items = futures_util::future::try_join_all(walks).await?.concat();
    if provider.spec.names_parents {
        name_parents(&mut items);
    }
    Ok(items)
}

/// Every item of one listing; `bytes` counts what every listing of the load found so far.
async fn walk_all(
    api: &Api<'_>,
    provider: &Provider,
    listing: usize,
    budget: &Budget,
    bytes: &AtomicUsize,
) -> Result<Vec<Item>> {
    let (mut items, mut slowest) = (Vec::new(), Duration::ZERO);
    let mut seen = HashSet::new();
    let mut at = Some(Position {
        listing,
        ..Position::default()
    });
    while let Some(position) = at.filter(|position| position.listing == listing) {
        // A cursor seen before, pages later (`step` catches the one repeated at once).
        if position.parents.is_empty()
            && position
                .cursor
                .as_ref()
                .is_some_and(|cursor| !seen.insert(cursor.clone()))
        {
            return Err(stuck(provider));
        }
        if out_of_time(budget.deadline, slowest) {
            return Err(Error::ListingTooLarge("cannot be listed in one request's time"));
        }
        let started = Instant::now();
        let step = step(api, provider, position, FULL_PAGE).await?;
        slowest = slowest.max(started.elapsed());
        let found: usize = step.items.iter().map(json_size).sum();
        if bytes.fetch_add(found, Ordering::Relaxed) + found > budget.max_bytes {
            return Err(Error::ListingTooLarge("are more than one response can hold"));
        }
        items.extend(step.items);
        at = step.next;
    }
    Ok(items)
}

/// Up to `limit` items from `from`, `skip` of its first step's already handed out; the position
/// and skip to go on from, unless the walk ended. A page may hold fewer, even none, while the walk
/// goes on: at most `max_steps` steps, and none started without the time it may take.
pub async fn page(
    api: &Api<'_>,
    provider: &Provider,
    from: Position,
    skip: usize,
    walk: Walk,
) -> Result<(Vec<Item>, Option<(Position, usize)>)> {
    let (mut items, mut skip, mut steps, mut slowest) = (Vec::new(), skip, 0, Duration::ZERO);
    let mut at = Some(from);
    while let Some(position) = at {
        let started = Instant::now();
        let step = step(api, provider, position.clone(), walk.size).await?;
        slowest = slowest.max(started.elapsed());
        steps += 1;
        let fresh: Vec<Item> = step.items.into_iter().skip(skip).collect();
        let room = walk.limit - items.len();
        if fresh.len() > room {
            let handed_out = skip + room;
            items.extend(fresh.into_iter().take(room));
            at = Some(position);
            skip = handed_out;
            break;
        }
        items.extend(fresh);
        (at, skip) = (step.next, 0);
        if items.len() == walk.limit || steps >= walk.max_steps || out_of_time(walk.deadline, slowest) {
            break;
        }
    }
    if provider.spec.names_parents {
        name_parents(&mut items);
    }
    Ok((items, at.map(|position| (position, skip))))
}

/// How a paged walk reads: items per page, objects per provider page (the same for every page
/// of one walk: a skip counts within a step's items), steps per page, and when it must answer.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    pub limit: usize,
    pub size: usize,
    pub max_steps: usize,
    pub deadline: Option<Instant>,
}

/// Whether another step, which may take as long as two of the slowest so far, would end after
/// `deadline`.
fn out_of_time(deadline: Option<Instant>, slowest: Duration) -> bool {
    deadline.is_some_and(|deadline| deadline.saturating_duration_since(Instant::now()) < slowest * 2)
}

/// A provider that hands out a cursor it handed out before: reported rather than looped on.
fn stuck(provider: &Provider) -> Error {
    Error::ProviderFailed {
        provider: provider.spec.display_name,
        reason: "pagination did not advance".into(),
    }
}

/// The bytes `item` takes in a JSON answer.
fn json_size(item: &Item) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(1);
    let _ = serde_json::to_writer(&mut count, item);
    count.0
}

/// Where a walk stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The listing being read, by its index in the spec's.
    pub listing: usize,
    /// The provider's cursor of its next page; none for the first.
    pub cursor: Option<String>,
    /// Whether its pages are all read.
    pub done: bool,
    /// Items of the last page whose children are still to list, each listed right before them.
    pub parents: Vec<Item>,
}

/// What one step read, and where the walk goes on (`None`: the end).
struct Step {
    items: Vec<Item>,
    next: Option<Position>,
}

/// One step from `at`, asking the provider for pages of `size` objects (within its maximum).
async fn step(api: &Api<'_>, provider: &Provider, mut at: Position, size: usize) -> Result<Step> {
    let listings = provider.spec.listings;
    let listing = listings.get(at.listing).ok_or(Error::InvalidField {
        name: "cursor".into(),
        why: "is not one of this provider's".into(),
    })?;
    let items = match listing.children {
        Some(children) if !at.parents.is_empty() => {
            let batch: Vec<Item> = at
                .parents
                .drain(..at.parents.len().min(CONCURRENT_CHILDREN).min(size.max(1)))
                .collect();
            // Owned parents: a borrowing closure trips the compiler's `Send` inference here.
            let requests = batch
                .into_iter()
                .map(|parent| children_of(api, children, parent, size));
            let pages: Vec<(Item, Page)> = futures_util::stream::iter(requests)
                .buffered(CONCURRENT_CHILDREN)
                .try_collect()
                .await?;
            let mut items = Vec::new();
            for (parent, page) in pages {
                items.push(parent);
                items.extend(page.items);
            }
            items
        }
        _ => {
            let page = read(api, listing, None, at.cursor.as_deref(), size).await?;
            if page.next.is_some() && page.next == at.cursor {
                return Err(stuck(provider));
            }
            at.done = page.next.is_none();
            at.cursor = page.next;
            match listing.children {
                Some(_) => {
                    at.parents = page.items;
                    Vec::new()
                }
                None => page.items,
            }
        }
    };
    let next = if !at.done || !at.parents.is_empty() {
        Some(at)
    } else {
        (at.listing + 1 < listings.len()).then(|| Position {
            listing: at.listing + 1,
            ..Position::default()
        })
    };
    Ok(Step { items, next })
}
