//! Every `events/*.json` (API Gateway HTTP API, payload 2.0) through `lambda_http`'s own
//! deserialisation into the handler its file name names.

mod support;

use http::StatusCode;
use integrations::connections::{self, EmbeddedStore};
use integrations::resources::Resources;
use integrations::single_use::{MemoryBackend, SingleUse};
use integrations::Function;
use support::*;
use wiremock::MockServer;

#[tokio::test]
async fn every_event_is_listed_with_its_status() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .collect();
    files.sort();
    let mut listed: Vec<String> = EVENTS
        .iter()
        .map(|(name, _, _)| name.to_string())
        .chain(INVOKED_EVENTS.iter().map(|(name, _)| name.to_string()))
        .collect();
    listed.sort();
    assert_eq!(files, listed);
    for endpoint in Function::ALL {
        assert!(
            EVENTS.iter().any(|(file, _, _)| event_function(file) == endpoint),
            "no event for {endpoint:?}"
        );
    }
}

#[tokio::test]
async fn events_replay_through_the_handlers() {
    let fake = MockServer::start().await;
    mount_event_fakes(&fake).await;
    // Connections in a redb file of this test's own.
    let dir = std::env::temp_dir().join(unique("events"));
    std::fs::create_dir_all(&dir).unwrap();
    let kept = EmbeddedStore::open(dir.join("connections.redb"), sealer()).unwrap();
    let store = SingleUse::new(MemoryBackend::default(), sealer());
    let resources = Resources::with_stores(config(&fake.uri(), &[]), store, Some(connections::shared(kept)));
    let app = integrations::App::build(&resources).await.unwrap();
    for (name, expected, says) in EVENTS {
        let file = event_path(name);
        let event = std::fs::read_to_string(&file).unwrap();
        let request = lambda_http::request::from_str(&event).unwrap_or_else(|e| panic!("{file}: {e}"));
        let response = app.handle(event_function(name), request).await;
        let body = body_text(response.body());
        assert_eq!(
            response.status(),
            StatusCode::from_u16(expected).unwrap(),
            "{name}: {body}"
        );
        assert!(body.contains(says), "{name}: {body:?} should contain {says:?}");
    }
}
