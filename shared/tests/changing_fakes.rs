//! The changing-account fakes answer as HubSpot and Notion document: paging to the end without
//! duplicates, search by last modification with its 10,000-result cap, archived listings, the
//! rate limit's 429, Notion's sorted search without trashed pages, and each provider's refusals.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::changing::{now_ms, rfc3339, HubSpotPortal, NotionWorkspace, MINUTE_MS, START_MS};
use wiremock::MockServer;

const TOKEN: &str = "Bearer test-token";

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("the fake answers");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

async fn hubspot_get(server: &MockServer, path_and_query: &str) -> (StatusCode, Value) {
    let request = reqwest::Client::new()
        .get(format!("{}{path_and_query}", server.uri()))
        .header("authorization", TOKEN);
    let (status, _, body) = answer(request).await;
    (status, body)
}

async fn hubspot_search(server: &MockServer, kind: &str, body: Value) -> (StatusCode, Value) {
    let request = reqwest::Client::new()
        .post(format!("{}/crm/v3/objects/{kind}/search", server.uri()))
        .header("authorization", TOKEN)
        .json(&body);
    let (status, _, body) = answer(request).await;
    (status, body)
}

async fn notion_search(server: &MockServer, body: Value) -> (StatusCode, Value) {
    let request = reqwest::Client::new()
        .post(format!("{}/v1/search", server.uri()))
        .header("authorization", TOKEN)
        .header("notion-version", "2022-06-28")
        .json(&body);
    let (status, _, body) = answer(request).await;
    (status, body)
}

fn result_ids(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|object| object["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every object of a listing from its start, following `paging.next.after`.
async fn list_all(server: &MockServer, kind: &str, extra: &str) -> (Vec<Value>, usize) {
    let (mut objects, mut pages, mut after) = (Vec::new(), 0, None::<String>);
    loop {
        let mut url = format!("/crm/v3/objects/{kind}?limit=7{extra}");
        if let Some(after) = &after {
            url.push_str(&format!("&after={after}"));
        }
        let (status, page) = hubspot_get(server, &url).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        objects.extend(page["results"].as_array().unwrap().iter().cloned());
        pages += 1;
        match page["paging"]["next"]["after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => {
                assert!(page.get("paging").is_none(), "no paging on the last page");
                return (objects, pages);
            }
        }
    }
}

/// Every search result from the first, `limit` at a time; the totals each page reported.
async fn search_all(server: &MockServer, mut body: Value, limit: usize) -> (Vec<Value>, Vec<u64>) {
    let (mut results, mut totals) = (Vec::new(), Vec::new());
    body["limit"] = json!(limit);
    loop {
        let (status, page) = hubspot_search(server, "contacts", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        totals.push(page["total"].as_u64().unwrap());
        results.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["paging"]["next"]["after"].as_str() {
            Some(after) => body["after"] = json!(after),
            None => return (results, totals),
        }
    }
}

fn modified_since(value: i64) -> Value {
    json!({"filterGroups": [{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": value.to_string()}
    ]}]})
}

#[test]
fn times_are_rfc3339_with_milliseconds() {
    assert_eq!(rfc3339(START_MS), "2024-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(START_MS + 61 * MINUTE_MS + 7), "2024-01-01T01:01:00.007Z");
    assert_eq!(rfc3339(951_827_696_789), "2000-02-29T12:34:56.789Z");
}

#[tokio::test]
async fn hubspot_listing_pages_to_the_end_without_duplicates() {
    let server = MockServer::start().await;
    let portal = HubSpotPortal::mount(&server, 30).await;

    let (contacts, pages) = list_all(&server, "contacts", "&properties=firstname,lastname,email").await;
    assert_eq!(pages, 5, "30 contacts 7 at a time");
    let ids: Vec<&str> = contacts.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..30).map(|n| format!("contacts-{n}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(
        contacts[3],
        json!({
            "id": "contacts-3",
            "properties": {
                "firstname": "First 3", "lastname": "Contact 3", "email": "contact3@example.com",
                "createdate": "2024-01-01T00:03:00.000Z",
                "lastmodifieddate": "2024-01-01T00:03:00.000Z",
                "hs_object_id": "contacts-3"
            },
            "createdAt": "2024-01-01T00:03:00.000Z",
            "updatedAt": "2024-01-01T00:03:00.000Z",
            "archived": false
        })
    );

    // Companies by the default limit, one page; their times follow the contacts'.
    let (status, page) = hubspot_get(&server, "/crm/v3/objects/companies?properties=name").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result_ids(&page), ["companies-0", "companies-1", "companies-2"]);
    assert!(page.get("paging").is_none(), "{page}");
    let company = &page["results"][0];
    assert_eq!(company["properties"]["name"], "Company 0");
    assert_eq!(
        company["properties"]["hs_lastmodifieddate"],
        "2024-01-01T00:30:00.000Z"
    );
    assert!(company["properties"].get("lastmodifieddate").is_none());
    let (_, page) = hubspot_get(&server, "/crm/v3/objects/deals?limit=2").await;
    assert_eq!(result_ids(&page), ["deals-0", "deals-1"]);
    assert_eq!(page["results"][0]["properties"]["dealname"], "Deal 0");
    assert_eq!(page["paging"]["next"]["after"], "2");
    assert_eq!(portal.requests(), 7);
}

#[tokio::test]
async fn hubspot_search_filters_sorts_and_counts_live_objects() {
    let server = MockServer::start().await;
    let portal = HubSpotPortal::mount(&server, 30).await;
    let before = now_ms();
    let edited = portal.edit("contacts", 5);
    assert_eq!(
        edited,
        [
            "contacts-0",
            "contacts-1",
            "contacts-2",
            "contacts-3",
            "contacts-4"
        ]
    );
    let again = portal.edit_ids("contacts", &["contacts-9".to_owned()]);

    // The edits since `before`, newest first, two at a time.
    let mut body = modified_since(before);
    body["sorts"] = json!([{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}]);
    body["properties"] = json!(["lastname"]);
    let (results, totals) = search_all(&server, body, 2).await;
    assert_eq!(totals, [6, 6, 6]);
    let found: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        found,
        [
            again[0].as_str(),
            "contacts-4",
            "contacts-3",
            "contacts-2",
            "contacts-1",
            "contacts-0"
        ]
    );
    assert_eq!(results[1]["properties"]["lastname"], "Edited 4");
    assert!(
        results[1]["properties"].get("email").is_none(),
        "only what was asked"
    );
    let times: Vec<&str> = results
        .iter()
        .map(|r| r["properties"]["lastmodifieddate"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] > pair[1]),
        "distinct, newest first: {times:?}"
    );
    assert_eq!(
        results[0]["updatedAt"],
        results[0]["properties"]["lastmodifieddate"]
    );

    // LT and an AND group by number; groups ORed.
    let minute = |n: i64| START_MS + n * MINUTE_MS;
    let (status, page) = hubspot_search(
        &server,
        "contacts",
        json!({
            "filterGroups": [{"filters": [
                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": minute(5)},
                {"propertyName": "lastmodifieddate", "operator": "LT", "value": minute(7)}
            ]}, {"filters": [
                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": before.to_string()}
            ]}],
            "limit": 100
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 8);
    assert_eq!(
        result_ids(&page),
        [
            "contacts-0",
            "contacts-1",
            "contacts-2",
            "contacts-3",
            "contacts-4",
            "contacts-5",
            "contacts-6",
            "contacts-9"
        ],
        "without sorts, in creation order"
    );
    assert!(page.get("paging").is_none());

    // Archived objects leave the search.
    portal.archive("contacts", 2);
    let (_, page) = hubspot_search(&server, "contacts", json!({"limit": 1})).await;
    assert_eq!(page["total"], 28);
    assert_eq!(page["paging"]["next"]["after"], "1");

    // Companies search their own property; the contacts' one is refused.
    let (status, page) = hubspot_search(
        &server,
        "companies",
        json!({"filterGroups": [{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": minute(31)}
        ]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(result_ids(&page), ["companies-2"]);
    let (status, page) = hubspot_search(&server, "companies", modified_since(0)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(page["status"], "error");
    assert_eq!(page["category"], "VALIDATION_ERROR");
    assert!(
        page["message"].as_str().unwrap().contains("hs_lastmodifieddate"),
        "{page}"
    );
    let (status, page) = hubspot_search(&server, "contacts", json!({"limit": 201})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(page["message"], "limit must be between 1 and 200");
}

#[tokio::test]
async fn hubspot_search_stops_at_ten_thousand_results() {
    let server = MockServer::start().await;
    HubSpotPortal::mount(&server, 10_100).await;
    let mut body = modified_since(0);
    body["limit"] = json!(200);
    let mut seen = HashSet::new();
    let refused = loop {
        let (status, page) = hubspot_search(&server, "contacts", body.clone()).await;
        if status != StatusCode::OK {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            break page;
        }
        assert_eq!(page["total"], 10_100);
        for id in result_ids(&page) {
            assert!(seen.insert(id), "no duplicates");
        }
        body["after"] = page["paging"]["next"]["after"].clone();
    };
    assert_eq!(seen.len(), 10_000);
    assert_eq!(body["after"], "10000");
    assert_eq!(refused["category"], "VALIDATION_ERROR");
    assert!(
        refused["message"].as_str().unwrap().contains("limited to 10,000"),
        "{refused}"
    );
    // Reaching past result 10,000 with a smaller step is refused too.
    body["after"] = json!("9900");
    body["limit"] = json!(101);
    let (status, _) = hubspot_search(&server, "contacts", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn hubspot_archived_objects_list_apart() {
    let server = MockServer::start().await;
    let portal = HubSpotPortal::mount(&server, 30).await;
    let before = now_ms();
    assert_eq!(
        portal.archive("contacts", 3),
        ["contacts-27", "contacts-28", "contacts-29"]
    );
    let added = portal.add("contacts", 2);
    assert_eq!(added, ["contacts-30", "contacts-31"]);
    assert_eq!(portal.live("contacts"), 29);

    let (live, _) = list_all(&server, "contacts", "&archived=false").await;
    let ids: Vec<&str> = live.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 29);
    assert!(!ids.contains(&"contacts-27"));
    assert_eq!(&ids[27..], ["contacts-30", "contacts-31"]);
    let new = &live[27];
    assert_eq!(new["createdAt"], new["updatedAt"]);
    assert!(
        new["createdAt"].as_str().unwrap() >= rfc3339(before).as_str(),
        "{new}"
    );

    let (status, page) = hubspot_get(&server, "/crm/v3/objects/contacts?archived=true").await;
    assert_eq!(status, StatusCode::OK);
    let archived = page["results"].as_array().unwrap();
    assert_eq!(archived.len(), 3);
    for object in archived {
        assert_eq!(object["archived"], true);
        assert!(
            object["archivedAt"].as_str().unwrap() >= rfc3339(before).as_str(),
            "{object}"
        );
    }
    assert_eq!(archived[0]["id"], "contacts-27");
    assert!(live[0].get("archivedAt").is_none());
}

#[tokio::test]
async fn hubspot_rate_limit_answers_429_with_retry_after() {
    let server = MockServer::start().await;
    let portal = HubSpotPortal::mount(&server, 30).await;
    portal.throttle(3, Duration::from_millis(400), 7);
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let request = reqwest::Client::new()
            .get(format!("{}/crm/v3/objects/contacts", server.uri()))
            .header("authorization", TOKEN);
        let (status, headers, body) = answer(request).await;
        statuses.push(status.as_u16());
        last = Some((headers, body));
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let (headers, body) = last.unwrap();
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(
        body,
        json!({
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "TEN_SECONDLY_ROLLING",
            "category": "RATE_LIMITS"
        })
    );
    assert_eq!(portal.throttled(), 2);
    assert_eq!(portal.requests(), 5);
    // Once the window has passed, requests are answered again.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (status, page) = hubspot_get(&server, "/crm/v3/objects/contacts").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(portal.throttled(), 2);
}

#[tokio::test]
async fn hubspot_refusals() {
    let server = MockServer::start().await;
    HubSpotPortal::mount(&server, 30).await;
    let (status, _, body) =
        answer(reqwest::Client::new().get(format!("{}/crm/v3/objects/contacts", server.uri()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})
    );
    for (query, message) in [
        ("limit=101", "limit must be between 1 and 100"),
        ("limit=0", "limit must be between 1 and 100"),
        ("after=garbage", "after is not a valid paging cursor"),
    ] {
        let (status, body) = hubspot_get(&server, &format!("/crm/v3/objects/contacts?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            body,
            json!({"status": "error", "message": message, "category": "VALIDATION_ERROR"})
        );
    }
    let (status, body) = hubspot_get(&server, "/crm/v3/objects/contacts?archived=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    let (status, body) = hubspot_search(&server, "contacts", json!({"after": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "after is not a valid paging cursor");
}

/// Every page of a Notion search from the first, following `next_cursor`.
async fn notion_all(server: &MockServer, mut body: Value) -> Vec<Value> {
    let mut results = Vec::new();
    loop {
        let (status, page) = notion_search(server, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["object"], "list");
        assert_eq!(page["type"], "page_or_database");
        assert_eq!(page["page_or_database"], json!({}));
        results.extend(page["results"].as_array().unwrap().iter().cloned());
        match &page["next_cursor"] {
            Value::String(cursor) => {
                assert_eq!(page["has_more"], true);
                body["start_cursor"] = json!(cursor);
            }
            _ => {
                assert_eq!(page["has_more"], false);
                assert_eq!(page["next_cursor"], Value::Null);
                return results;
            }
        }
    }
}

#[tokio::test]
async fn notion_search_sorts_and_leaves_out_trash() {
    let server = MockServer::start().await;
    let workspace = NotionWorkspace::mount(&server, 30).await;

    let pages = notion_all(&server, json!({"page_size": 7})).await;
    let ids: Vec<&str> = pages.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..30).map(|n| format!("page-{n}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(pages[5]["last_edited_time"], "2024-01-01T00:05:00.000Z");
    assert_eq!(pages[5]["created_time"], "2024-01-01T00:05:00.000Z");
    assert_eq!(
        pages[5]["properties"]["Task name"]["title"][0]["plain_text"],
        "Page 5"
    );
    assert_eq!(
        pages[5]["parent"],
        json!({"type": "workspace", "workspace": true})
    );

    assert_eq!(workspace.trash(2), ["page-28", "page-29"]);
    assert_eq!(workspace.edit(3), ["page-0", "page-1", "page-2"]);
    assert_eq!(workspace.live(), 28);

    let sorted = notion_all(
        &server,
        json!({"page_size": 5, "sort": {"direction": "descending", "timestamp": "last_edited_time"},
               "filter": {"property": "object", "value": "page"}}),
    )
    .await;
    let ids: Vec<&str> = sorted.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 28);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 28, "no duplicates");
    assert_eq!(&ids[..5], ["page-0", "page-1", "page-2", "page-27", "page-26"]);
    assert!(!ids.contains(&"page-28") && !ids.contains(&"page-29"));
    let edited = sorted[0]["last_edited_time"].as_str().unwrap();
    assert!(edited.ends_with(":00.000Z"), "to the minute: {edited}");
    assert!(edited > "2024-06-01", "{edited}");
    assert_eq!(
        sorted[0]["properties"]["Task name"]["title"][0]["plain_text"],
        "Edited 0"
    );
    let times: Vec<&str> = sorted
        .iter()
        .map(|p| p["last_edited_time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "{times:?}");

    // Ascending puts the edited pages last; a database filter finds no pages.
    let ascending = notion_all(
        &server,
        json!({"sort": {"direction": "ascending", "timestamp": "last_edited_time"}}),
    )
    .await;
    assert_eq!(ascending[0]["id"], "page-3");
    assert_eq!(ascending[27]["id"], "page-2");
    let none = notion_all(
        &server,
        json!({"filter": {"property": "object", "value": "database"}}),
    )
    .await;
    assert!(none.is_empty());
    let added = workspace.add(1);
    assert_eq!(added, ["page-30"]);
    assert_eq!(notion_all(&server, json!({})).await.len(), 29);
}

#[tokio::test]
async fn notion_refusals() {
    let server = MockServer::start().await;
    let workspace = NotionWorkspace::mount(&server, 3).await;
    for (body, message) in [
        (json!({"page_size": 101}), "body failed validation: body.page_size should be ≤ `100`, instead was `101`."),
        (json!({"page_size": 0}), "body failed validation: body.page_size should be ≥ `1`, instead was `0`."),
        (json!({"start_cursor": "garbage"}), "body failed validation: body.start_cursor should be a valid cursor, instead was `\"garbage\"`."),
        (json!({"start_cursor": null}), "body failed validation: body.start_cursor should be a string or `undefined`, instead was `null`."),
        (json!({"sort": {"direction": "descending", "timestamp": "created_time"}}), "body failed validation: body.sort.timestamp should be `\"last_edited_time\"`, instead was `\"created_time\"`."),
        (json!({"sort": {"direction": "down", "timestamp": "last_edited_time"}}), "body failed validation: body.sort.direction should be `\"ascending\"` or `\"descending\"`, instead was `\"down\"`."),
        (json!({"filter": {"property": "object", "value": "block"}}), "body failed validation: body.filter.value should be `\"page\"` or `\"database\"`, instead was `\"block\"`."),
    ] {
        let (status, refusal) = notion_search(&server, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            refusal,
            json!({"object": "error", "status": 400, "code": "validation_error", "message": message}),
            "{body}"
        );
    }
    // A cursor of an unsorted walk does not page a sorted one.
    let (_, page) = notion_search(&server, json!({"page_size": 1})).await;
    let cursor = page["next_cursor"].clone();
    let (status, refusal) = notion_search(
        &server,
        json!({"start_cursor": cursor, "sort": {"direction": "ascending", "timestamp": "last_edited_time"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refusal}");

    let url = format!("{}/v1/search", server.uri());
    let (status, _, body) = answer(
        reqwest::Client::new()
            .post(&url)
            .header("notion-version", "2022-06-28")
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."})
    );
    let (status, _, body) = answer(
        reqwest::Client::new()
            .post(&url)
            .header("authorization", TOKEN)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "missing_version");
    assert_eq!(workspace.requests(), 11);
}
