//! Logs of whole flows at `trace`, every crate included: no token, code, verifier, secret or key,
//! through connect, load, refreshes (each fault, a rotation that never arrives, one that works)
//! and disconnect (revoked, and refused).

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use fred::prelude::KeysInterface;
use http::StatusCode;
use integrations::connections::{self, EmbeddedStore};
use integrations::resources::Resources;
use integrations::single_use::{state_key, RedisBackend};
use integrations::{App, Function};
use lambda_http::Request;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const API_KEY: &str = "api-key-that-must-not-be-logged";

fn keyed(mut request: Request) -> Request {
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {API_KEY}").parse().unwrap());
    request
}

#[tokio::test]
async fn a_traced_flow_per_provider_logs_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let fake = MockServer::start().await;
    let dir = std::env::temp_dir().join(unique("logs"));
    std::fs::create_dir_all(&dir).unwrap();
    let kept = EmbeddedStore::open(dir.join("connections.redb"), sealer()).unwrap();
    let app = App::build(&Resources::with_stores(
        config(&fake.uri(), &[("API_KEYS", API_KEY)]),
        single_use(StoreKind::Redis, sealer()).await,
        Some(connections::shared(kept)),
    ))
    .await
    .unwrap();
    let redis = RedisBackend::connect(&redis_url(), None).await.unwrap();
    let redis = redis.client();
    let mut secrets: Vec<String> = vec![API_KEY.into(), TEST_KEY.into()];
    for provider in fakes::providers() {
        secrets.push(fakes::connected_refresh_token(provider).to_owned());
        secrets.push(format!("{provider}-client-secret"));
    }
    for provider in fakes::providers() {
        let (user, org) = (unique("user"), unique("org"));
        let code = format!("{provider}-authorization-code-{}", unique("c"));
        let token = format!("{provider}-access-token-{}", unique("t"));
        let authorize = keyed(form(
            provider,
            Function::Authorize,
            &[("user_id", &user), ("org_id", &org)],
        ));
        let (status, url) = call(&app, Function::Authorize, authorize).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let query = query_of(url.as_str().unwrap());
        let state = query["state"].clone();
        let sealed: String = redis.get(state_key(&state)).await.unwrap();
        let record: Value =
            serde_json::from_slice(&sealer().open(&state_key(&state), &sealed).unwrap()).unwrap();
        if let Some(verifier) = record["code_verifier"].as_str() {
            secrets.push(verifier.to_owned());
        }
        let challenge = query.get("code_challenge").map(String::as_str);
        fakes::mount_provider(&fake, provider, &code, challenge, &token).await;
        let callback_query = serde_urlencoded::to_string([("code", &code), ("state", &state)]).unwrap();
        let response = app
            .handle(
                Function::OAuth2Callback,
                callback(provider, &[("code", &code), ("state", &state)]),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let request = keyed(form(
            provider,
            Function::Credentials,
            &[("user_id", &user), ("org_id", &org)],
        ));
        let (status, credentials) = call(&app, Function::Credentials, request).await;
        assert_eq!(status, StatusCode::OK);
        let request = keyed(form(
            provider,
            Function::Load,
            &[("credentials", &credentials.to_string())],
        ));
        let (status, items) = call(&app, Function::Load, request).await;
        assert_eq!(status, StatusCode::OK, "{items}");
        secrets.extend([code, token, state, callback_query]);

        let forced = || {
            let fields = [
                ("user_id", user.as_str()),
                ("org_id", org.as_str()),
                ("force_refresh", "true"),
            ];
            keyed(form(provider, Function::Token, &fields))
        };
        for (fault, answer, expected, _) in fakes::refresh_faults(provider) {
            let _fault = Mock::given(method("POST"))
                .and(path(format!("/{provider}/token")))
                .respond_with(answer)
                .mount_as_scoped(&fake)
                .await;
            let (status, body) = call(&app, Function::Token, forced()).await;
            assert_eq!(status, expected, "{provider} {fault}: {body}");
        }
        let stored_refresh = fakes::connected_refresh_token(provider);
        let rotating = fakes::rotating(&fake, provider, stored_refresh).await;
        let (status, body) = call(&app, Function::Token, forced()).await;
        assert_eq!(status, StatusCode::OK, "{provider}: {body}");
        assert_eq!(body["access_token"], format!("{provider}-access-1"));
        // Rotated at the provider, never delivered.
        let hang = Mock::given(method("POST"))
            .and(path(format!("/{provider}/token")))
            .respond_with(fakes::HangsOnce::new(rotating))
            .with_priority(1)
            .mount_as_scoped(&fake)
            .await;
        let (status, body) = call(&app, Function::Token, forced()).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{provider}: {body}");
        drop(hang);
        for n in 1..=2 {
            secrets.push(format!("{provider}-access-{n}"));
            secrets.push(format!("{provider}-refresh-{n}"));
        }

        let revoked = provider == "notion";
        Mock::given(method("POST"))
            .and(path(format!("/{provider}/revoke")))
            .respond_with(ResponseTemplate::new(if revoked { 200 } else { 503 }).set_body_json(json!({})))
            .mount(&fake)
            .await;
        let query = format!(
            "?{}",
            serde_urlencoded::to_string([("user_id", &user), ("org_id", &org)]).unwrap()
        );
        let disconnect = keyed(support::request(
            http::Method::DELETE,
            provider,
            Function::Disconnect,
            &query,
            None,
            lambda_http::Body::Empty,
        ));
        let (status, body) = call(&app, Function::Disconnect, disconnect).await;
        assert_eq!(status, StatusCode::OK, "{provider}: {body}");
        assert_eq!(
            (body["deleted"].as_bool(), body["revoked"].as_bool()),
            (Some(true), Some(revoked)),
            "{provider}: {body}"
        );
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The fake providers' own logs are not the service's; everything else counts.
    let ours: Vec<&str> = logs
        .lines()
        .filter(|line| !line.contains("\"target\":\"wiremock"))
        .collect();
    assert!(
        ours.len() > 20,
        "trace logging was captured: {} lines",
        ours.len()
    );
    for secret in &secrets {
        for line in &ours {
            assert!(
                !line.contains(secret.as_str()),
                "a secret ({}…) is in the log: {line}",
                &secret[..8]
            );
        }
    }
    let requests: Vec<&&str> = ours
        .iter()
        .filter(|line| line.contains("\"message\":\"request\""))
        .collect();
    // authorize, callback, credentials, load, four faulted refreshes, one refresh, one that
    // hangs, one disconnect: for each of the three providers.
    assert_eq!(
        requests.len(),
        fakes::providers().count() * 11,
        "one line per request"
    );
    // Lines logged while serving (here by the HTTP client calling the provider) carry the
    // request's span, so they can be tied to their request.
    let inside_loads = ours
        .iter()
        .filter(|line| line.contains("\"function\":\"load\""))
        .count();
    assert!(inside_loads > 3, "only {inside_loads} lines carry a load's span");
    for line in requests {
        for field in [
            "\"request_id\":",
            "\"function\":",
            "\"provider\":",
            "\"status\":",
            "\"latency_ms\":",
            "\"path\":\"/integrations/",
        ] {
            assert!(line.contains(field), "{field} missing from {line}");
        }
    }
}
