//! Provider accounts whose data changes between syncs, served as each provider documents:
//! a HubSpot portal (CRM v3 listing, archived listing and search, with its 10,000-result search
//! cap and its rate limit) and a Notion workspace (`/v1/search`, sorted or not, trash left out).
//! Tests edit, add, archive and trash objects between requests; every change moves the
//! object's modification time as the provider would.
//!
//! Cursors are keysets (the position of the next object), so they survive changes as the
//! providers' do; HubSpot's search `after` is an offset, as HubSpot's is.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use http::Method;
use serde_json::{json, Map, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::accounts::{hubspot_refusal, notion_refusal, query, Requests};
use super::fakes::{hubspot_object, notion_page};

/// 2024-01-01T00:00:00Z in epoch milliseconds: where both accounts begin.
pub const START_MS: i64 = 1_704_067_200_000;
pub const MINUTE_MS: i64 = 60_000;
/// HubSpot's search answers at most this many results of one query, however it is paged.
pub const SEARCH_CAP: usize = 10_000;

/// `ms` (epoch milliseconds) as RFC 3339 UTC with milliseconds: `2024-01-01T00:00:00.000Z`.
pub fn rfc3339(ms: i64) -> String {
    let seconds = DateTime::from_secs(ms.div_euclid(1000))
        .fmt(Format::DateTime)
        .expect("a time within the years 1 to 9999");
    format!("{}.{:03}Z", seconds.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// The wall clock in epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis() as i64
}

/// `Authorization: Bearer <non-empty token>` (the scheme in any case).
fn has_bearer(request: &Request) -> bool {
    request
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
}

// ---------------------------------------------------------------------------------------------
// HubSpot

/// One CRM object type: its path segment, its properties (the default ones a listing returns),
/// the one an edit renames and the one its last modification is kept in.
struct CrmType {
    name: &'static str,
    properties: &'static [&'static str],
    renamed: &'static str,
    modified: &'static str,
}

const CRM_TYPES: [CrmType; 3] = [
    CrmType {
        name: "contacts",
        properties: &["firstname", "lastname", "email"],
        renamed: "lastname",
        modified: "lastmodifieddate",
    },
    CrmType {
        name: "companies",
        properties: &["name", "domain"],
        renamed: "name",
        modified: "hs_lastmodifieddate",
    },
    CrmType {
        name: "deals",
        properties: &["dealname", "amount", "dealstage"],
        renamed: "dealname",
        modified: "hs_lastmodifieddate",
    },
];

fn crm_type(kind: &str) -> usize {
    CRM_TYPES
        .iter()
        .position(|crm| crm.name == kind)
        .unwrap_or_else(|| panic!("no HubSpot object type {kind:?}: contacts, companies or deals"))
}

struct CrmObject {
    /// Its place in creation order, the number in its id.
    number: usize,
    id: String,
    values: Vec<(&'static str, String)>,
    created: i64,
    updated: i64,
    archived_at: Option<i64>,
}

impl CrmObject {
    fn new(kind: usize, number: usize, at: i64) -> Self {
        let values = match kind {
            0 => vec![
                ("firstname", format!("First {number}")),
                ("lastname", format!("Contact {number}")),
                ("email", format!("contact{number}@example.com")),
            ],
            1 => vec![
                ("name", format!("Company {number}")),
                ("domain", format!("company{number}.example.com")),
            ],
            _ => vec![
                ("dealname", format!("Deal {number}")),
                ("amount", format!("{}", number * 100)),
                ("dealstage", "appointmentscheduled".to_owned()),
            ],
        };
        CrmObject {
            number,
            id: format!("{}-{number}", CRM_TYPES[kind].name),
            values,
            created: at,
            updated: at,
            archived_at: None,
        }
    }

    fn live(&self) -> bool {
        self.archived_at.is_none()
    }

    fn rename(&mut self, kind: usize, name: String) {
        let property = CRM_TYPES[kind].renamed;
        if let Some((_, value)) = self.values.iter_mut().find(|(key, _)| *key == property) {
            *value = name;
        }
    }

    /// As HubSpot answers it: the `wanted` properties it has, and always its creation,
    /// modification and id properties.
    fn render(&self, kind: usize, wanted: &[String]) -> Value {
        let mut properties = Map::new();
        for name in wanted {
            if let Some((key, value)) = self.values.iter().find(|(key, _)| key == name) {
                properties.insert((*key).to_owned(), json!(value));
            }
        }
        properties.insert("createdate".into(), json!(rfc3339(self.created)));
        properties.insert(CRM_TYPES[kind].modified.into(), json!(rfc3339(self.updated)));
        properties.insert("hs_object_id".into(), json!(self.id));
        let mut object = hubspot_object(&self.id, Value::Object(properties));
        object["createdAt"] = json!(rfc3339(self.created));
        object["updatedAt"] = json!(rfc3339(self.updated));
        object["archived"] = json!(!self.live());
        if let Some(at) = self.archived_at {
            object["archivedAt"] = json!(rfc3339(at));
        }
        object
    }
}

struct Portal {
    objects: [Vec<CrmObject>; 3],
    /// The last time a change was stamped with: each later one is strictly after it.
    clock: i64,
    /// `(max, window, retry_after_secs)` once throttled.
    limit: Option<(usize, Duration, u64)>,
    /// When the requests counted toward the window began.
    begun: VecDeque<Instant>,
    throttled: usize,
}

impl Portal {
    /// `at`, or just after the last stamp if that is not later.
    fn stamp(&mut self, at: i64) -> i64 {
        self.clock = at.max(self.clock + 1);
        self.clock
    }

    /// HubSpot's 429 when the request passes the rate limit; `None` when it is admitted.
    fn throttle(&mut self) -> Option<ResponseTemplate> {
        let (max, window, retry_after) = self.limit?;
        let now = Instant::now();
        while self
            .begun
            .front()
            .is_some_and(|begun| now.duration_since(*begun) >= window)
        {
            self.begun.pop_front();
        }
        if self.begun.len() >= max {
            self.throttled += 1;
            return Some(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", retry_after.to_string().as_str())
                    .set_body_json(json!({
                        "status": "error",
                        "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT",
                        "policyName": "TEN_SECONDLY_ROLLING",
                        "category": "RATE_LIMITS"
                    })),
            );
        }
        self.begun.push_back(now);
        None
    }

    /// `GET /crm/v3/objects/{type}`: live or archived objects in creation order.
    fn list(&self, kind: usize, request: &Request) -> ResponseTemplate {
        let limit = match query(request, "limit").map(|limit| limit.parse::<usize>()) {
            None => 10,
            Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
            Some(_) => return hubspot_refusal("limit must be between 1 and 100"),
        };
        let from = match query(request, "after").map(|after| after.parse::<usize>()) {
            None => 0,
            Some(Ok(after)) => after,
            Some(Err(_)) => return hubspot_refusal("after is not a valid paging cursor"),
        };
        let archived = match query(request, "archived").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return hubspot_refusal(&format!(
                    "Invalid value for archived: '{other}'; expected true or false"
                ))
            }
        };
        let wanted = requested_properties(kind, request);
        let mut found = self.objects[kind]
            .iter()
            .filter(|object| object.live() != archived && object.number >= from);
        let results: Vec<Value> = found
            .by_ref()
            .take(limit)
            .map(|object| object.render(kind, &wanted))
            .collect();
        let mut body = json!({ "results": results });
        if let Some(next) = found.next() {
            let after = next.number.to_string();
            let mut link = request.url.clone();
            let kept: Vec<(String, String)> = request
                .url
                .query_pairs()
                .filter(|(name, _)| name != "after")
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
            link.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("after", &after);
            body["paging"] = json!({ "next": { "after": after, "link": link.as_str() } });
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// `POST /crm/v3/objects/{type}/search`: live objects by their last modification.
    fn search(&self, kind: usize, body: &[u8]) -> ResponseTemplate {
        let body: Value = match serde_json::from_slice(body) {
            Ok(body @ Value::Object(_)) => body,
            _ => return hubspot_refusal("Invalid input JSON: expected an object"),
        };
        let modified = CRM_TYPES[kind].modified;
        let groups = match search_filters(&body["filterGroups"], modified) {
            Ok(groups) => groups,
            Err(message) => return hubspot_refusal(&message),
        };
        let descending = match &body["sorts"] {
            Value::Null => None,
            Value::Array(sorts) if sorts.is_empty() => None,
            Value::Array(sorts) if sorts.len() == 1 => {
                let sort = &sorts[0];
                if sort["propertyName"] != modified {
                    return hubspot_refusal(&format!(
                        "Sorting by '{}' is not supported here; sort by {modified}",
                        sort["propertyName"]
                    ));
                }
                match sort["direction"].as_str() {
                    Some("ASCENDING") => Some(false),
                    Some("DESCENDING") => Some(true),
                    _ => return hubspot_refusal("sorts[0].direction must be ASCENDING or DESCENDING"),
                }
            }
            Value::Array(_) => return hubspot_refusal("Only one sort is allowed"),
            _ => return hubspot_refusal("sorts must be an array"),
        };
        let wanted: Vec<String> = match &body["properties"] {
            Value::Null => default_properties(kind),
            Value::Array(names) if names.iter().all(Value::is_string) => names
                .iter()
                .filter_map(|name| name.as_str().map(str::to_owned))
                .collect(),
            _ => return hubspot_refusal("properties must be an array of property names"),
        };
        let limit = match &body["limit"] {
            Value::Null => 10,
            value => match number_of(value) {
                Some(limit @ 1..=200) => limit as usize,
                _ => return hubspot_refusal("limit must be between 1 and 200"),
            },
        };
        let offset = match &body["after"] {
            Value::Null => 0,
            value => match number_of(value) {
                Some(after) if after >= 0 => after as usize,
                _ => return hubspot_refusal("after is not a valid paging cursor"),
            },
        };
        if offset + limit > SEARCH_CAP {
            return hubspot_refusal(
                "Search results are limited to 10,000; narrow the query to page past them",
            );
        }
        let mut matches: Vec<&CrmObject> = self.objects[kind]
            .iter()
            .filter(|object| object.live())
            .filter(|object| {
                groups.is_empty()
                    || groups
                        .iter()
                        .any(|group| group.iter().all(|filter| filter.admits(object.updated)))
            })
            .collect();
        match descending {
            None => {}
            Some(false) => matches.sort_by_key(|object| (object.updated, object.number)),
            Some(true) => matches.sort_by_key(|object| (-object.updated, object.number)),
        }
        let total = matches.len();
        let results: Vec<Value> = matches
            .iter()
            .skip(offset)
            .take(limit)
            .map(|object| object.render(kind, &wanted))
            .collect();
        let mut answer = json!({ "total": total, "results": results });
        if offset + limit < total {
            answer["paging"] = json!({ "next": { "after": (offset + limit).to_string() } });
        }
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

fn default_properties(kind: usize) -> Vec<String> {
    CRM_TYPES[kind]
        .properties
        .iter()
        .map(|name| (*name).to_owned())
        .collect()
}

/// `properties`, comma separated and possibly repeated; the type's defaults without it.
fn requested_properties(kind: usize, request: &Request) -> Vec<String> {
    let named: Vec<String> = request
        .url
        .query_pairs()
        .filter(|(name, _)| name == "properties")
        .flat_map(|(_, value)| {
            value
                .split(',')
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    if named.is_empty() {
        default_properties(kind)
    } else {
        named
    }
}

/// A JSON number, or a string holding one.
fn number_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A time filter's value: epoch milliseconds (number or string) or an RFC 3339 time.
fn time_of(value: &Value) -> Option<i64> {
    number_of(value).or_else(|| {
        DateTime::from_str(value.as_str()?, Format::DateTime)
            .ok()?
            .to_millis()
            .ok()
    })
}

enum Operator {
    Gte,
    Gt,
    Lt,
    Lte,
    Eq,
    Neq,
    Between,
}

struct Filter {
    operator: Operator,
    value: i64,
    high: i64,
}

impl Filter {
    fn admits(&self, time: i64) -> bool {
        match self.operator {
            Operator::Gte => time >= self.value,
            Operator::Gt => time > self.value,
            Operator::Lt => time < self.value,
            Operator::Lte => time <= self.value,
            Operator::Eq => time == self.value,
            Operator::Neq => time != self.value,
            Operator::Between => (self.value..=self.high).contains(&time),
        }
    }
}

/// `filterGroups` within HubSpot's documented bounds (5 groups, 6 filters in one, 18 in all),
/// every filter on the type's `modified` property.
fn search_filters(groups: &Value, modified: &str) -> Result<Vec<Vec<Filter>>, String> {
    let groups = match groups {
        Value::Null => return Ok(Vec::new()),
        Value::Array(groups) => groups,
        _ => return Err("filterGroups must be an array".into()),
    };
    if groups.len() > 5 {
        return Err(format!(
            "Too many filter groups ({}); the limit is 5",
            groups.len()
        ));
    }
    let mut all = 0;
    let mut parsed = Vec::new();
    for group in groups {
        let Some(filters) = group["filters"].as_array() else {
            return Err("each filter group must have a filters array".into());
        };
        if filters.len() > 6 {
            return Err(format!(
                "Too many filters in a group ({}); the limit is 6",
                filters.len()
            ));
        }
        all += filters.len();
        if all > 18 {
            return Err("Too many filters; the limit is 18 in all".into());
        }
        let mut group = Vec::new();
        for filter in filters {
            let property = filter["propertyName"].as_str().unwrap_or_default();
            if property != modified {
                return Err(format!(
                    "There was a problem with the request: filters on '{property}' are not \
                     supported for this object type; filter on {modified}"
                ));
            }
            let operator = match filter["operator"].as_str() {
                Some("GTE") => Operator::Gte,
                Some("GT") => Operator::Gt,
                Some("LT") => Operator::Lt,
                Some("LTE") => Operator::Lte,
                Some("EQ") => Operator::Eq,
                Some("NEQ") => Operator::Neq,
                Some("BETWEEN") => Operator::Between,
                other => return Err(format!("Unsupported filter operator {other:?}")),
            };
            let Some(value) = time_of(&filter["value"]) else {
                return Err(format!(
                    "{modified} is a datetime: its filter value must be epoch milliseconds, \
                     instead was {}",
                    filter["value"]
                ));
            };
            let high = match operator {
                Operator::Between => time_of(&filter["highValue"])
                    .ok_or_else(|| "BETWEEN needs a highValue in epoch milliseconds".to_owned())?,
                _ => value,
            };
            group.push(Filter {
                operator,
                value,
                high,
            });
        }
        parsed.push(group);
    }
    Ok(parsed)
}

/// A HubSpot portal whose contacts, companies and deals change between requests.
#[derive(Clone)]
pub struct HubSpotPortal {
    state: Arc<Mutex<Portal>>,
    requests: Requests,
}

impl HubSpotPortal {
    /// `contacts` contacts and a tenth as many companies and deals, ids `contacts-0`,
    /// `companies-0`, `deals-0`…, each created (and last modified) a minute after the one
    /// before: contacts from 2024-01-01T00:00:00Z, then companies, then deals.
    pub async fn mount(server: &MockServer, contacts: usize) -> HubSpotPortal {
        let mut minute = 0;
        let mut created = |kind: usize, count: usize| -> Vec<CrmObject> {
            (0..count)
                .map(|number| {
                    let at = START_MS + minute * MINUTE_MS;
                    minute += 1;
                    CrmObject::new(kind, number, at)
                })
                .collect()
        };
        let objects = [
            created(0, contacts),
            created(1, contacts / 10),
            created(2, contacts / 10),
        ];
        let portal = HubSpotPortal {
            state: Arc::new(Mutex::new(Portal {
                objects,
                clock: START_MS + minute * MINUTE_MS,
                limit: None,
                begun: VecDeque::new(),
                throttled: 0,
            })),
            requests: Requests::default(),
        };
        Mock::given(path_regex(
            r"^/crm/v3/objects/(contacts|companies|deals)(/search)?$",
        ))
        .respond_with(HubSpotApi(portal.clone()))
        .mount(server)
        .await;
        portal
    }

    fn lock(&self) -> MutexGuard<'_, Portal> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// From now on, more than `max` requests begun within any `window` are answered 429 with
    /// `Retry-After: retry_after_secs` (a 429 does not count toward the window).
    pub fn throttle(&self, max: usize, window: Duration, retry_after_secs: u64) {
        let mut portal = self.lock();
        portal.limit = Some((max, window, retry_after_secs));
        portal.begun.clear();
    }

    /// The 429s answered.
    pub fn throttled(&self) -> usize {
        self.lock().throttled
    }

    /// Every request answered, refusals and 429s included.
    pub fn requests(&self) -> usize {
        self.requests.count()
    }

    /// The `kind` objects not archived.
    pub fn live(&self, kind: &str) -> usize {
        self.lock().objects[crm_type(kind)]
            .iter()
            .filter(|object| object.live())
            .count()
    }

    /// Renames the first `n` live `kind` objects (`Edited {k}`), each modified at the wall
    /// time plus `k` ms and after any earlier change; their ids.
    pub fn edit(&self, kind: &str, n: usize) -> Vec<String> {
        let ids: Vec<String> = self.lock().objects[crm_type(kind)]
            .iter()
            .filter(|object| object.live())
            .take(n)
            .map(|object| object.id.clone())
            .collect();
        self.edit_ids(kind, &ids)
    }

    /// [`edit`](Self::edit) for the objects `ids`, in that order.
    pub fn edit_ids(&self, kind: &str, ids: &[String]) -> Vec<String> {
        let kind = crm_type(kind);
        let now = now_ms();
        let mut portal = self.lock();
        for (k, id) in ids.iter().enumerate() {
            let at = portal.stamp(now + k as i64);
            let object = portal.objects[kind]
                .iter_mut()
                .find(|object| &object.id == id)
                .unwrap_or_else(|| panic!("no HubSpot object {id}"));
            object.rename(kind, format!("Edited {k}"));
            object.updated = at;
        }
        ids.to_vec()
    }

    /// Archives the last `n` live `kind` objects (now); their ids, in creation order.
    pub fn archive(&self, kind: &str, n: usize) -> Vec<String> {
        let kind = crm_type(kind);
        let now = now_ms();
        let mut portal = self.lock();
        let mut numbers: Vec<usize> = portal.objects[kind]
            .iter()
            .filter(|object| object.live())
            .map(|object| object.number)
            .rev()
            .take(n)
            .collect();
        numbers.reverse();
        numbers
            .into_iter()
            .enumerate()
            .map(|(k, number)| {
                let at = portal.stamp(now + k as i64);
                let object = &mut portal.objects[kind][number];
                object.archived_at = Some(at);
                object.updated = at;
                object.id.clone()
            })
            .collect()
    }

    /// Creates `n` `kind` objects, each created at the wall time plus `k` ms; their ids.
    pub fn add(&self, kind: &str, n: usize) -> Vec<String> {
        let kind = crm_type(kind);
        let now = now_ms();
        let mut portal = self.lock();
        (0..n)
            .map(|k| {
                let at = portal.stamp(now + k as i64);
                let number = portal.objects[kind].len();
                let object = CrmObject::new(kind, number, at);
                let id = object.id.clone();
                portal.objects[kind].push(object);
                id
            })
            .collect()
    }
}

struct HubSpotApi(HubSpotPortal);

impl Respond for HubSpotApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.requests.add();
        if !has_bearer(request) {
            return ResponseTemplate::new(401).set_body_json(json!({
                "status": "error",
                "message": "Authentication credentials not found.",
                "category": "INVALID_AUTHENTICATION"
            }));
        }
        let mut portal = self.0.lock();
        if let Some(throttled) = portal.throttle() {
            return throttled;
        }
        let segments: Vec<&str> = request.url.path().split('/').collect();
        let kind = crm_type(segments[4]);
        let search = segments.len() == 6;
        match (&request.method, search) {
            (&Method::GET, false) => portal.list(kind, request),
            (&Method::POST, true) => portal.search(kind, &request.body),
            _ => ResponseTemplate::new(405),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Notion

struct NotionPage {
    number: usize,
    id: String,
    title: String,
    created: i64,
    edited: i64,
    trashed: bool,
}

impl NotionPage {
    fn new(number: usize, at: i64) -> Self {
        NotionPage {
            number,
            id: format!("page-{number}"),
            title: format!("Page {number}"),
            created: at,
            edited: at,
            trashed: false,
        }
    }

    fn render(&self) -> Value {
        let mut page = notion_page(
            &self.id,
            &self.title,
            json!({ "type": "workspace", "workspace": true }),
        );
        page["created_time"] = json!(rfc3339(self.created));
        page["last_edited_time"] = json!(rfc3339(self.edited));
        page["last_edited_by"] = json!({ "object": "user", "id": "u-1" });
        page["archived"] = json!(self.trashed);
        page["in_trash"] = json!(self.trashed);
        page
    }
}

/// Notion keeps its times to the minute.
fn to_minute(ms: i64) -> i64 {
    ms - ms.rem_euclid(MINUTE_MS)
}

/// The order of a search: creation, or `last_edited_time` either way (ties by id).
#[derive(Clone, Copy, PartialEq)]
enum Order {
    Created,
    Ascending,
    Descending,
}

impl Order {
    fn key(self, page: &NotionPage) -> (i64, usize) {
        match self {
            Order::Created => (0, page.number),
            Order::Ascending => (page.edited, page.number),
            Order::Descending => (-page.edited, page.number),
        }
    }

    fn tag(self) -> char {
        match self {
            Order::Created => 'c',
            Order::Ascending => 'a',
            Order::Descending => 'd',
        }
    }

    fn cursor(self, (time, number): (i64, usize)) -> String {
        format!("{}{time}_{number}", self.tag())
    }

    /// The key a cursor of this order holds.
    fn parse(self, cursor: &str) -> Option<(i64, usize)> {
        let (time, number) = cursor.strip_prefix(self.tag())?.split_once('_')?;
        Some((time.parse().ok()?, number.parse().ok()?))
    }
}

struct Workspace {
    pages: Vec<NotionPage>,
}

/// Notion's 400 for a body that fails validation.
fn invalid(message: String) -> ResponseTemplate {
    notion_refusal(&format!("body failed validation: {message}"))
}

impl Workspace {
    fn search(&self, request: &Request) -> ResponseTemplate {
        let body: Value = if request.body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            match serde_json::from_slice(&request.body) {
                Ok(body) => body,
                Err(_) => {
                    return ResponseTemplate::new(400).set_body_json(json!({
                        "object": "error", "status": 400, "code": "invalid_json",
                        "message": "Error parsing JSON body."
                    }))
                }
            }
        };
        let Value::Object(fields) = &body else {
            return invalid(format!("body should be an object, instead was `{body}`."));
        };
        let size = match fields.get("page_size") {
            None => 100,
            Some(Value::Number(size)) => match size.as_u64() {
                Some(size @ 1..=100) => size as usize,
                Some(0) => return invalid(format!("body.page_size should be ≥ `1`, instead was `{size}`.")),
                _ => return invalid(format!("body.page_size should be ≤ `100`, instead was `{size}`.")),
            },
            Some(other) => {
                return invalid(format!(
                    "body.page_size should be a number or `undefined`, instead was `{other}`."
                ))
            }
        };
        let versioned = request
            .headers
            .get("notion-version")
            .and_then(|version| version.to_str().ok())
            .is_some_and(|version| version >= "2025-09-03");
        let (databases, listed) = if versioned {
            ("data_source", "page_or_data_source")
        } else {
            ("database", "page_or_database")
        };
        let only = match fields.get("filter") {
            None => None,
            Some(filter) => {
                if filter["property"] != "object" {
                    return invalid(format!(
                        "body.filter.property should be `\"object\"`, instead was `{}`.",
                        filter["property"]
                    ));
                }
                match filter["value"].as_str() {
                    Some(value) if value == "page" || value == databases => Some(value),
                    _ => {
                        return invalid(format!(
                            "body.filter.value should be `\"page\"` or `\"{databases}\"`, \
                             instead was `{}`.",
                            filter["value"]
                        ))
                    }
                }
            }
        };
        let order = match fields.get("sort") {
            None => Order::Created,
            Some(sort) => {
                if sort["timestamp"] != "last_edited_time" {
                    return invalid(format!(
                        "body.sort.timestamp should be `\"last_edited_time\"`, instead was `{}`.",
                        sort["timestamp"]
                    ));
                }
                match sort["direction"].as_str() {
                    Some("ascending") => Order::Ascending,
                    Some("descending") => Order::Descending,
                    _ => {
                        return invalid(format!(
                            "body.sort.direction should be `\"ascending\"` or `\"descending\"`, \
                             instead was `{}`.",
                            sort["direction"]
                        ))
                    }
                }
            }
        };
        let from = match fields.get("start_cursor") {
            None => None,
            Some(Value::String(cursor)) => match order.parse(cursor) {
                Some(key) => Some(key),
                None => {
                    return invalid(format!(
                        "body.start_cursor should be a valid cursor, instead was `\"{cursor}\"`."
                    ))
                }
            },
            Some(other) => {
                return invalid(format!(
                    "body.start_cursor should be a string or `undefined`, instead was `{other}`."
                ))
            }
        };
        // Only pages live here: a search for databases finds none.
        let mut found: Vec<&NotionPage> = self
            .pages
            .iter()
            .filter(|page| !page.trashed && only.is_none_or(|only| only == "page"))
            .filter(|page| from.is_none_or(|from| order.key(page) >= from))
            .collect();
        found.sort_by_key(|page| order.key(page));
        let next = found.get(size).map(|page| order.cursor(order.key(page)));
        let results: Vec<Value> = found.iter().take(size).map(|page| page.render()).collect();
        let mut answer = json!({
            "object": "list",
            "results": results,
            "has_more": next.is_some(),
            "next_cursor": next,
            "type": listed,
        });
        answer[listed] = json!({});
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

/// A Notion workspace whose pages change between searches.
#[derive(Clone)]
pub struct NotionWorkspace {
    state: Arc<Mutex<Workspace>>,
    requests: Requests,
}

impl NotionWorkspace {
    /// `pages` pages `page-0`… at the workspace's top, titled `Page {n}`, each created and last
    /// edited at 2024-01-01T00:00Z plus `n` minutes.
    pub async fn mount(server: &MockServer, pages: usize) -> NotionWorkspace {
        let workspace = NotionWorkspace {
            state: Arc::new(Mutex::new(Workspace {
                pages: (0..pages)
                    .map(|n| NotionPage::new(n, START_MS + n as i64 * MINUTE_MS))
                    .collect(),
            })),
            requests: Requests::default(),
        };
        Mock::given(method("POST"))
            .and(path("/v1/search"))
            .respond_with(NotionApi(workspace.clone()))
            .mount(server)
            .await;
        workspace
    }

    fn lock(&self) -> MutexGuard<'_, Workspace> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every search answered, refusals included.
    pub fn requests(&self) -> usize {
        self.requests.count()
    }

    /// The pages not in the trash.
    pub fn live(&self) -> usize {
        self.lock().pages.iter().filter(|page| !page.trashed).count()
    }

    /// Retitles the first `n` live pages (`Edited {k}`), last edited now (to the minute).
    pub fn edit(&self, n: usize) -> Vec<String> {
        let ids: Vec<String> = self
            .lock()
            .pages
            .iter()
            .filter(|page| !page.trashed)
            .take(n)
            .map(|page| page.id.clone())
            .collect();
        self.edit_ids(&ids)
    }

    /// [`edit`](Self::edit) for the pages `ids`.
    pub fn edit_ids(&self, ids: &[String]) -> Vec<String> {
        let at = to_minute(now_ms());
        let mut workspace = self.lock();
        for (k, id) in ids.iter().enumerate() {
            let page = workspace
                .pages
                .iter_mut()
                .find(|page| &page.id == id)
                .unwrap_or_else(|| panic!("no Notion page {id}"));
            page.title = format!("Edited {k}");
            page.edited = at;
        }
        ids.to_vec()
    }

    /// Moves the last `n` live pages to the trash, last edited now; their ids, in creation order.
    pub fn trash(&self, n: usize) -> Vec<String> {
        let at = to_minute(now_ms());
        let mut workspace = self.lock();
        let mut trashed: Vec<String> = workspace
            .pages
            .iter_mut()
            .rev()
            .filter(|page| !page.trashed)
            .take(n)
            .map(|page| {
                page.trashed = true;
                page.edited = at;
                page.id.clone()
            })
            .collect();
        trashed.reverse();
        trashed
    }

    /// Creates `n` pages, created and last edited now (to the minute); their ids.
    pub fn add(&self, n: usize) -> Vec<String> {
        let at = to_minute(now_ms());
        let mut workspace = self.lock();
        (0..n)
            .map(|_| {
                let page = NotionPage::new(workspace.pages.len(), at);
                let id = page.id.clone();
                workspace.pages.push(page);
                id
            })
            .collect()
    }
}

struct NotionApi(NotionWorkspace);

impl Respond for NotionApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.requests.add();
        if !has_bearer(request) {
            return ResponseTemplate::new(401).set_body_json(json!({
                "object": "error", "status": 401, "code": "unauthorized",
                "message": "API token is invalid."
            }));
        }
        let versioned = request
            .headers
            .get("notion-version")
            .and_then(|version| version.to_str().ok())
            .is_some_and(|version| !version.trim().is_empty());
        if !versioned {
            return ResponseTemplate::new(400).set_body_json(json!({
                "object": "error", "status": 400, "code": "missing_version",
                "message": "Notion-Version header failed validation: Notion-Version header \
                            should be defined, instead was `undefined`."
            }));
        }
        self.0.lock().search(request)
    }
}
