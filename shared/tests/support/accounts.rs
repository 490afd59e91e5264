//! Large accounts at a fake provider, paged as each provider documents (and refusing the page
//! sizes it refuses): HubSpot's CRM objects by `limit` and `after`, Notion's search by
//! `page_size` and `start_cursor`, Airtable's bases by `offset` with each base's tables.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::fakes::{hubspot_object, notion_page};

/// Requests the fake answered, to compare a paged walk's cost with a full one's.
#[derive(Clone, Default)]
pub struct Requests(Arc<AtomicUsize>);

impl Requests {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub(super) fn add(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub(super) fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// HubSpot's 400 for what its API refuses.
pub(super) fn hubspot_refusal(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "status": "error", "message": message, "category": "VALIDATION_ERROR"
    }))
}

struct HubSpot {
    counts: [(&'static str, usize); 3],
    requests: Requests,
}

impl Respond for HubSpot {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.requests.add();
        let object = request.url.path().rsplit('/').next().unwrap_or_default();
        let Some((_, total)) = self.counts.iter().find(|(name, _)| *name == object) else {
            return ResponseTemplate::new(404);
        };
        let limit = match query(request, "limit").map(|limit| limit.parse::<usize>()) {
            None => 10,
            Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
            Some(_) => return hubspot_refusal("limit must be between 1 and 100"),
        };
        let start = match query(request, "after").map(|after| after.parse::<usize>()) {
            None => 0,
            Some(Ok(after)) => after,
            Some(Err(_)) => return hubspot_refusal("after is not a valid paging cursor"),
        };
        let end = (*total).min(start + limit);
        let results: Vec<Value> = (start..end)
            .map(|n| hubspot_object(&format!("{object}-{n}"), json!({"firstname": "F", "lastname": format!("{n}"), "name": format!("{object} {n}"), "dealname": format!("deal {n}")})))
            .collect();
        let mut body = json!({ "results": results });
        if end < *total {
            body["paging"] = json!({ "next": { "after": end.to_string() } });
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// `contacts` contacts, and a tenth as many companies and deals.
pub async fn hubspot(server: &MockServer, contacts: usize) -> Requests {
    let requests = Requests::default();
    Mock::given(method("GET"))
        .and(path_regex(r"^/crm/v3/objects/(contacts|companies|deals)$"))
        .respond_with(HubSpot {
            counts: [
                ("contacts", contacts),
                ("companies", contacts / 10),
                ("deals", contacts / 10),
            ],
            requests: requests.clone(),
        })
        .mount(server)
        .await;
    requests
}

struct Notion {
    pages: usize,
    title_bytes: usize,
    delay: std::time::Duration,
    requests: Requests,
}

impl Respond for Notion {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.requests.add();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let size = match &body["page_size"] {
            Value::Null => 100,
            Value::Number(size) => match size.as_u64() {
                Some(size @ 1..=100) => size as usize,
                _ => return notion_refusal("body.page_size should be ≤ `100`"),
            },
            _ => return notion_refusal("body.page_size should be a number"),
        };
        let start = match body["start_cursor"].as_str().map(str::parse::<usize>) {
            None => 0,
            Some(Ok(start)) => start,
            Some(Err(_)) => return notion_refusal("body.start_cursor should be a valid cursor"),
        };
        let end = self.pages.min(start + size);
        let title = "t".repeat(self.title_bytes);
        let results: Vec<Value> = (start..end)
            .map(|n| {
                notion_page(
                    &format!("page-{n}"),
                    &format!("{n} {title}"),
                    json!({"type": "workspace", "workspace": true}),
                )
            })
            .collect();
        let more = end < self.pages;
        ResponseTemplate::new(200)
            .set_delay(self.delay)
            .set_body_json(json!({
                "object": "list", "results": results, "has_more": more,
                "next_cursor": more.then(|| end.to_string()),
            }))
    }
}

pub(super) fn notion_refusal(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "object": "error", "status": 400, "code": "validation_error", "message": message
    }))
}

/// `pages` pages in one workspace, titles padded to `title_bytes`, each answer `delay` late.
pub async fn notion(
    server: &MockServer,
    pages: usize,
    title_bytes: usize,
    delay: std::time::Duration,
) -> Requests {
    let requests = Requests::default();
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .respond_with(Notion {
            pages,
            title_bytes,
            delay,
            requests: requests.clone(),
        })
        .mount(server)
        .await;
    requests
}

struct AirtableBases {
    bases: usize,
    requests: Requests,
}

/// Airtable pages bases by its own size (no page-size parameter).
const AIRTABLE_BASES_PAGE: usize = 100;

impl Respond for AirtableBases {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.requests.add();
        let start = match query(request, "offset")
            .map(|offset| offset.strip_prefix("itr").map(str::parse::<usize>))
        {
            None => 0,
            Some(Some(Ok(start))) => start,
            Some(_) => {
                return ResponseTemplate::new(422).set_body_json(
                    json!({"error": {"type": "INVALID_OFFSET_VALUE", "message": "The offset is invalid"}}),
                )
            }
        };
        let end = self.bases.min(start + AIRTABLE_BASES_PAGE);
        let bases: Vec<Value> = (start..end)
            .map(|n| json!({"id": format!("app{n:06}"), "name": format!("Base {n}"), "permissionLevel": "create"}))
            .collect();
        let mut body = json!({ "bases": bases });
        if end < self.bases {
            body["offset"] = json!(format!("itr{end}"));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

struct AirtableTables(Requests);

impl Respond for AirtableTables {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.add();
        let base = request
            .url
            .path()
            .split('/')
            .nth(4)
            .unwrap_or_default()
            .to_owned();
        let tables: Vec<Value> = (0..2)
            .map(|n| json!({"id": format!("tbl{base}{n}"), "name": format!("Table {n}"), "primaryFieldId": "fld1", "fields": [], "views": []}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "tables": tables }))
    }
}

/// `bases` bases of two tables each.
pub async fn airtable(server: &MockServer, bases: usize) -> Requests {
    let requests = Requests::default();
    Mock::given(method("GET"))
        .and(path("/v0/meta/bases"))
        .respond_with(AirtableBases {
            bases,
            requests: requests.clone(),
        })
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v0/meta/bases/app[0-9]+/tables$"))
        .respond_with(AirtableTables(requests.clone()))
        .mount(server)
        .await;
    requests
}
