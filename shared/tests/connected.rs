//! Connections that last, through the handlers: saved by the callback into DynamoDB (moto),
//! tokens refreshed once however many callers race, load by connection, revoke, list.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::{Method, StatusCode};
use integrations::connections::{self, ConnectionStore, DynamoStore};
use integrations::refresher::refresh_due;
use integrations::resources::Resources;
use integrations::single_use::{MemoryBackend, SingleUse};
use integrations::{App, Function};
use lambda_http::Body;
use serde_json::{json, Value};
use support::fakes::rotating;
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn connected_app(fake: &MockServer) -> App {
    let client = support::moto::client().await;
    let table = support::moto::create_table(&client).await;
    let connections = connections::shared(DynamoStore::new(client, table, sealer()));
    let store = SingleUse::new(MemoryBackend::default(), sealer());
    App::build(&Resources::with_stores(
        config(&fake.uri(), &[]),
        store,
        Some(connections),
    ))
    .await
    .unwrap()
}

/// `GET` (its metadata) or `DELETE` (the disconnect) on the connection named by `ids`.
async fn on_connection(
    app: &App,
    method: Method,
    provider: &str,
    ids: &[(&str, &str)],
) -> (StatusCode, Value) {
    let function = if method == Method::DELETE {
        Function::Disconnect
    } else {
        Function::Connection
    };
    call(app, function, query_request(method, provider, function, ids)).await
}

fn query_request(
    method: Method,
    provider: &str,
    function: Function,
    query: &[(&str, &str)],
) -> lambda_http::Request {
    let query = format!("?{}", serde_urlencoded::to_string(query).unwrap());
    request(method, provider, function, &query, None, Body::Empty)
}

async fn token(app: &App, provider: &str, user: &str, org: &str, force: bool) -> (StatusCode, Value) {
    let force = if force { "true" } else { "false" };
    let fields = [("user_id", user), ("org_id", org), ("force_refresh", force)];
    call(app, Function::Token, form(provider, Function::Token, &fields)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_kept_refreshed_once_under_a_race_loaded_and_revoked() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "hubspot", "hubspot-access-0").await;

    let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
    let (status, metadata) = on_connection(&app, Method::GET, "hubspot", &ids).await;
    assert_eq!(status, StatusCode::OK, "{metadata}");
    assert_eq!(
        (metadata["status"].as_str(), metadata["provider"].as_str()),
        (Some("active"), Some("hubspot"))
    );
    assert_eq!(metadata["user_id"], user.as_str());
    assert!(
        metadata["expires_at"].as_str().unwrap().ends_with('Z'),
        "{metadata}"
    );
    assert!(metadata["created_at"].is_string() && metadata["last_refreshed_at"].is_null());
    assert!(
        !metadata.to_string().contains("hubspot-access-0") && !metadata.to_string().contains("refresh-6f18")
    );

    // Not due: the stored token, no refresh.
    let (status, body) = token(&app, "hubspot", &user, &org, false).await;
    assert_eq!(
        (status, body["access_token"].as_str()),
        (StatusCode::OK, Some("hubspot-access-0")),
        "{body}"
    );

    // 30 forced refreshes at once: one call to the token endpoint, one new token for all.
    let rotating = rotating(
        &fake,
        "hubspot",
        "hubspot-refresh-6f18f21e-a743-4509-b7fd-1a5e632fffa1",
    )
    .await;
    let app = Arc::new(app);
    let racers: Vec<_> = (0..30)
        .map(|_| {
            let (app, user, org) = (app.clone(), user.clone(), org.clone());
            tokio::spawn(async move { token(&app, "hubspot", &user, &org, true).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for racer in racers {
        let (status, body) = racer.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(rotating.calls.load(Ordering::SeqCst), 1, "exactly one refresh");
    assert!(
        tokens.iter().all(|token| token == "hubspot-access-1"),
        "{tokens:?}"
    );
    // The newest refresh token was stored: a later refresh succeeds.
    let (status, body) = token(&app, "hubspot", &user, &org, true).await;
    assert_eq!(
        (status, body["access_token"].as_str()),
        (StatusCode::OK, Some("hubspot-access-2")),
        "{body}"
    );

    // Load by connection: the provider refuses the current token once; one refresh, one retry.
    refuse(&fake, "hubspot-access-2").await;
    fakes::hubspot_objects(&fake, "hubspot-access-3").await;
    let (status, items) = call(
        &app,
        Function::Load,
        form("hubspot", Function::Load, &[("user_id", &user), ("org_id", &org)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{items}");
    assert_eq!(items.as_array().unwrap().len(), 5, "{items}");
    assert_eq!(rotating.calls.load(Ordering::SeqCst), 3);

    // Listed by org.
    let (status, listed) = call(
        &app,
        Function::Connections,
        query_request(Method::GET, "", Function::Connections, &[("org_id", &org)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["connections"].as_array().unwrap().len(), 1);
    assert_eq!(listed["next_cursor"], Value::Null);
    let (status, body) = call(
        &app,
        Function::Connections,
        query_request(Method::GET, "", Function::Connections, &[]),
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("Field required: org_id"))
    );

    // Revoked at the provider (form with client credentials and the refresh token), then gone.
    Mock::given(method("POST"))
        .and(path("/hubspot/revoke"))
        .and(move |request: &Request| {
            let fields = fakes::form_fields(request);
            fields.get("token").map(String::as_str) == Some("hubspot-refresh-3")
                && fields.get("client_secret").map(String::as_str) == Some("hubspot-client-secret")
        })
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&fake)
        .await;
    let (status, body) = on_connection(&app, Method::DELETE, "hubspot", &ids).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"deleted": true, "revoked": true, "revocation": "revoked"})
        )
    );
    let (status, body) = on_connection(&app, Method::GET, "hubspot", &ids).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_refused_refresh_needs_reauthorization_until_the_user_reconnects() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "airtable", "airtable-access-0").await;
    // The fake only knows another refresh token: the stored one is refused (invalid_grant).
    let rotating = rotating(&fake, "airtable", "a-token-we-never-had").await;
    let (status, body) = token(&app, "airtable", &user, &org, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("connect again"),
        "{body}"
    );
    let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
    let (_, metadata) = on_connection(&app, Method::GET, "airtable", &ids).await;
    assert_eq!(metadata["status"], "needs_reauthorization");
    // Never retried in a loop: a second call answers 409 without asking the provider.
    let (status, _) = token(&app, "airtable", &user, &org, false).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(rotating.calls.load(Ordering::SeqCst), 0);

    // Airtable has no revocation endpoint: deleted, not revoked.
    let (status, body) = on_connection(&app, Method::DELETE, "airtable", &ids).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"deleted": true, "revoked": false, "revocation": "failed"})
        )
    );
}

#[tokio::test]
async fn a_load_by_connection_without_a_store_names_what_is_missing() {
    let app = app(StoreKind::Memory, config("http://127.0.0.1:9", &[])).await;
    let (status, body) = call(
        &app,
        Function::Load,
        form("notion", Function::Load, &[("user_id", "u"), ("org_id", "o")]),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["detail"].as_str().unwrap().contains("set CONNECTIONS_TABLE"),
        "{body}"
    );
}

/// Answers every API call made with `token` with a 401, as a provider does for a dead token.
async fn refuse(fake: &MockServer, token: &str) {
    Mock::given(wiremock::matchers::header(
        "authorization",
        format!("Bearer {token}").as_str(),
    ))
    .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "API token is invalid."})))
    .mount(fake)
    .await;
}

fn load_by(provider: &str, user: &str, org: &str) -> lambda_http::Request {
    form(provider, Function::Load, &[("user_id", user), ("org_id", org)])
}

#[tokio::test]
async fn a_token_without_expiry_is_refreshed_on_its_first_401_only() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "notion", "notion-access-0").await;
    let rotating = rotating(&fake, "notion", "notion-refresh-0").await;
    // No expires_in: never due, so handed out as stored however often it is asked for.
    for _ in 0..3 {
        let (status, body) = token(&app, "notion", &user, &org, false).await;
        assert_eq!(body["access_token"], "notion-access-0", "{status}: {body}");
        assert_eq!(body["expires_at"], Value::Null);
    }
    assert_eq!(rotating.calls.load(Ordering::SeqCst), 0);
    // The provider refuses it once: one refresh (JSON body, Basic auth), one retry.
    refuse(&fake, "notion-access-0").await;
    fakes::notion_search(&fake, "notion-access-1").await;
    let (status, items) = call(&app, Function::Load, load_by("notion", &user, &org)).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    assert_eq!(items.as_array().unwrap().len(), 3, "{items}");
    assert_eq!(rotating.calls.load(Ordering::SeqCst), 1);
    let (_, body) = token(&app, "notion", &user, &org, false).await;
    assert_eq!(body["access_token"], "notion-access-1");
    assert_eq!(
        rotating.calls.load(Ordering::SeqCst),
        1,
        "no refresh while the new token works"
    );
}

#[tokio::test]
async fn a_401_right_after_a_fresh_refresh_needs_reauthorization() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "hubspot", "hubspot-access-0").await;
    let rotating = rotating(
        &fake,
        "hubspot",
        "hubspot-refresh-6f18f21e-a743-4509-b7fd-1a5e632fffa1",
    )
    .await;
    refuse(&fake, "hubspot-access-0").await;
    refuse(&fake, "hubspot-access-1").await;
    let (status, body) = call(&app, Function::Load, load_by("hubspot", &user, &org)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("refused a fresh token"),
        "{body}"
    );
    assert_eq!(
        rotating.calls.load(Ordering::SeqCst),
        1,
        "one refresh, never a loop"
    );
    let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
    let (_, metadata) = on_connection(&app, Method::GET, "hubspot", &ids).await;
    assert_eq!(metadata["status"], "needs_reauthorization");

    // Reconnecting makes it active again, with created_at kept.
    let created_at = metadata["created_at"].clone();
    let (_, url) = call(
        &app,
        Function::Authorize,
        form(
            "hubspot",
            Function::Authorize,
            &[("user_id", &user), ("org_id", &org)],
        ),
    )
    .await;
    let query = query_of(url.as_str().unwrap());
    fakes::hubspot_token(&fake, "second-code", "hubspot-access-9").await;
    let callback = callback("hubspot", &[("code", "second-code"), ("state", &query["state"])]);
    assert_eq!(
        app.handle(Function::OAuth2Callback, callback).await.status(),
        StatusCode::OK
    );
    let (_, metadata) = on_connection(&app, Method::GET, "hubspot", &ids).await;
    assert_eq!(
        (metadata["status"].as_str(), &metadata["created_at"]),
        (Some("active"), &created_at)
    );
}

/// What a refresh adds to handing out a token, against moto and a fake token endpoint that takes
/// 200 ms (`--nocapture` prints it): the provider's own time plus a lease write and a commit.
#[tokio::test]
async fn a_refresh_adds_the_providers_time_and_two_writes() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "airtable", "airtable-access-0").await;
    let rotating = rotating(&fake, "airtable", "airtable-refresh-token").await;
    let median = |mut times: Vec<std::time::Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (mut stored, mut refreshed) = (Vec::new(), Vec::new());
    for round in 0..15 {
        for (force, times) in [(false, &mut stored), (true, &mut refreshed)] {
            let started = std::time::Instant::now();
            let (status, body) = token(&app, "airtable", &user, &org, force).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            times.push(started.elapsed());
        }
        assert_eq!(rotating.calls.load(Ordering::SeqCst), round + 1);
    }
    let (stored, refreshed) = (median(stored), median(refreshed));
    let provider = std::time::Duration::from_millis(200);
    let ours = refreshed.saturating_sub(stored).saturating_sub(provider);
    println!("token: {stored:?} as stored, {refreshed:?} refreshed (provider 200 ms, ours +{ours:?})");
    assert!(
        ours < std::time::Duration::from_millis(300),
        "a refresh costs a lease write and a commit"
    );
}

#[tokio::test]
async fn a_failing_token_endpoint_is_a_502_and_leaves_the_connection_active() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "hubspot", "hubspot-access-0").await;
    Mock::given(method("POST"))
        .and(path("/hubspot/token"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream maintenance"))
        .mount(&fake)
        .await;
    let (status, body) = token(&app, "hubspot", &user, &org, true).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("the connection is unchanged"),
        "{body}"
    );
    let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
    let (_, metadata) = on_connection(&app, Method::GET, "hubspot", &ids).await;
    assert_eq!(
        (metadata["status"].as_str(), &metadata["last_refreshed_at"]),
        (Some("active"), &Value::Null)
    );
    let (status, body) = token(&app, "hubspot", &user, &org, false).await;
    assert_eq!(
        (status, body["access_token"].as_str()),
        (StatusCode::OK, Some("hubspot-access-0"))
    );
}

#[tokio::test]
async fn notion_is_revoked_with_basic_auth_and_a_json_token() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "notion", "notion-access-0").await;
    Mock::given(method("POST"))
        .and(path("/notion/revoke"))
        .and(wiremock::matchers::header(
            "authorization",
            basic("notion-client-id", "notion-client-secret").as_str(),
        ))
        .and(wiremock::matchers::body_json(
            json!({ "token": "notion-refresh-0" }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&fake)
        .await;
    let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
    let (status, body) = on_connection(&app, Method::DELETE, "notion", &ids).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"deleted": true, "revoked": true, "revocation": "revoked"})
        )
    );
    // Revocation refused: still deleted, not revoked.
    let (user, org) = connect(&app, &fake, "hubspot", "hubspot-access-0").await;
    let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
    let (status, body) = on_connection(&app, Method::DELETE, "hubspot", &ids).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"deleted": true, "revoked": false, "revocation": "failed"})
        )
    );
    let (status, _) = on_connection(&app, Method::DELETE, "hubspot", &ids).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn connections_are_listed_a_page_at_a_time() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let org = unique("org");
    for (provider, user) in [("hubspot", "u1"), ("hubspot", "u2"), ("airtable", "u1")] {
        connect_as(&app, &fake, provider, user, &org, "access").await;
    }
    let list = |query: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(
                app,
                Function::Connections,
                query_request(Method::GET, "", Function::Connections, &query),
            )
            .await
        }
    };
    let (status, first) = list(vec![("org_id", org.clone()), ("limit", "2".into())]).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let pairs = |page: &Value| -> Vec<(String, String)> {
        page["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["provider"].as_str().unwrap().to_owned(),
                    c["user_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        pairs(&first),
        [
            ("airtable".to_owned(), "u1".to_owned()),
            ("hubspot".to_owned(), "u1".to_owned())
        ]
    );
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = list(vec![
        ("org_id", org.clone()),
        ("limit", "2".into()),
        ("cursor", cursor),
    ])
    .await;
    assert_eq!(pairs(&second), [("hubspot".to_owned(), "u2".to_owned())]);
    assert_eq!(second["next_cursor"], Value::Null);
    let (_, filtered) = list(vec![
        ("org_id", org.clone()),
        ("user_id", "u1".into()),
        ("provider", "hubspot".into()),
    ])
    .await;
    assert_eq!(pairs(&filtered), [("hubspot".to_owned(), "u1".to_owned())]);
    for bad in [
        vec![("org_id", org.clone()), ("limit", "101".into())],
        vec![("org_id", org.clone()), ("cursor", "%%%".into())],
    ] {
        let (status, body) = list(bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["detail"].is_string());
    }
}

/// The fault matrix: 3 providers × {429, 503, invalid_client, timeout} on a forced refresh.
/// None of them marks the connection; each answers its own status, a 429 with `Retry-After`;
/// once the provider recovers, the same stored refresh token works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_refused_grant_marks_a_connection() {
    let mut marked = Vec::new();
    for provider in fakes::providers() {
        for (fault, answer, expected, wording) in fakes::refresh_faults(provider) {
            let fake = MockServer::start().await;
            let app = connected_app(&fake).await;
            let (user, org) = connect(&app, &fake, provider, &format!("{provider}-access-0")).await;
            let fault_mock = Mock::given(method("POST"))
                .and(path(format!("/{provider}/token")))
                .respond_with(answer)
                .mount_as_scoped(&fake)
                .await;
            let fields = [
                ("user_id", user.as_str()),
                ("org_id", org.as_str()),
                ("force_refresh", "true"),
            ];
            let response = app
                .handle(Function::Token, form(provider, Function::Token, &fields))
                .await;
            let status = response.status();
            let retry_after = response.headers().get("retry-after").cloned();
            let body: Value = serde_json::from_str(&body_text(response.body())).unwrap();
            assert_eq!(status, expected, "{provider} {fault}: {body}");
            assert!(
                body["detail"].as_str().unwrap().contains(wording),
                "{provider} {fault}: {body}"
            );
            if fault == "429" {
                assert_eq!(
                    retry_after.unwrap(),
                    "7",
                    "{provider}: the provider's wait is passed on"
                );
            }
            let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
            let (_, metadata) = on_connection(&app, Method::GET, provider, &ids).await;
            if metadata["status"] != "active" {
                marked.push(format!("{provider} {fault}: {metadata}"));
                continue;
            }
            drop(fault_mock);
            // Recovered: the refresh token kept through the fault still works.
            let refresh_token = fakes::connected_refresh_token(provider);
            let rotating = rotating(&fake, provider, refresh_token).await;
            let (status, body) = token(&app, provider, &user, &org, true).await;
            assert_eq!(status, StatusCode::OK, "{provider} after {fault}: {body}");
            assert_eq!(body["access_token"], format!("{provider}-access-1"));
            assert_eq!(rotating.calls.load(Ordering::SeqCst), 1);
        }
    }
    println!("fault matrix (refresh): {} connections marked", marked.len());
    assert!(marked.is_empty(), "marked: {marked:#?}");
}

/// A provider that rotates the refresh token and then never answers: the pair exists only at the
/// provider. The caller gets a 502 and the connection stays active; the next refresh presents
/// the only refresh token there is, is refused, and the connection asks for a reconnect (the
/// loss the README names), never a loop of 502s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_rotates_then_hangs_ends_in_one_reconnect() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "airtable", "airtable-access-0").await;
    let rotating = fakes::Rotating::new("airtable", "airtable-refresh-token");
    Mock::given(method("POST"))
        .and(path("/airtable/token"))
        .respond_with(fakes::HangsOnce::new(rotating.clone()))
        .mount(&fake)
        .await;
    let (status, body) = token(&app, "airtable", &user, &org, true).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("did not answer in time"),
        "{body}"
    );
    let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
    let (_, metadata) = on_connection(&app, Method::GET, "airtable", &ids).await;
    assert_eq!(metadata["status"], "active", "{metadata}");

    let (status, body) = token(&app, "airtable", &user, &org, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body,
        json!({"detail": "The Airtable connection needs reauthorization: connect again through /authorize"})
    );
    let (_, metadata) = on_connection(&app, Method::GET, "airtable", &ids).await;
    assert_eq!(metadata["status"], "needs_reauthorization", "{metadata}");
    let presented = rotating.presented.lock().unwrap().clone();
    assert_eq!(presented, ["airtable-refresh-token", "airtable-refresh-token"]);
}

/// A data API's 403 (a capability the integration lacks) is the provider's answer to pass on:
/// no refresh, no mark, and the next call still uses the same token.
#[tokio::test]
async fn a_forbidden_listing_is_a_403_without_refresh_or_mark() {
    let fake = MockServer::start().await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "notion", "notion-access-0").await;
    let rotating = rotating(&fake, "notion", "notion-refresh-0").await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "object": "error", "status": 403, "code": "restricted_resource",
            "message": "Insufficient permissions for this endpoint."})))
        .mount(&fake)
        .await;
    let (status, body) = call(&app, Function::Load, load_by("notion", &user, &org)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body,
        json!({"detail": "Notion refused access: Insufficient permissions for this endpoint."})
    );
    assert_eq!(rotating.calls.load(Ordering::SeqCst), 0, "no refresh on a 403");
    let ids = [("org_id", org.as_str()), ("user_id", user.as_str())];
    let (_, metadata) = on_connection(&app, Method::GET, "notion", &ids).await;
    assert_eq!(metadata["status"], "active");
}

/// The same faults met by the scheduled refresher: each counted in its class, none marked, and
/// the next run refreshes every connection once the provider recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresher_marks_nothing_on_ordinary_faults() {
    let mut marked = Vec::new();
    for provider in fakes::providers() {
        for (fault, answer, _, _) in fakes::refresh_faults(provider) {
            let fake = MockServer::start().await;
            let client = support::moto::client().await;
            let table = support::moto::create_table(&client).await;
            let connections = connections::shared(DynamoStore::new(client, table, sealer()));
            let seeded = support::moto::seed(&connections, provider, "refresh-0", 60).await;
            let config = config(&fake.uri(), &[]);
            let resources = Resources::with_stores(
                config.clone(),
                SingleUse::new(MemoryBackend::default(), sealer()),
                Some(connections.clone()),
            );
            let keeper = resources.required_keeper().await.unwrap();
            let ahead = std::time::Duration::from_secs(900);
            let fault_mock = Mock::given(method("POST"))
                .and(path(format!("/{provider}/token")))
                .respond_with(answer)
                .mount_as_scoped(&fake)
                .await;
            let summary = refresh_due(&keeper, &config.providers, ahead, None).await;
            let class = if fault == "invalid_client" {
                summary.misconfigured
            } else {
                summary.transient
            };
            assert_eq!(class, 1, "{provider} {fault}: {summary:?}");
            assert_eq!(
                summary.needs_reauthorization, 0,
                "{provider} {fault}: {summary:?}"
            );
            let stored = connections.get(&seeded).await.unwrap().unwrap();
            if stored.status.as_str() != "active" || stored.lease_owner.is_some() {
                marked.push(format!("{provider} {fault}: {stored:?}"));
                continue;
            }
            drop(fault_mock);
            let rotating = rotating(&fake, provider, "refresh-0").await;
            let summary = refresh_due(&keeper, &config.providers, ahead, None).await;
            assert_eq!(summary.refreshed, 1, "{provider} after {fault}: {summary:?}");
            assert_eq!(rotating.calls.load(Ordering::SeqCst), 1);
        }
    }
    println!("fault matrix (refresher): {} connections marked", marked.len());
    assert!(marked.is_empty(), "marked: {marked:#?}");
}

/// A paged load by connection: its cursor pages on for that connection only, not for another
/// user's, nor for a load by the same token sent as credentials.
#[tokio::test]
async fn a_kept_connection_loads_a_page_at_a_time() {
    let fake = MockServer::start().await;
    support::accounts::hubspot(&fake, 300).await;
    let app = connected_app(&fake).await;
    let (user, org) = connect(&app, &fake, "hubspot", "hubspot-paged-token").await;
    let (other, other_org) = connect(&app, &fake, "hubspot", "hubspot-other-token").await;
    let page = |user: &str, org: &str, cursor: Option<&str>| {
        let mut fields = vec![
            ("user_id", user.to_owned()),
            ("org_id", org.to_owned()),
            ("limit", "250".into()),
        ];
        fields.extend(cursor.map(|cursor| ("cursor", cursor.to_owned())));
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form("hubspot", Function::Load, &fields)
    };
    let (status, first) = call(&app, Function::Load, page(&user, &org, None)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 250);
    let cursor = first["next_cursor"].as_str().unwrap();

    let (status, body) = call(&app, Function::Load, page(&other, &other_org, Some(cursor))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let by_credentials = json(
        "hubspot",
        Function::Load,
        &json!({"credentials": {"access_token": "hubspot-paged-token"}, "cursor": cursor}),
    );
    let (status, body) = call(&app, Function::Load, by_credentials).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("cursor is not one this load returned for these credentials or this connection")
        )
    );

    let (status, second) = call(&app, Function::Load, page(&user, &org, Some(cursor))).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["items"].as_array().unwrap().len(), 110, "360 items in all");
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(second["items"][0]["id"], "contacts-250");
}
