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

    /// What `old` counts for when it already holds this step's `kind` of change.
    fn counted_before(self, old: &StoredItem, kind: ChangeKind) -> bool {
        old.change == self.change(kind)
    }
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
    let mut by_id: HashMap<String, Item> = HashMap::new();
    for item in listed {
        if let Some(id) = item.id.clone() {
            by_id.insert(id, item);
        }
    }
    // The kept versions of these items, and of the parents they name that this page lacks.
    let parents = by_id
        .values()
        .filter(|item| item.parent_path_or_name.is_none())
        .filter_map(|item| item.parent_id.clone())
        .filter(|parent| !by_id.contains_key(parent));
    let ids: Vec<String> = by_id
        .keys()
        .cloned()
        .chain(parents)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let kept: HashMap<String, StoredItem> = store
        .items(connection, &ids)
        .await?
        .into_iter()
        .map(|item| (item.id.clone(), item))
        .collect();
    name_parents(&mut by_id, &kept);
    let (mut counts, mut writes) = (Counts::default(), Vec::new());
    for (id, item) in by_id {
        let old = kept.get(&id);
        if item.visibility == Some(false) {
            match old {
                Some(old) if !old.deleted => {
                    writes.push(tombstone(old, writer));
                    count(&mut counts, ChangeKind::Deleted);
                }
                Some(old) if writer.counted_before(old, ChangeKind::Deleted) => {
                    count(&mut counts, ChangeKind::Deleted)
                }
                _ => {}
            }
            continue;
        }
        let hash = hash(&item);
        match old {
            Some(old) if old.hash == hash && !old.deleted => {
                if old.change.run == writer.run && old.change.step == writer.step {
                    count(&mut counts, old.change.kind);
                }
                // Seen again: no change to feed, but the parent's name may be known now.
                let named = item.parent_path_or_name.is_some() && old.item.parent_path_or_name.is_none();
                if old.seen_run != writer.run || named {
                    let mut seen = StoredItem {
                        seen_run: writer.run,
                        ..old.clone()
                    };
                    if named {
                        seen.item.parent_path_or_name = item.parent_path_or_name;
                    }
                    writes.push(seen);
                }
            }
            _ => {
                let kind = match old {
                    Some(old) if !old.deleted => ChangeKind::Changed,
                    _ => ChangeKind::Added,
                };
                count(&mut counts, kind);
                writes.push(StoredItem {
                    id,
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
    let names: HashMap<String, String> = items
        .values()
        .filter_map(|item| Some((item.id.clone()?, item.name.clone()?)))
        .collect();
    for item in items
        .values_mut()
        .filter(|item| item.parent_path_or_name.is_none())
    {
        let Some(parent) = item.parent_id.as_deref() else {
            continue;
        };
        let name = names.get(parent).cloned().or_else(|| {
            kept.get(parent)
                .filter(|parent| !parent.deleted)
                .and_then(|parent| parent.item.name.clone())
        });
        item.parent_path_or_name = name;
    }
}

/// A full sync's end, one page of kept items at a time: what the walk did not see is deleted,
/// and tombstones recorded before `purge_before` go for good.
pub async fn sweep(
    store: &(impl ItemStore + ?Sized),
    connection: &str,
    page: &[StoredItem],
    writer: Writer,
    purge_before: i64,
) -> Result<Counts, ItemStoreError> {
    let (mut counts, mut writes, mut purged) = (Counts::default(), Vec::new(), Vec::new());
    for old in page {
        if old.deleted {
            if writer.counted_before(old, ChangeKind::Deleted) {
                count(&mut counts, ChangeKind::Deleted);
            } else if old.synced_at < purge_before {
                purged.push(old.id.clone());
            }
        } else if old.seen_run < writer.run {
            writes.push(tombstone(old, writer));
            count(&mut counts, ChangeKind::Deleted);
        }
    }
    store.put_items(connection, &writes).await?;
    store.delete_items(connection, &purged).await?;
    Ok(counts)
}

fn tombstone(old: &StoredItem, writer: Writer) -> StoredItem {
    StoredItem {
        deleted: true,
        synced_at: writer.at,
        change: writer.change(ChangeKind::Deleted),
        ..old.clone()
    }
}
