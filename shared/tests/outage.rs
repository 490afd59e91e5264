//! Redis going away and coming back while a function stays warm.

mod support;

use std::time::{Duration, Instant};

use http::StatusCode;
use integrations::crypto::Sealer;
use integrations::handlers::Endpoint;
use integrations::store::{Backend, Store};
use integrations::App;
use serde_json::json;
use support::*;

fn authorize() -> lambda_http::Request {
    form(
        "notion",
        Endpoint::Authorize,
        &[("user_id", "u"), ("org_id", "o")],
    )
}

#[tokio::test]
async fn redis_down_is_a_quick_503_and_its_return_is_noticed() {
    let mut server = RedisServer::start(&[]);
    let backend = Backend::redis(&server.url(), None).await.unwrap();
    let app = App::new(
        config("http://127.0.0.1:9", &[]),
        Store::new(backend, Sealer::new(TEST_KEY, &[]).unwrap()),
    )
    .unwrap();
    assert_eq!(
        call(&app, Endpoint::Authorize, authorize()).await.0,
        StatusCode::OK
    );

    server.stop();
    let started = Instant::now();
    let (status, body) = call(&app, Endpoint::Authorize, authorize()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        json!({ "detail": "The store is unavailable, try again shortly" })
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );

    // The same warm process, the same client: the first request after Redis is back succeeds.
    server.restart();
    let started = Instant::now();
    let (status, body) = call(&app, Endpoint::Authorize, authorize()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "reconnected in {:?}",
        started.elapsed()
    );
}
