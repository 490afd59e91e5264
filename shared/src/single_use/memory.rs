//! The in-process backend of `local-api`: a bounded map of values with deadlines.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Backend;
use crate::error::StoreError;

/// The in-process backend: a map of values with deadlines, bounded.
pub struct MemoryBackend {
    entries: Mutex<Entries>,
    capacity: usize,
}

/// Values waiting, and the size at which expired ones are next swept out: twice what survived
/// the last sweep, so a put costs amortised O(1) however many values wait. A full map is swept
/// at most once a second.
struct Entries {
    values: HashMap<String, (Instant, String)>,
    sweep_at: usize,
    swept: Instant,
}

/// More values than a local server ever has waiting (states live 10 minutes): a flood is refused
/// with 503 instead of growing without bound.
const MEMORY_CAPACITY: usize = 100_000;
const FIRST_SWEEP: usize = 1024;

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::with_capacity(MEMORY_CAPACITY)
    }
}

impl MemoryBackend {
    fn with_capacity(capacity: usize) -> Self {
        MemoryBackend {
            entries: Mutex::new(Entries {
                values: HashMap::new(),
                sweep_at: FIRST_SWEEP,
                swept: Instant::now(),
            }),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, key: &str, value: String, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        let full = entries.values.len() >= self.capacity;
        if entries.values.len() >= entries.sweep_at || (full && now >= entries.swept + Duration::from_secs(1))
        {
            entries.values.retain(|_, (expires, _)| *expires > now);
            entries.sweep_at = (entries.values.len() * 2).max(FIRST_SWEEP);
            entries.swept = now;
        }
        if entries.values.len() >= self.capacity && !entries.values.contains_key(key) {
            return Err(StoreError(format!(
                "the in-process store holds {} values, its limit: set REDIS_URL for more",
                self.capacity
            )));
        }
        entries.values.insert(key.to_owned(), (now + ttl, value));
        Ok(())
    }

    fn remove(&self, key: &str) -> Option<String> {
        let (expires, value) = self.lock().values.remove(key)?;
        (expires > Instant::now()).then_some(value)
    }
}

impl Backend for MemoryBackend {
    async fn put(&self, key: &str, value: String, ttl: Duration) -> Result<(), StoreError> {
        self.insert(key, value, ttl)
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.remove(key))
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let entries = self.lock();
        Ok(entries
            .values
            .get(key)
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, value)| value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_backend_sweeps_expired_values_and_refuses_a_flood() {
        let memory = MemoryBackend::with_capacity(2000);
        for n in 0..FIRST_SWEEP {
            memory
                .insert(&format!("old{n}"), "v".into(), Duration::ZERO)
                .unwrap();
        }
        memory
            .insert("fresh", "kept".into(), Duration::from_secs(60))
            .unwrap();
        assert_eq!(memory.lock().values.len(), 1, "the expired values were swept out");
        assert_eq!(memory.lock().sweep_at, FIRST_SWEEP);

        for n in 1..2000 {
            memory
                .insert(&format!("live{n}"), "v".into(), Duration::from_secs(60))
                .unwrap();
        }
        let full = memory.insert("one-more", "v".into(), Duration::from_secs(60));
        assert!(full.unwrap_err().0.contains("set REDIS_URL"));
        memory
            .insert("fresh", "replaced".into(), Duration::from_secs(60))
            .unwrap();
        assert_eq!(memory.remove("fresh").as_deref(), Some("replaced"));
        assert_eq!(memory.remove("fresh"), None, "taken once");
        memory
            .insert("one-more", "v".into(), Duration::from_secs(60))
            .unwrap();

        // Full of values that have since expired: swept again, a second after the last sweep.
        memory
            .lock()
            .values
            .values_mut()
            .for_each(|(expires, _)| *expires = Instant::now());
        memory.lock().swept -= Duration::from_secs(2);
        memory
            .insert("after", "v".into(), Duration::from_secs(60))
            .unwrap();
        assert_eq!(memory.lock().values.len(), 1);
    }
}
