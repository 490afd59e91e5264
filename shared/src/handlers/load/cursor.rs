//! The cursor of a paged load: where the walk stands, sealed under a key that names the provider
//! and what is walked (the connection, or a hash of the credentials), and short-lived. A cursor
//! that does not open here (altered, another connection's or token's, another deployment's) is
//! no cursor; neither is an expired one.

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::crypto::Sealer;
use crate::error::{Error, Result};
use crate::providers::listing::Position;

/// How long a cursor can be resumed from: providers' own cursors outlive it.
const TTL_SECS: i64 = 3600;

/// Where the next page starts: `skip` items of the step at `at` are handed out already, and every
/// provider page of the walk asks for `size` objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub at: Position,
    pub skip: usize,
    pub size: usize,
    /// Unix seconds.
    expires: i64,
}

impl Cursor {
    pub fn new(at: Position, skip: usize, size: usize) -> Self {
        Cursor {
            at,
            skip,
            size,
            expires: clock::now() + TTL_SECS,
        }
    }

    pub fn seal(&self, sealer: &Sealer, provider: &str, walked: &str) -> String {
        let json = serde_json::to_vec(self).expect("a cursor always serialises");
        sealer.seal(&key(provider, walked), &json)
    }

    pub fn open(sealer: &Sealer, provider: &str, walked: &str, sealed: &str) -> Result<Self> {
        let invalid = |why: &str| Error::InvalidField {
            name: "cursor".into(),
            why: why.into(),
        };
        let cursor: Cursor = sealer
            .open(&key(provider, walked), sealed)
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| {
                invalid("is not one this load returned for these credentials or this connection")
            })?;
        if cursor.expires < clock::now() {
            return Err(invalid("has expired: start again without one"));
        }
        Ok(cursor)
    }
}

fn key(provider: &str, walked: &str) -> String {
    format!("integrations:load-cursor:{provider}:{walked}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_walk_and_until_it_expires() {
        let sealer = Sealer::ephemeral();
        let at = Position {
            listing: 1,
            cursor: Some("after-100".into()),
            ..Position::default()
        };
        let cursor = Cursor::new(at, 3, 50);
        let sealed = cursor.seal(&sealer, "hubspot", "walk-a");
        assert_eq!(
            Cursor::open(&sealer, "hubspot", "walk-a", &sealed).unwrap(),
            cursor
        );
        for (provider, walked) in [("hubspot", "walk-b"), ("notion", "walk-a")] {
            let error = Cursor::open(&sealer, provider, walked, &sealed).unwrap_err();
            assert!(
                error.to_string().contains("is not one this load returned"),
                "{error}"
            );
        }
        let expired = Cursor {
            expires: clock::now() - 1,
            ..cursor
        };
        let sealed = expired.seal(&sealer, "hubspot", "walk-a");
        let error = Cursor::open(&sealer, "hubspot", "walk-a", &sealed).unwrap_err();
        assert_eq!(error.to_string(), "cursor has expired: start again without one");
    }
}
