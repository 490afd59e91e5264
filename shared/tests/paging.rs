//! Accounts of any size through `load`: paged by `limit` and `cursor` to the end with no gaps and
//! no duplicates, cursors bound to what they walk, and an unpaged load that would pass a
//! response's size or time refused with 413 rather than cut short.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use http::StatusCode;
use integrations::{App, Function};
use serde_json::{json, Value};
use support::*;
use wiremock::MockServer;

fn load(provider: &str, token: &str, paging: &[(&str, Value)]) -> lambda_http::Request {
    let mut body = json!({ "credentials": { "access_token": token } });
    for (name, value) in paging {
        body[name] = value.clone();
    }
    json(provider, Function::Load, &body)
}

/// Every page from the first, following `next_cursor`; each page's item count checked.
async fn walk(app: &App, provider: &str, token: &str, limit: usize) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let mut paging = vec![("limit", json!(limit))];
        if let Some(cursor) = &cursor {
            paging.push(("cursor", json!(cursor)));
        }
        let (status, page) = call(app, Function::Load, load(provider, token, &paging)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit, "a page holds at most `limit` items");
        items.extend(got.iter().cloned());
        pages += 1;
        match &page["next_cursor"] {
            Value::Null => return (items, pages),
            Value::String(next) => cursor = Some(next.clone()),
            other => panic!("next_cursor {other}"),
        }
        assert!(pages < 10_000, "the walk does not end");
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| format!("{}:{}", item["type"], item["id"]))
        .collect()
}

async fn unpaged(app: &App, provider: &str, token: &str) -> Vec<Value> {
    let (status, items) = call(app, Function::Load, load(provider, token, &[])).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    items.as_array().unwrap().clone()
}

/// A walk at any limit hands out exactly the unpaged listing, in its order.
async fn pages_match_the_full_listing(provider: &str, fake: &MockServer, total: usize) {
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let all = ids(&unpaged(&app, provider, "token").await);
    assert_eq!(all.len(), total);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), total, "no duplicates");
    for limit in [7, 100, 1000] {
        let (items, pages) = walk(&app, provider, "token", limit).await;
        assert_eq!(
            ids(&items),
            all,
            "{provider} at limit {limit}: no gaps, no duplicates"
        );
        assert!(pages >= total.div_ceil(limit), "{pages} pages at limit {limit}");
    }
}

#[tokio::test]
async fn a_large_hubspot_account_pages_to_the_end() {
    let fake = MockServer::start().await;
    accounts::hubspot(&fake, 1_000).await;
    pages_match_the_full_listing("hubspot", &fake, 1_200).await;
}

#[tokio::test]
async fn a_large_notion_workspace_pages_to_the_end() {
    let fake = MockServer::start().await;
    accounts::notion(&fake, 1_234, 0, Duration::ZERO).await;
    pages_match_the_full_listing("notion", &fake, 1_234).await;
}

#[tokio::test]
async fn many_airtable_bases_page_to_the_end_each_base_before_its_tables() {
    let fake = MockServer::start().await;
    accounts::airtable(&fake, 120).await;
    pages_match_the_full_listing("airtable", &fake, 360).await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let (items, _) = walk(&app, "airtable", "token", 7).await;
    assert_eq!(
        (&items[0]["type"], &items[1]["parent_id"], &items[3]["type"]),
        (&json!("base"), &items[0]["id"], &json!("base"))
    );
}

#[tokio::test]
async fn a_page_asks_the_provider_for_no_more_than_it_hands_out() {
    let fake = MockServer::start().await;
    let requests = accounts::hubspot(&fake, 2_500).await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let (status, page) = call(
        &app,
        Function::Load,
        load("hubspot", "token", &[("limit", json!(30))]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 30);
    assert_eq!(requests.count(), 1, "one provider page of 30");
}

#[tokio::test]
async fn a_cursor_resumes_only_the_walk_it_came_from() {
    let fake = MockServer::start().await;
    accounts::notion(&fake, 50, 0, Duration::ZERO).await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let (_, first) = call(
        &app,
        Function::Load,
        load("notion", "token-a", &[("limit", json!(10))]),
    )
    .await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();

    let refused = |detail: &str| json!({ "detail": format!("cursor {detail}") });
    let foreign = "is not one this load returned for these credentials or this connection";
    for (provider, token, cursor) in [
        ("notion", "token-b", cursor.clone()),
        ("hubspot", "token-a", cursor.clone()),
        ("notion", "token-a", format!("{cursor}x")),
        ("notion", "token-a", cursor.replacen('.', ".A", 1)),
        ("notion", "token-a", "not-a-cursor".to_owned()),
    ] {
        let (status, body) = call(
            &app,
            Function::Load,
            load(provider, token, &[("cursor", json!(cursor))]),
        )
        .await;
        assert_eq!(
            (status, body),
            (StatusCode::UNPROCESSABLE_ENTITY, refused(foreign)),
            "{provider} {token}"
        );
    }
    let (status, second) = call(
        &app,
        Function::Load,
        load("notion", "token-a", &[("cursor", json!(cursor))]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["items"][0]["id"], "page-10", "the cursor alone pages on");
    assert_eq!(
        second["items"].as_array().unwrap().len(),
        40,
        "a cursor alone pages by up to 100: the 40 left"
    );
}

#[tokio::test]
async fn a_limit_out_of_range_is_refused() {
    let fake = MockServer::start().await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    for limit in [json!(0), json!(1001), json!("ten"), json!(-1)] {
        let (status, body) = call(
            &app,
            Function::Load,
            load("notion", "token", &[("limit", limit.clone())]),
        )
        .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "detail": "limit must be a number from 1 to 1000" })
            ),
            "{limit}"
        );
    }
}

#[tokio::test]
async fn an_unpaged_load_past_a_responses_size_is_a_413_not_a_cut_list() {
    let fake = MockServer::start().await;
    // 100 pages of 100 items of about 2 KB: some 20 MB, four times what a Lambda answers.
    let requests = accounts::notion(&fake, 10_000, 2_000, Duration::ZERO).await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let (status, body) = call(&app, Function::Load, load("notion", "token", &[])).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "detail": "This account's items are more than one response can hold: load them a page at a time with `limit` and `cursor`" })
        )
    );
    assert!(
        requests.count() <= 30,
        "stopped once past the size: {} requests",
        requests.count()
    );
    let (status, page) = call(
        &app,
        Function::Load,
        load("notion", "token", &[("limit", json!(1000))]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1000,
        "paged, the same account loads"
    );
}

#[tokio::test]
async fn an_unpaged_load_that_would_outlive_the_deadline_is_a_413_in_time() {
    let fake = MockServer::start().await;
    accounts::notion(&fake, 10_000, 0, Duration::from_millis(250)).await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let started = Instant::now();
    let (status, body) = call(&app, Function::Load, within(load("notion", "token", &[]), 2_000)).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "detail": "This account's items cannot be listed in one request's time: load them a page at a time with `limit` and `cursor`" })
        )
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );

    // Paged, the same deadline ends a page early instead: fewer items, and a cursor.
    let request = within(load("notion", "token", &[("limit", json!(1000))]), 2_000);
    let (status, page) = call(&app, Function::Load, request).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let got = page["items"].as_array().unwrap().len();
    assert!((100..1000).contains(&got), "{got} items");
    assert!(page["next_cursor"].is_string());
}

/// The account: 50,000 contacts (and 5,000 companies and deals each). Paged, every item
/// once, in order, each page well inside a Lambda's time; unpaged, a 413 rather than a response
/// the Runtime API would refuse.
#[tokio::test]
async fn a_50000_contact_account_pages_to_the_end_and_unpaged_is_a_413() {
    let fake = MockServer::start().await;
    accounts::hubspot(&fake, 50_000).await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let (mut items, mut cursor, mut slowest) = (Vec::new(), None::<String>, Duration::ZERO);
    loop {
        let mut paging = vec![("limit", json!(1000))];
        paging.extend(cursor.as_ref().map(|cursor| ("cursor", json!(cursor))));
        let started = Instant::now();
        let request = within(load("hubspot", "token", &paging), 25_000);
        let (status, page) = call(&app, Function::Load, request).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, StatusCode::OK, "{page}");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = [
        ("contact", "contacts", 50_000),
        ("company", "companies", 5_000),
        ("deal", "deals", 5_000),
    ]
    .into_iter()
    .flat_map(|(kind, path, count)| (0..count).map(move |n| format!("\"{kind}\":\"{path}-{n}\"")))
    .collect();
    assert_eq!(
        ids(&items),
        expected,
        "every item once, in order: no gaps, no duplicates"
    );
    assert!(
        slowest < Duration::from_secs(10),
        "the slowest page took {slowest:?}"
    );

    let (status, body) = call(&app, Function::Load, load("hubspot", "token", &[])).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("This account's items are more than one response can hold: load them a page at a time with `limit` and `cursor`")
        )
    );
}
