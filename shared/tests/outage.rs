//! Redis going away and coming back while a function stays warm.

mod support;

use std::time::{Duration, Instant};

use http::StatusCode;
use integrations::single_use::RedisBackend;
use integrations::Function;
use serde_json::json;
use support::*;

#[tokio::test]
async fn redis_down_is_a_quick_503_and_its_return_is_noticed() {
    let mut server = RedisServer::start(&[]);
    let backend = RedisBackend::connect(&server.url(), None).await.unwrap();
    let app = app_over(backend).await;
    assert_eq!(
        call(&app, Function::Authorize, authorize_request("notion"))
            .await
            .0,
        StatusCode::OK
    );

    server.stop();
    let started = Instant::now();
    let (status, body) = call(&app, Function::Authorize, authorize_request("notion")).await;
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
    let (status, body) = call(&app, Function::Authorize, authorize_request("notion")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "reconnected in {:?}",
        started.elapsed()
    );
}
