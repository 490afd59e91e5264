//! Writing what a step read: each item compared with the kept one, so that a repeat changes
//! nothing and a step run again (after a crash) counts what it had already written.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::record::Counts;
use super::store::{Change, ChangeKind, ItemStore, ItemStoreError, StoredItem};
use crate::item::Item;

/// Which step writes, and the feed time it writes at.
#[derive(Debug, Clone, Copy)]
pub struct Writer {
    pub run: u64,
    pub step: u64,
    pub at: i64,
}

impl Writer {
    fn change(self, kind: ChangeKind) -> Change {
        Change {
            run: self.run,
            step: self.step,
            kind,
        }
    }

    /// Where `old`'s version came from, as this writer sees it.
    fn origin(self, old: &StoredItem) -> Origin {
        if old.change.run != self.run || old.change.step != self.step {
            Origin::Earlier
        } else if old.synced_at == self.at {
            Origin::ThisAttempt
        } else {
            Origin::LostAttempt
        }
    }
}

/// Where a kept version came from.
#[derive(PartialEq, Eq)]
enum Origin {
    /// A step before this one: committed and counted.
    Earlier,
    /// This step, in an attempt that died or failed before it committed: written, not counted.
    LostAttempt,
    /// This very attempt (the provider listed the item twice): counted already.
    ThisAttempt,
}

/// The key an item is kept under: its type and id, since a provider's ids may be unique only
/// within a type (HubSpot's contacts and deals).
pub fn item_key(item: &Item) -> Option<String> {
    Some(format!(
        "{}:{}",
        item.kind.as_deref().unwrap_or_default(),
        item.id.as_deref()?
    ))
}

fn count(counts: &mut Counts, kind: ChangeKind) {
    match kind {
        ChangeKind::Added => counts.added += 1,
        ChangeKind::Changed => counts.changed += 1,
        ChangeKind::Deleted => counts.deleted += 1,
    }
}

/// What tells a change from a repeat: the item as the provider lists it. Its parent's name is
/// derived (from whatever else a page held), so it is left out.
pub fn hash(item: &Item) -> u64 {
    let item = Item {
        parent_path_or_name: None,
        ..item.clone()
    };
    let json = serde_json::to_vec(&item).unwrap_or_default();
    let digest = Sha256::digest(json);
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

/// Records what the provider listed: new items, changed ones, and those it reports deleted
/// (`visibility: false`: archived, in the trash).
pub async fn record_listed(
    store: &(impl ItemStore + ?Sized),
    connection: &str,
    listed: Vec<Item>,
    writer: Writer,
) -> Result<Counts, ItemStoreError> {
    let mut by_key: HashMap<String, Item> = HashMap::new();
    for item in listed {
        if let Some(key) = item_key(&item) {
            by_key.insert(key, item);
        }
    }
    // The kept versions of these items, and of the parents they name that this page lacks (as
    // any of the types this page holds).
    let kinds: HashSet<&str> = by_key.values().filter_map(|item| item.kind.as_deref()).collect();
    let parents: Vec<String> = by_key
        .values()
        .filter(|item| item.parent_path_or_name.is_none())
        .filter_map(|item| item.parent_id.as_deref())
        .flat_map(|parent| kinds.iter().map(move |kind| format!("{kind}:{parent}")))
        .filter(|key| !by_key.contains_key(key))
        .collect();
    let keys: Vec<String> = by_key
        .keys()
        .cloned()
        .chain(parents)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let kept: HashMap<String, StoredItem> = store
        .items(connection, &keys)
        .await?
        .into_iter()
        .map(|item| (item.id.clone(), item))
        .collect();
    name_parents(&mut by_key, &kept);
    let (mut counts, mut writes) = (Counts::default(), Vec::new());
    for (key, item) in by_key {
        let old = kept.get(&key);
        let origin = old.map(|old| writer.origin(old));
        if item.visibility == Some(false) {
            match old {
                Some(old) if !old.deleted => {
                    writes.push(tombstone(old, writer));
                    count(&mut counts, ChangeKind::Deleted);
                }
                Some(old)
                    if origin == Some(Origin::LostAttempt) && old.change.kind == ChangeKind::Deleted =>
                {
                    count(&mut counts, ChangeKind::Deleted)
                }
                _ => {}
            }
            continue;
        }
        let hash = hash(&item);
        match old {
            Some(old) if old.hash == hash && !old.deleted => {
                if origin == Some(Origin::LostAttempt) {
                    count(&mut counts, old.change.kind);
                }
                // Seen again: no change, but the parent's name may be known now (a new version
                // in the feed, not counted).
                let named = item.parent_path_or_name.is_some() && old.item.parent_path_or_name.is_none();
                if old.seen_run != writer.run || named {
                    let mut seen = StoredItem {
                        seen_run: writer.run,
                        ..old.clone()
                    };
                    if named {
                        seen.item.parent_path_or_name = item.parent_path_or_name;
                        seen.synced_at = writer.at;
                    }
                    writes.push(seen);
                }
            }
            _ => {
                // A version this step wrote before keeps its kind: an item added by a lost
                // attempt and edited since is still an addition.
                let kind = match (old, &origin) {
                    (Some(old), Some(Origin::LostAttempt | Origin::ThisAttempt)) => old.change.kind,
                    (Some(old), _) if !old.deleted => ChangeKind::Changed,
                    _ => ChangeKind::Added,
                };
                if origin != Some(Origin::ThisAttempt) {
                    count(&mut counts, kind);
                }
                writes.push(StoredItem {
                    id: key,
                    item,
                    deleted: false,
                    synced_at: writer.at,
                    hash,
                    seen_run: writer.run,
                    change: writer.change(kind),
                });
            }
        }
    }
    store.put_items(connection, &writes).await?;
    Ok(counts)
}

/// Names each item's parent from the page or, failing that, from the kept items: a child listed
/// on a later page than its parent still gets its name.
fn name_parents(items: &mut HashMap<String, Item>, kept: &HashMap<String, StoredItem>) {
    // The page's own names last, so that they win over what was kept.
    let names: HashMap<String, String> = kept
        .values()
        .filter(|parent| !parent.deleted)
        .map(|parent| &parent.item)
        .chain(items.values())
        .filter_map(|item| Some((item.id.clone()?, item.name.clone()?)))
        .collect();
    for item in items
        .values_mut()
        .filter(|item| item.parent_path_or_name.is_none())
    {
        if let Some(name) = item.parent_id.as_deref().and_then(|parent| names.get(parent)) {
            item.parent_path_or_name = Some(name.clone());
        }
    }
}

/// A full sync's end, one page of kept items at a time: what the walk did not see is deleted,
/// and tombstones recorded before `purge_before` go for good. Also the page's live items, which
/// the sweep counts to set the sync's total exactly.
pub async fn sweep(
    store: &(impl ItemStore + ?Sized),
    connection: &str,
    page: &[StoredItem],
    writer: Writer,
    purge_before: i64,
) -> Result<(Counts, u64), ItemStoreError> {
    let (mut counts, mut writes, mut purged, mut live) = (Counts::default(), Vec::new(), Vec::new(), 0);
    for old in page {
        if old.deleted {
            if writer.origin(old) == Origin::LostAttempt && old.change.kind == ChangeKind::Deleted {
                count(&mut counts, ChangeKind::Deleted);
            } else if writer.origin(old) == Origin::Earlier && old.synced_at < purge_before {
                purged.push(old.id.clone());
            }
        } else if old.seen_run < writer.run {
            writes.push(tombstone(old, writer));
            count(&mut counts, ChangeKind::Deleted);
        } else {
            live += 1;
        }
    }
    store.put_items(connection, &writes).await?;
    store.delete_items(connection, &purged).await?;
    Ok((counts, live))
}

fn tombstone(old: &StoredItem, writer: Writer) -> StoredItem {
    StoredItem {
        deleted: true,
        synced_at: writer.at,
        change: writer.change(ChangeKind::Deleted),
        ..old.clone()
    }
}
