//! The resource API: a fixed workspace of folders and documents, listed page by page to a
//! bearer token (RFC 6750).

use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use serde_json::{json, Value};

use super::{invalid_request, json_response, key, oauth_error, Params, Sandbox};

const DEFAULT_PAGE_SIZE: usize = 5;
const MAX_PAGE_SIZE: usize = 100;
/// The fixed workspace's size, and the most `SANDBOX_ITEMS` can ask for.
pub(super) const FIXED_ITEMS: usize = DATASET.len();
pub(super) const MAX_ITEMS: usize = 1_000_000;
/// When the bulk documents were made (2024-07-01T00:00:00Z), one a minute.
const BULK_EPOCH: i64 = 1_719_792_000;

/// id, kind, name, parent id, created, updated.
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
);

/// Nested two folders deep, so that a listing has parents to name.
#[rustfmt::skip]
const DATASET: &[Entry] = &[
    ("fld-projects", "folder", "Projects", None, "2024-01-08T09:00:00Z", "2024-06-03T14:20:00Z"),
    ("fld-launch", "folder", "Launch", Some("fld-projects"), "2024-02-12T10:30:00Z", "2024-05-28T16:45:00Z"),
    ("fld-archive", "folder", "Archive", None, "2023-03-01T08:00:00Z", "2023-12-19T11:00:00Z"),
    ("doc-welcome", "document", "Welcome to the sandbox", None, "2024-01-08T09:05:00Z", "2024-01-08T09:05:00Z"),
    ("doc-handbook", "document", "Team handbook", None, "2024-01-15T13:00:00Z", "2024-04-22T09:10:00Z"),
    ("doc-ideas", "document", "Ideas", None, "2024-03-04T17:25:00Z", "2024-06-10T08:00:00Z"),
    ("doc-roadmap", "document", "Roadmap", Some("fld-projects"), "2024-01-09T10:00:00Z", "2024-05-30T12:00:00Z"),
    ("doc-budget", "document", "Budget 2024", Some("fld-projects"), "2024-01-20T15:40:00Z", "2024-03-18T10:15:00Z"),
    ("doc-launch-plan", "document", "Launch plan", Some("fld-launch"), "2024-02-12T11:00:00Z", "2024-05-28T16:45:00Z"),
    ("doc-press-release", "document", "Press release", Some("fld-launch"), "2024-04-02T09:30:00Z", "2024-05-20T10:00:00Z"),
    ("doc-checklist", "document", "Launch checklist", Some("fld-launch"), "2024-04-15T14:00:00Z", "2024-05-27T18:30:00Z"),
    ("doc-retro-2023", "document", "2023 retrospective", Some("fld-archive"), "2023-12-18T15:00:00Z", "2023-12-19T11:00:00Z"),
    ("doc-old-notes", "document", "Old meeting notes", Some("fld-archive"), "2023-03-01T08:30:00Z", "2023-09-12T09:45:00Z"),
    ("doc-2023-budget", "document", "Budget 2023", Some("fld-archive"), "2023-01-10T10:00:00Z", "2023-02-01T16:00:00Z"),
];

impl Sandbox {
    /// `GET /sandbox/api/items?cursor=..&page_size=..`: a page of items and the cursor of the next.
    pub(super) fn items(&self, request: &Request<Bytes>) -> Response<Bytes> {
        if let Err(reason) = self.check_bearer(request) {
            let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", reason);
            let challenge =
                format!("Bearer realm=\"sandbox\", error=\"invalid_token\", error_description=\"{reason}\"");
            if let Ok(challenge) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
            }
            return response;
        }
        let params = Params::parse(request.uri().query().unwrap_or_default().as_bytes());
        let page_size = match params.get("page_size").map(str::parse) {
            None => DEFAULT_PAGE_SIZE,
            Some(Ok(size)) if (1..=MAX_PAGE_SIZE).contains(&size) => size,
            Some(_) => return invalid_request("page_size must be a whole number from 1 to 100"),
        };
        let total = DATASET.len() + self.settings.bulk_items;
        let offset = match params.get("cursor").map(|cursor| decode_cursor(cursor, total)) {
            None => 0,
            Some(Some(offset)) => offset,
            Some(None) => return invalid_request("cursor is not one this API returned"),
        };
        let end = total.min(offset + page_size);
        let items: Vec<Value> = (offset..end).map(nth_item).collect();
        let next_cursor = (end < total).then(|| URL_SAFE_NO_PAD.encode(end.to_string()));
        json_response(
            StatusCode::OK,
            &json!({ "items": items, "next_cursor": next_cursor }),
        )
    }

    /// The reason, fit for an `error_description`, when the request carries no live access token.
    fn check_bearer(&self, request: &Request<Bytes>) -> Result<(), &'static str> {
        let token = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or("An access token is required: Authorization: Bearer <token>")?;
        let mut state = self.state();
        let key = key(token);
        match state.access_tokens.get(&key) {
            None => Err("The access token is unknown or revoked"),
            Some(live) if live.expires_at > Instant::now() => Ok(()),
            Some(_) => {
                state.access_tokens.remove(&key);
                Err("The access token expired")
            }
        }
    }
}

/// The offset a cursor stands for, if it is one the API could have returned.
fn decode_cursor(cursor: &str, total: usize) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let offset: usize = text.parse().ok()?;
    (offset.to_string() == text && offset < total).then_some(offset)
}

/// The workspace's item at `n`: the fixed ones, then the bulk documents.
fn nth_item(n: usize) -> Value {
    if let Some(entry) = DATASET.get(n) {
        return item(entry);
    }
    let bulk = n - DATASET.len();
    let at = integrations::keeper::rfc3339(BULK_EPOCH + 60 * bulk as i64);
    let id = format!("doc-bulk-{bulk}");
    json!({
        "id": id,
        "kind": "document",
        "name": format!("Bulk document {bulk}"),
        "parent_id": null,
        "created_at": at,
        "updated_at": at,
        "url": format!("https://sandbox.invalid/items/{id}"),
    })
}

fn item(&(id, kind, name, parent_id, created_at, updated_at): &Entry) -> Value {
    json!({
        "id": id,
        "kind": kind,
        "name": name,
        "parent_id": parent_id,
        "created_at": created_at,
        "updated_at": updated_at,
        "url": format!("https://sandbox.invalid/items/{id}"),
    })
}
