//! The one rule for the ids a connection is named by (`user_id`, `org_id`, the provider's name):
//! the request fields and the store's keys check them alike.

/// The longest id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// An id that breaks the rule; `why` completes the sentence after its name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} {why}")]
pub struct InvalidId {
    pub name: &'static str,
    pub why: String,
}

/// Not blank, at most [`MAX_ID_BYTES`]; any other characters are allowed.
pub fn check(name: &'static str, value: &str) -> Result<(), InvalidId> {
    let why = if value.trim().is_empty() {
        "must not be empty".to_owned()
    } else if value.len() > MAX_ID_BYTES {
        format!("is longer than {MAX_ID_BYTES} bytes")
    } else {
        return Ok(());
    };
    Err(InvalidId { name, why })
}

impl From<InvalidId> for crate::error::Error {
    fn from(error: InvalidId) -> Self {
        crate::error::Error::InvalidField {
            name: error.name.to_owned(),
            why: error.why,
        }
    }
}
