//! Writing what a step read: each item compared with the kept one, so that a repeat changes
//! nothing and a step run again (after a crash) counts what it had already written.

use std::collections::HashMap;

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

pub fn hash(item: &Item) -> u64 {
    let json = serde_json::to_vec(item).unwrap_or_default();
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
    let ids: Vec<String> = by_id.keys().cloned().collect();
    let kept: HashMap<String, StoredItem> = store
        .items(connection, &ids)
        .await?
        .into_iter()
        .map(|item| (item.id.clone(), item))
        .collect();
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
                if old.seen_run != writer.run {
                    writes.push(StoredItem {
                        seen_run: writer.run,
                        ..old.clone()
                    });
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
