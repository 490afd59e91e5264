//! Every `events/*.json` (API Gateway HTTP API, payload 2.0) through `lambda_http`'s own
//! deserialisation into the handler its file name names.

mod support;

use http::StatusCode;
use integrations::handlers::{handle, Endpoint};
use serde_json::json;
use support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The status each event is meant to produce; every file in `events/` must be listed.
pub const EXPECTED: [(&str, u16); 8] = [
    ("authorize", 200),
    ("authorize-formdata-base64", 200),
    ("authorize-unknown-provider", 404),
    ("oauth2callback-unknown-state", 400),
    ("oauth2callback-access-denied", 400),
    ("credentials-none-stored", 404),
    ("load", 200),
    ("load-malformed-credentials", 400),
];

fn endpoint_of(name: &str) -> Endpoint {
    let function = name.split('-').next().unwrap();
    Endpoint::ALL
        .into_iter()
        .find(|endpoint| endpoint.path_segment() == function)
        .unwrap_or_else(|| panic!("events/{name}.json names no function"))
}

#[tokio::test]
async fn every_event_is_listed_with_its_status() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .collect();
    files.sort();
    let mut listed: Vec<String> = EXPECTED.iter().map(|(name, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
    for endpoint in Endpoint::ALL {
        assert!(
            files.iter().any(|file| endpoint_of(file) == endpoint),
            "no event for {endpoint:?}"
        );
    }
}

#[tokio::test]
async fn events_replay_through_the_handlers() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(header("authorization", "Bearer secret_event_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "results": [ fakes::notion_page("0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", "From an event", json!({ "type": "workspace", "workspace": true })) ],
            "next_cursor": null,
            "has_more": false
        })))
        .mount(&fake)
        .await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    for (name, expected) in EXPECTED {
        let file = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let event = std::fs::read_to_string(&file).unwrap();
        let request = lambda_http::request::from_str(&event).unwrap_or_else(|e| panic!("{file}: {e}"));
        let response = handle(&app, endpoint_of(name), request).await;
        let body = body_text(response.body());
        assert_eq!(
            response.status(),
            StatusCode::from_u16(expected).unwrap(),
            "{name}: {body}"
        );
        if name == "load" {
            let items = body_json(response.body());
            assert_eq!(items[0]["name"], "From an event", "{body}");
        }
        if name.starts_with("authorize-formdata") {
            assert!(body.contains("client_id=hubspot-client-id"), "{body}");
        }
    }
}
