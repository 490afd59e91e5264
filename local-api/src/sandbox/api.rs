//! The resource API: a fixed workspace of folders and documents, listed page by page to a
//! bearer token (RFC 6750), and changed on request (documents renamed or removed) so that a sync
//! has something to find.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use serde_json::{json, Value};

use super::{invalid_request, is_form, json_response, key, oauth_error, Params, Sandbox};

const DEFAULT_PAGE_SIZE: usize = 5;
const MAX_PAGE_SIZE: usize = 100;
/// The fixed workspace's size, and the most `SANDBOX_ITEMS` can ask for.
pub(super) const FIXED_ITEMS: usize = DATASET.len();
pub(super) const MAX_ITEMS: usize = 1_000_000;
/// When the bulk documents were made (2024-07-01T00:00:00Z), one a minute.
const BULK_EPOCH: i64 = 1_719_792_000;
/// The most documents one `POST /changes` edits, and the most it deletes.
pub const MAX_CHANGES: usize = 1000;

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

/// What `POST /changes` did to the generated workspace, by position in it: an overlay, so that
/// a workspace of a million bulk documents costs only what was changed.
#[derive(Debug, Default)]
pub(super) struct Changes {
    edited: HashMap<usize, Edit>,
    deleted: BTreeSet<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Edit {
    times: u32,
    /// Unix seconds of the last edit.
    at: i64,
}

impl Changes {
    fn is_live(&self, n: usize) -> bool {
        !self.deleted.contains(&n)
    }

    /// Folders are never changed: their documents would be left without a parent.
    fn is_live_document(&self, n: usize) -> bool {
        DATASET.get(n).is_none_or(|&(_, kind, ..)| kind == "document") && self.is_live(n)
    }

    /// The item at `n` as listed now: its name and `updated_at` those of its last edit.
    fn item(&self, n: usize) -> Value {
        let mut item = nth_item(n);
        if let Some(edit) = self.edited.get(&n) {
            let name = item["name"].as_str().unwrap_or_default();
            item["name"] = match edit.times {
                1 => format!("{name} (edited)"),
                times => format!("{name} (edited {times} times)"),
            }
            .into();
            item["updated_at"] = json!(integrations::clock::rfc3339(edit.at));
        }
        item
    }
}

impl Sandbox {
    /// `GET /sandbox/api/items?cursor=..&page_size=..`: a page of items and the cursor of the next.
    pub(super) fn items(&self, request: &Request<Bytes>) -> Response<Bytes> {
        if let Err(reason) = self.check_bearer(request) {
            return invalid_token(reason);
        }
        let params = Params::parse(request.uri().query().unwrap_or_default().as_bytes());
        let page_size = match params.get("page_size").map(str::parse) {
            None => DEFAULT_PAGE_SIZE,
            Some(Ok(size)) if (1..=MAX_PAGE_SIZE).contains(&size) => size,
            Some(_) => return invalid_request("page_size must be a whole number from 1 to 100"),
        };
        let total = self.total();
        let offset = match params.get("cursor").map(|cursor| decode_cursor(cursor, total)) {
            None => 0,
            Some(Some(offset)) => offset,
            Some(None) => return invalid_request("cursor is not one this API returned"),
        };
        // A cursor is a position in the workspace: deleted items are skipped, never renumbered.
        let state = self.state();
        let changes = &state.workspace;
        let mut live = (offset..total).filter(|&n| changes.is_live(n));
        let items: Vec<Value> = live.by_ref().take(page_size).map(|n| changes.item(n)).collect();
        let next_cursor = live.next().map(|next| URL_SAFE_NO_PAD.encode(next.to_string()));
        json_response(
            StatusCode::OK,
            &json!({ "items": items, "next_cursor": next_cursor }),
        )
    }

    /// `POST /sandbox/api/changes` with `edit` and `delete` (form or JSON, each 0 to 1000, 0 when
    /// omitted): removes the last `delete` live documents from the listing, then renames the first
    /// `edit` of those left and sets their `updated_at` to now. Answers the ids of each.
    pub(super) fn changes(&self, request: &Request<Bytes>) -> Response<Bytes> {
        if let Err(reason) = self.check_bearer(request) {
            return invalid_token(reason);
        }
        let (edit, delete) = match change_counts(request) {
            Ok(counts) => counts,
            Err(detail) => {
                return json_response(StatusCode::UNPROCESSABLE_ENTITY, &json!({ "detail": detail }))
            }
        };
        let total = self.total();
        let now = integrations::clock::now();
        let mut state = self.state();
        let changes = &mut state.workspace;
        // Deleted first, so that no document is reported both edited and deleted.
        let mut deleted: Vec<usize> = (0..total)
            .rev()
            .filter(|&n| changes.is_live_document(n))
            .take(delete)
            .collect();
        deleted.reverse();
        changes.deleted.extend(deleted.iter().copied());
        changes.edited.retain(|n, _| !changes.deleted.contains(n));
        let edited: Vec<usize> = (0..total)
            .filter(|&n| changes.is_live_document(n))
            .take(edit)
            .collect();
        for &n in &edited {
            let edit = changes.edited.entry(n).or_insert(Edit { times: 0, at: now });
            edit.times = edit.times.saturating_add(1);
            edit.at = now;
        }
        let ids = |positions: &[usize]| -> Vec<Value> {
            positions.iter().map(|&n| nth_item(n)["id"].clone()).collect()
        };
        json_response(
            StatusCode::OK,
            &json!({ "edited": ids(&edited), "deleted": ids(&deleted) }),
        )
    }

    /// Items in the workspace, deleted ones included: the fixed ones, then the bulk documents.
    fn total(&self) -> usize {
        DATASET.len() + self.settings.bulk_items
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

/// A 401 that says why in an RFC 6750 challenge too.
fn invalid_token(reason: &str) -> Response<Bytes> {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", reason);
    let challenge =
        format!("Bearer realm=\"sandbox\", error=\"invalid_token\", error_description=\"{reason}\"");
    if let Ok(challenge) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    response
}

/// `edit` and `delete` of a `POST /changes` body: a form, JSON, or nothing at all; the reason
/// when they are not whole numbers from 0 to [`MAX_CHANGES`], or the body has anything else.
fn change_counts(request: &Request<Bytes>) -> Result<(usize, usize), String> {
    const NAMES: [&str; 2] = ["edit", "delete"];
    let body = request.body();
    let mut fields: HashMap<&str, usize> = HashMap::new();
    let count = |name: &str, value: Option<u64>| {
        let name = NAMES
            .into_iter()
            .find(|known| *known == name)
            .ok_or_else(|| format!("{name} is not a field: send edit, delete or both"))?;
        value
            .and_then(|value| usize::try_from(value).ok())
            .filter(|value| *value <= MAX_CHANGES)
            .map(|value| (name, value))
            .ok_or_else(|| format!("{name} must be a whole number from 0 to {MAX_CHANGES}"))
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        // Nothing to change.
    } else if is_form(request) {
        let params = Params::parse(body);
        if let Some(name) = params.repeated.first() {
            return Err(format!("{name} was sent more than once"));
        }
        for (name, value) in &params.values {
            let digits = value.bytes().all(|byte| byte.is_ascii_digit());
            let value = digits.then(|| value.parse().ok()).flatten();
            let (name, value) = count(name, value)?;
            fields.insert(name, value);
        }
    } else if is_json(request) {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
            return Err("the body must be a JSON object such as {\"edit\": 3, \"delete\": 2}".into());
        };
        for (name, value) in &object {
            // null, like an empty form field, counts as omitted.
            let value = if value.is_null() { Some(0) } else { value.as_u64() };
            let (name, value) = count(name, value)?;
            fields.insert(name, value);
        }
    } else {
        return Err("the body must be a form (application/x-www-form-urlencoded) or JSON".into());
    }
    let get = |name: &str| fields.get(name).copied().unwrap_or(0);
    Ok((get("edit"), get("delete")))
}

/// Whether the body is `application/json`, charset or not.
fn is_json(request: &Request<Bytes>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
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
    let at = integrations::clock::rfc3339(BULK_EPOCH + 60 * bulk as i64);
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
