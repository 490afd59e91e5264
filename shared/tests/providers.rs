//! Provider APIs misbehaving as real ones do: throttling, refusals, outages, slowness, new versions.

mod support;

use std::time::{Duration, Instant};

use http::StatusCode;
use integrations::Function;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn load(provider: &str, token: &str) -> lambda_http::Request {
    json(
        provider,
        Function::Load,
        &json!({ "credentials": { "access_token": token } }),
    )
}

/// `POST /integrations/{provider}/load` with `token`, against `fake`, on the in-process store.
async fn load_from(
    fake: &MockServer,
    provider: &str,
    token: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let app = app(StoreKind::Memory, config(&fake.uri(), extra)).await;
    call(&app, Function::Load, load(provider, token)).await
}

fn notion_list(results: Value, next: Option<&str>) -> Value {
    json!({ "object": "list", "results": results, "next_cursor": next, "has_more": next.is_some() })
}

#[tokio::test]
async fn loads_every_page_after_a_429() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1").set_body_json(json!({
            "object": "error", "status": 429, "code": "rate_limited", "message": "You have been rate limited."
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake)
        .await;
    fakes::notion_search(&fake, "token").await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;

    let started = Instant::now();
    let (status, items) = call(&app, Function::Load, load("notion", "token")).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    assert_eq!(items.as_array().unwrap().len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as Retry-After said"
    );
}

#[tokio::test]
async fn a_refused_token_is_a_401() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error",
            "message": "Authentication credentials not found.",
            "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c",
            "category": "INVALID_AUTHENTICATION"
        })))
        .mount(&fake)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "results": [] })))
        .mount(&fake)
        .await;
    let (status, body) = load_from(&fake, "hubspot", "expired", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({ "detail": "HubSpot refused the credentials: Authentication credentials not found." })
    );
}

#[tokio::test]
async fn a_failing_provider_is_a_502_after_bounded_retries() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v0/meta/bases"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream connect error"))
        .expect(4)
        .mount(&fake)
        .await;
    let (status, body) = load_from(&fake, "airtable", "token", &[]).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body, json!({ "detail": "Airtable failed: HTTP 503" }));
}

#[tokio::test]
async fn a_5xx_then_success_still_loads() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v0/meta/bases"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake)
        .await;
    fakes::airtable_meta(&fake, "token").await;
    let (status, items) = load_from(&fake, "airtable", "token", &[]).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    assert_eq!(items.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_slow_provider_is_a_504() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(notion_list(json!([]), None))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&fake)
        .await;
    let app = app(
        StoreKind::Memory,
        config(&fake.uri(), &[("HTTP_TIMEOUT_SECS", "1")]),
    )
    .await;
    let started = Instant::now();
    let (status, body) = call(&app, Function::Load, load("notion", "token")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body, json!({ "detail": "Notion did not answer in time" }));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_load_that_would_outlive_the_lambda_deadline_answers_504_in_time() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(notion_list(json!([]), None))
                .set_delay(Duration::from_secs(8)),
        )
        .mount(&fake)
        .await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let request = within(load("notion", "token"), 1500);

    let started = Instant::now();
    let response = app.handle(Function::Load, request).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        body_json(response.body()),
        json!({ "detail": "The request ran out of time" })
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_cursor_that_never_advances_is_reported() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(notion_list(json!([]), Some("same"))))
        .expect(2)
        .mount(&fake)
        .await;
    let (status, body) = load_from(&fake, "notion", "token", &[]).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        body,
        json!({ "detail": "Notion failed: pagination did not advance" })
    );
}

/// From Notion-Version 2025-09-03 search returns data sources in place of databases.
#[tokio::test]
async fn notion_data_sources_are_listed_under_their_database() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(header("notion-version", "2025-09-03"))
        .respond_with(ResponseTemplate::new(200).set_body_json(notion_list(
            json!([
                {
                    "object": "data_source",
                    "id": "bc1211ca-e3f1-4939-ae34-5260b16f627c",
                    "created_time": "2025-09-03T10:00:00.000Z",
                    "last_edited_time": "2025-09-04T10:00:00.000Z",
                    "title": [ { "type": "text", "text": { "content": "Tasks DB" }, "plain_text": "Tasks DB" } ],
                    "parent": { "type": "database_id", "database_id": "8a1c6c2e-5b0e-4c1a-9a0b-7a4f5a6b7c8d" },
                    "database_parent": { "type": "page_id", "page_id": "ffffffff-0000-4000-8000-000000000000" },
                    "properties": {},
                    "archived": false
                },
                fakes::notion_page("1a2b3c4d-0000-4000-8000-000000000001", "",
                    json!({ "type": "data_source_id", "data_source_id": "bc1211ca-e3f1-4939-ae34-5260b16f627c", "database_id": "8a1c6c2e-5b0e-4c1a-9a0b-7a4f5a6b7c8d" })),
                { "object": "block", "id": "not-an-item" }
            ]),
            None,
        )))
        .expect(1)
        .mount(&fake)
        .await;
    let app = app(
        StoreKind::Memory,
        config(&fake.uri(), &[("NOTION_VERSION", "2025-09-03")]),
    )
    .await;
    let (status, items) = call(&app, Function::Load, load("notion", "token")).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 2, "the block is not an item");
    assert_eq!(items[0]["type"], "data_source");
    assert_eq!(items[0]["name"], "Tasks DB");
    assert_eq!(items[0]["parent_id"], "8a1c6c2e-5b0e-4c1a-9a0b-7a4f5a6b7c8d");
    assert_eq!(items[1]["type"], "page");
    assert_eq!(items[1]["name"], Value::Null, "an untitled page has no name");
    assert_eq!(items[1]["parent_id"], "bc1211ca-e3f1-4939-ae34-5260b16f627c");
    assert_eq!(items[1]["parent_path_or_name"], "Tasks DB");
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_a_502() {
    let app = app(
        StoreKind::Memory,
        config(&format!("http://127.0.0.1:{}", free_port()), &[]),
    )
    .await;
    let (_, url) = call(&app, Function::Authorize, authorize_request("notion")).await;
    let state = query_of(url.as_str().unwrap())["state"].clone();
    let response = app
        .handle(
            Function::OAuth2Callback,
            callback("notion", &[("code", "c"), ("state", &state)]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(body_text(response.body()).contains("Notion failed: could not reach it"));
}
