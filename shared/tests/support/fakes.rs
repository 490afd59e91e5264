//! Local fakes of the providers, answering in their documented wire formats.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::matchers::{
    body_json, body_partial_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::basic;

/// The providers a deployment has. Every test that covers "each provider" walks these, so a new
/// provider meets every fake here, and fails with [`no_fake`] until it has its own.
pub fn providers() -> impl Iterator<Item = &'static str> {
    integrations::providers::deployable().map(|spec| spec.name)
}

/// Where every match on a provider's name ends for a provider the fakes do not know.
pub fn no_fake(provider: &str) -> ! {
    panic!("support/fakes.rs has no fake for the provider {provider:?}: add its wire format there")
}

/// The refresh token a provider's code exchange fake hands out (what a connect stores).
pub fn connected_refresh_token(provider: &str) -> &'static str {
    match provider {
        "notion" => "notion-refresh-0",
        "hubspot" => "hubspot-refresh-6f18f21e-a743-4509-b7fd-1a5e632fffa1",
        "airtable" => "airtable-refresh-token",
        other => no_fake(other),
    }
}

/// How many items a provider's listing fake serves.
pub fn listed_items(provider: &str) -> usize {
    match provider {
        "notion" => 3,
        "hubspot" | "airtable" => 5,
        other => no_fake(other),
    }
}

pub const REDIRECT: &str = "https://app.example/integrations/{}/oauth2callback";

pub fn redirect_uri(provider: &str) -> String {
    REDIRECT.replace("{}", provider)
}

/// The form fields of a request body.
pub fn form_fields(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

/// Notion's token endpoint: JSON body, client credentials by HTTP Basic.
pub async fn notion_token(server: &MockServer, code: &str, access_token: &str) {
    Mock::given(method("POST"))
        .and(path("/notion/token"))
        .and(header("authorization", basic("notion-client-id", "notion-client-secret").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri("notion"),
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access_token,
            "token_type": "bearer",
            "refresh_token": "notion-refresh-0",
            "bot_id": "b3414d659-1224-5ty7-6ffr-cc9d8773drt6",
            "workspace_name": "Acme",
            "workspace_icon": null,
            "workspace_id": "j565j4d7x3-2882-61bs-564a-jj9d9ui-c36hxfr7x",
            "owner": { "type": "user", "user": { "object": "user", "id": "4b24e7b1-2b1f-4b4e-8c4a-3f9e0e6e9f2c" } },
            "duplicated_template_id": null,
            "request_id": "f2c8d5a9-0b3e-4f8e-9d61-0c0a4a5c6b7d"
        })))
        .expect(1)
        .mount(server)
        .await;
}

/// HubSpot's token endpoint (v3): form body with the client credentials in it.
pub async fn hubspot_token(server: &MockServer, code: &str, access_token: &str) {
    let expected: HashMap<String, String> = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect_uri("hubspot")),
        ("client_id", "hubspot-client-id"),
        ("client_secret", "hubspot-client-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Mock::given(method("POST"))
        .and(path("/hubspot/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(move |request: &Request| {
            form_fields(request) == expected && !request.headers.contains_key("authorization")
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer",
            "refresh_token": "hubspot-refresh-6f18f21e-a743-4509-b7fd-1a5e632fffa1",
            "access_token": access_token,
            "expires_in": 1800
        })))
        .expect(1)
        .mount(server)
        .await;
}

/// Airtable's token endpoint: form body with the PKCE verifier, client credentials by Basic.
/// Answers only when `code_verifier` hashes (S256) to `challenge`.
pub async fn airtable_token(server: &MockServer, code: &str, challenge: &str, access_token: &str) {
    airtable_exchange(server, code, challenge, access_token, true).await
}

/// Airtable's token endpoint for a public client: `client_id` in the form, no `Authorization`.
pub async fn airtable_public_token(server: &MockServer, code: &str, challenge: &str, access_token: &str) {
    airtable_exchange(server, code, challenge, access_token, false).await
}

async fn airtable_exchange(
    server: &MockServer,
    code: &str,
    challenge: &str,
    access_token: &str,
    confidential: bool,
) {
    let code = code.to_owned();
    let challenge = challenge.to_owned();
    let expected_basic = basic("airtable-client-id", "airtable-client-secret");
    Mock::given(method("POST"))
        .and(path("/airtable/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(move |request: &Request| {
            let authorization = request
                .headers
                .get("authorization")
                .and_then(|value| value.to_str().ok());
            let fields = form_fields(request);
            let client_authenticated = if confidential {
                authorization == Some(expected_basic.as_str()) && fields.len() == 4
            } else {
                authorization.is_none()
                    && fields.len() == 5
                    && fields.get("client_id").map(String::as_str) == Some("airtable-client-id")
            };
            let verifier = fields.get("code_verifier").cloned().unwrap_or_default();
            let hashed =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            client_authenticated
                && !fields.contains_key("client_secret")
                && fields.get("grant_type").map(String::as_str) == Some("authorization_code")
                && fields.get("code") == Some(&code)
                && fields.get("redirect_uri") == Some(&redirect_uri("airtable"))
                && (43..=128).contains(&verifier.len())
                && hashed == challenge
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access_token,
            "refresh_token": "airtable-refresh-token",
            "token_type": "Bearer",
            "scope": "data.records:read schema.bases:read",
            "expires_in": 3600,
            "refresh_expires_in": 5184000
        })))
        .expect(1)
        .mount(server)
        .await;
}

pub fn notion_page(id: &str, title: &str, parent: Value) -> Value {
    json!({
        "object": "page",
        "id": id,
        "created_time": "2024-02-01T10:00:00.000Z",
        "last_edited_time": "2024-03-01T11:30:00.000Z",
        "created_by": { "object": "user", "id": "u-1" },
        "parent": parent,
        "archived": false,
        "in_trash": false,
        "url": format!("https://www.notion.so/{}", id.replace('-', "")),
        "properties": {
            "Tags": { "id": "a%3Ab", "type": "multi_select", "multi_select": [] },
            "Task name": {
                "id": "title",
                "type": "title",
                "title": [
                    { "type": "text", "text": { "content": title, "link": null }, "annotations": {}, "plain_text": title, "href": null }
                ]
            }
        }
    })
}

pub fn notion_database(id: &str, title: &str) -> Value {
    json!({
        "object": "database",
        "id": id,
        "created_time": "2024-01-05T09:00:00.000Z",
        "last_edited_time": "2024-01-06T09:00:00.000Z",
        "title": [ { "type": "text", "text": { "content": title }, "plain_text": title } ],
        "parent": { "type": "workspace", "workspace": true },
        "url": format!("https://www.notion.so/{}", id.replace('-', "")),
        "archived": false,
        "properties": {}
    })
}

/// Notion's `/v1/search`, in two pages: a database and a page in it, then a page under that page.
/// Each page is expected once.
pub async fn notion_search(server: &MockServer, access_token: &str) {
    mount_notion_search(server, access_token, Some(1)).await;
}

/// [`notion_search`], answered however often it is asked (a sync may read it besides a load).
pub async fn notion_search_repeatable(server: &MockServer, access_token: &str) {
    mount_notion_search(server, access_token, None).await;
}

async fn mount_notion_search(server: &MockServer, access_token: &str, times: Option<u64>) {
    let bearer = format!("Bearer {access_token}");
    let mock = Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(header("authorization", bearer.as_str()))
        .and(header("notion-version", "2022-06-28"))
        .and(|request: &Request| {
            serde_json::from_slice::<Value>(&request.body)
                .is_ok_and(|body| body.get("start_cursor").is_none())
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "results": [
                notion_database("d9824bdc-8445-4327-be8b-5b47500af6ce", "Tasks"),
                notion_page("59833787-2cf9-4fdf-8782-e53db20768a5", "Write the launch post",
                    json!({ "type": "database_id", "database_id": "d9824bdc-8445-4327-be8b-5b47500af6ce" })),
            ],
            "next_cursor": "59833787-2cf9-4fdf-8782-e53db20768a5",
            "has_more": true,
            "type": "page_or_database",
            "page_or_database": {}
        })));
    mount_expecting(mock, server, times).await;
    let mock = Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(header("authorization", bearer.as_str()))
        .and(body_partial_json(
            json!({ "start_cursor": "59833787-2cf9-4fdf-8782-e53db20768a5" }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "results": [
                notion_page("7c4ed6a0-2d1d-4b8f-9a5e-1f2b3c4d5e6f", "Notes",
                    json!({ "type": "page_id", "page_id": "59833787-2cf9-4fdf-8782-e53db20768a5" })),
            ],
            "next_cursor": null,
            "has_more": false,
            "type": "page_or_database",
            "page_or_database": {}
        })));
    mount_expecting(mock, server, times).await;
}

/// Mounts `mock`, expected `times` times if given.
async fn mount_expecting(mock: Mock, server: &MockServer, times: Option<u64>) {
    match times {
        Some(times) => mock.expect(times).mount(server).await,
        None => mock.mount(server).await,
    }
}

pub fn hubspot_object(id: &str, properties: Value) -> Value {
    json!({
        "id": id,
        "properties": properties,
        "createdAt": "2024-04-01T12:00:00.000Z",
        "updatedAt": "2024-04-02T12:00:00.000Z",
        "archived": false
    })
}

/// HubSpot's CRM objects: contacts over two pages, one company, one deal.
pub async fn hubspot_objects(server: &MockServer, access_token: &str) {
    let bearer = format!("Bearer {access_token}");
    let pages: [(&str, Option<&str>, Value); 4] = [
        (
            "contacts",
            None,
            json!({
                "results": [
                    hubspot_object("101", json!({ "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com" })),
                    hubspot_object("102", json!({ "firstname": null, "lastname": null, "email": "grace@example.com" })),
                ],
                "paging": { "next": { "after": "103", "link": "https://api.hubapi.com/crm/v3/objects/contacts?after=103" } }
            }),
        ),
        (
            "contacts",
            Some("103"),
            json!({
                "results": [ hubspot_object("103", json!({ "firstname": " Alan ", "lastname": "" })) ]
            }),
        ),
        (
            "companies",
            None,
            json!({
                "results": [ hubspot_object("201", json!({ "name": "Analytical Engines Ltd", "domain": "engines.example" })) ]
            }),
        ),
        (
            "deals",
            None,
            json!({
                "results": [ hubspot_object("301", json!({ "dealname": "Difference Engine No. 2", "amount": "1000" })) ]
            }),
        ),
    ];
    for (object, after, body) in pages {
        let mut mock = Mock::given(method("GET"))
            .and(path(format!("/crm/v3/objects/{object}")))
            .and(header("authorization", bearer.as_str()))
            .and(query_param("limit", "100"));
        mock = match after {
            Some(after) => mock.and(query_param("after", after)),
            None => mock.and(query_param_is_missing("after")),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(server)
            .await;
    }
}

/// Airtable's metadata API: bases over two pages (`offset`), tables per base.
pub async fn airtable_meta(server: &MockServer, access_token: &str) {
    let bearer = format!("Bearer {access_token}");
    Mock::given(method("GET"))
        .and(path("/v0/meta/bases"))
        .and(header("authorization", bearer.as_str()))
        .and(query_param_is_missing("offset"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bases": [ { "id": "appLkNDICXNqxSDhG", "name": "Apartment Hunting", "permissionLevel": "create" } ],
            "offset": "itr23sEjsdfEr3282/appSW9R5uCNmRmfl6"
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v0/meta/bases"))
        .and(header("authorization", bearer.as_str()))
        .and(query_param("offset", "itr23sEjsdfEr3282/appSW9R5uCNmRmfl6"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bases": [ { "id": "appSW9R5uCNmRmfl6", "name": "Project Tracker", "permissionLevel": "edit" } ]
        })))
        .expect(1)
        .mount(server)
        .await;
    for (base, tables) in [
        (
            "appLkNDICXNqxSDhG",
            json!([ { "id": "tbltp8DGLhqbUmjK1", "name": "Apartments", "primaryFieldId": "fld1VnoyuotSTyxW1", "fields": [], "views": [] } ]),
        ),
        (
            "appSW9R5uCNmRmfl6",
            json!([
                { "id": "tblQ1Jm8N6bwrvK9c", "name": "Projects", "primaryFieldId": "fldA", "fields": [], "views": [] },
                { "id": "tblXk2Aa9Z3t0mP1q", "name": "Clients", "primaryFieldId": "fldB", "fields": [], "views": [] }
            ]),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/v0/meta/bases/{base}/tables")))
            .and(header("authorization", bearer.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "tables": tables })))
            .expect(1)
            .mount(server)
            .await;
    }
}

/// A provider's token endpoint (expecting `code`, and for Airtable a verifier matching
/// `challenge`) and its listing API for `access_token`.
pub async fn mount_provider(
    server: &MockServer,
    provider: &str,
    code: &str,
    challenge: Option<&str>,
    access_token: &str,
) {
    mount_exchange(server, provider, code, challenge, access_token).await;
    match provider {
        "notion" => notion_search(server, access_token).await,
        "hubspot" => hubspot_objects(server, access_token).await,
        "airtable" => airtable_meta(server, access_token).await,
        other => no_fake(other),
    }
}

/// A provider's token endpoint, answering the exchange of `code` (for Airtable, with a verifier
/// matching `challenge`) with `access_token`.
pub async fn mount_exchange(
    server: &MockServer,
    provider: &str,
    code: &str,
    challenge: Option<&str>,
    access_token: &str,
) {
    match provider {
        "notion" => notion_token(server, code, access_token).await,
        "hubspot" => hubspot_token(server, code, access_token).await,
        "airtable" => airtable_token(server, code, challenge.unwrap_or_default(), access_token).await,
        other => no_fake(other),
    }
}

/// A token endpoint's refresh grant as each provider documents it, rotating the refresh token:
/// each works once, a reused one is `invalid_grant`. With `keep_refresh_token` it answers
/// without a new refresh token, and the presented one stays valid (HubSpot's and Notion's way).
#[derive(Clone, Default)]
pub struct Rotating {
    pub provider: &'static str,
    pub current: Arc<Mutex<String>>,
    /// Refreshes granted.
    pub calls: Arc<AtomicUsize>,
    /// Every refresh token presented, refused ones included, in order.
    pub presented: Arc<Mutex<Vec<String>>>,
    pub keep_refresh_token: bool,
}

impl Rotating {
    /// Not mounted yet; `first` is the one refresh token it accepts.
    pub fn new(provider: &'static str, first: &str) -> Self {
        Rotating {
            provider,
            current: Arc::new(Mutex::new(first.to_owned())),
            ..Rotating::default()
        }
    }

    fn grant(&self, request: &Request) -> Option<String> {
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        let basic_ok = auth
            == Some(
                basic(
                    &format!("{}-client-id", self.provider),
                    &format!("{}-client-secret", self.provider),
                )
                .as_str(),
            );
        let fields: std::collections::HashMap<String, String> = match self.provider {
            "notion" => serde_json::from_slice(&request.body).ok()?,
            "hubspot" | "airtable" | "sandbox" => form_fields(request),
            other => no_fake(other),
        };
        let client_ok = match self.provider {
            "hubspot" => {
                auth.is_none()
                    && fields.get("client_id").map(String::as_str) == Some("hubspot-client-id")
                    && fields.get("client_secret").map(String::as_str) == Some("hubspot-client-secret")
            }
            "notion" | "airtable" | "sandbox" => basic_ok && !fields.contains_key("client_secret"),
            other => no_fake(other),
        };
        (client_ok && fields.get("grant_type").map(String::as_str) == Some("refresh_token"))
            .then(|| fields.get("refresh_token").cloned())
            .flatten()
    }
}

impl wiremock::Respond for Rotating {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Some(presented) = self.grant(request) else {
            self.presented.lock().unwrap().push("<refused client>".into());
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
        };
        self.presented.lock().unwrap().push(presented.clone());
        let mut current = self.current.lock().unwrap();
        if presented != *current {
            return ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": "refresh token already used"}),
            );
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let mut body = json!({
            "access_token": format!("{}-access-{n}", self.provider),
            "token_type": "bearer",
            "expires_in": 1800
        });
        if !self.keep_refresh_token {
            *current = format!("{}-refresh-{n}", self.provider);
            body["refresh_token"] = json!(*current);
        }
        // Slow enough that racing callers find the lease taken.
        ResponseTemplate::new(200)
            .set_delay(std::time::Duration::from_millis(200))
            .set_body_json(body)
    }
}

pub async fn rotating(fake: &MockServer, provider: &'static str, first: &str) -> Rotating {
    let rotating = Rotating::new(provider, first);
    Mock::given(method("POST"))
        .and(path(format!("/{provider}/token")))
        .and(move |request: &Request| !String::from_utf8_lossy(&request.body).contains("authorization_code"))
        .respond_with(rotating.clone())
        .mount(fake)
        .await;
    rotating
}

/// Each provider's own wording for a refresh that fails for a reason other than a dead grant.
pub fn refresh_faults(
    provider: &str,
) -> Vec<(&'static str, ResponseTemplate, http::StatusCode, &'static str)> {
    let misconfigured = match provider {
        "hubspot" => ResponseTemplate::new(400).set_body_json(json!({
            "status": "BAD_CLIENT_ID", "message": "missing or invalid client id",
            "correlationId": "0b1f7c4e"})),
        "notion" => ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client", "error_description": "Invalid client credentials"})),
        "airtable" => ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client", "error_description": "client authentication failed"})),
        other => no_fake(other),
    };
    let throttled = match provider {
        "hubspot" => json!({"status": "error", "errorType": "RATE_LIMIT",
            "message": "You have reached your secondly limit.", "policyName": "SECONDLY"}),
        "notion" => json!({"object": "error", "status": 429, "code": "rate_limited",
            "message": "You have been rate limited. Please try again in a few minutes."}),
        "airtable" => json!({"errors": [{"error": "RATE_LIMIT_REACHED",
            "message": "Rate limit exceeded. Please try again later"}]}),
        other => no_fake(other),
    };
    vec![
        (
            "429",
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(throttled),
            http::StatusCode::SERVICE_UNAVAILABLE,
            "rate limiting",
        ),
        (
            "503",
            ResponseTemplate::new(503).set_body_string("<html>maintenance</html>"),
            http::StatusCode::BAD_GATEWAY,
            "the connection is unchanged",
        ),
        (
            "invalid_client",
            misconfigured,
            http::StatusCode::BAD_GATEWAY,
            "client secret",
        ),
        (
            "timeout",
            ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)),
            http::StatusCode::BAD_GATEWAY,
            "did not answer in time",
        ),
    ]
}

/// A token endpoint that grants (rotating) every refresh, but whose first answer never arrives
/// in time: the provider rotated, the caller never learns the new pair.
pub struct HangsOnce(Rotating, std::sync::atomic::AtomicBool);

impl HangsOnce {
    pub fn new(rotating: Rotating) -> Self {
        HangsOnce(rotating, Default::default())
    }
}

impl wiremock::Respond for HangsOnce {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let answer = self.0.respond(request);
        if self.1.swap(true, Ordering::SeqCst) {
            answer
        } else {
            answer.set_delay(std::time::Duration::from_secs(5))
        }
    }
}
