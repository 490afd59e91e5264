//! Listings a page at a time, following the provider's cursors to the end.

use serde_json::Value;

use crate::error::{Error, Result};

/// One page of a listing: its objects and the cursor of the next page, if any.
pub struct Page {
    pub objects: Vec<Value>,
    pub next: Option<String>,
}

impl Page {
    /// Takes the array at `key` out of a provider's answer (empty when absent).
    pub fn new(answer: &mut Value, key: &str, next: Option<&Value>) -> Self {
        let objects = match answer[key].take() {
            Value::Array(objects) => objects,
            _ => Vec::new(),
        };
        let next = next
            .and_then(Value::as_str)
            .filter(|cursor| !cursor.is_empty())
            .map(str::to_owned);
        Page { objects, next }
    }
}

/// Follows cursors until the provider has no next page; a cursor seen before (right away or
/// pages later) is a provider bug, reported instead of looping until the deadline.
pub async fn all_pages<F, Fut>(provider: &'static str, mut fetch: F) -> Result<Vec<Value>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page>>,
{
    let mut objects = Vec::new();
    let mut cursor = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        let page = fetch(cursor.clone()).await?;
        objects.extend(page.objects);
        match page.next {
            Some(next) if !seen.insert(next.clone()) => {
                return Err(Error::ProviderFailed {
                    provider,
                    reason: "pagination did not advance".into(),
                })
            }
            Some(next) => cursor = Some(next),
            None => return Ok(objects),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paging_follows_cursors_and_refuses_one_that_repeats() {
        let pages = |cursors: Vec<Option<&'static str>>| {
            let cursors = std::sync::Mutex::new(cursors.into_iter());
            move |_: Option<String>| {
                let next = cursors.lock().unwrap().next().flatten().map(str::to_owned);
                async move {
                    Ok(Page {
                        objects: vec![Value::Null],
                        next,
                    })
                }
            }
        };
        let all = all_pages("P", pages(vec![Some("a"), Some("b"), None]))
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        let stuck = all_pages("P", pages(vec![Some("a"), Some("a")]))
            .await
            .unwrap_err();
        assert_eq!(stuck.to_string(), "P failed: pagination did not advance");
        let cycling = all_pages("P", pages(vec![Some("a"), Some("b"), Some("a")]))
            .await
            .unwrap_err();
        assert_eq!(cycling.to_string(), "P failed: pagination did not advance");
    }
}
