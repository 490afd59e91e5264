//! Connect sessions through the handlers, on a deployment with API keys: the app mints a session
//! with its key, the browser starts one connect with the session and no key, and the callback
//! spends it.

mod support;

use http::{Method, StatusCode};
use integrations::connections::{self, EmbeddedStore};
use integrations::resources::Resources;
use integrations::single_use::{MemoryBackend, SingleUse};
use integrations::{App, Function};
use lambda_http::Body;
use serde_json::{json, Value};
use support::*;
use wiremock::MockServer;

const KEY: &str = "app-secret-key";

async fn deployment() -> (App, MockServer) {
    let fake = MockServer::start().await;
    let dir = std::env::temp_dir().join(unique("sessions"));
    std::fs::create_dir_all(&dir).unwrap();
    let kept = EmbeddedStore::open(dir.join("connections.redb"), sealer()).unwrap();
    let resources = Resources::with_stores(
        config(&fake.uri(), &[("API_KEYS", KEY)]),
        SingleUse::new(MemoryBackend::default(), sealer()),
        Some(connections::shared(kept)),
    );
    (App::build(&resources).await.unwrap(), fake)
}

fn bearer(mut request: lambda_http::Request, token: &str) -> lambda_http::Request {
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// `POST /connect/sessions` with the app's key.
async fn mint(app: &App, body: Value) -> (StatusCode, Value) {
    let request = bearer(json("", Function::ConnectSessions, &body), KEY);
    call(app, Function::ConnectSessions, request).await
}

async fn session(app: &App, user: &str, org: &str, providers: Option<&[&str]>) -> String {
    let mut body = json!({"user_id": user, "org_id": org});
    if let Some(providers) = providers {
        body["providers"] = json!(providers);
    }
    let (status, minted) = mint(app, body).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    minted["token"].as_str().unwrap().to_owned()
}

/// `POST …/authorize` with a session and no body; the consent URL's query on success.
async fn authorize(app: &App, provider: &str, token: &str) -> (StatusCode, Value) {
    let request = request(Method::POST, provider, Function::Authorize, "", None, Body::Empty);
    call(app, Function::Authorize, bearer(request, token)).await
}

/// The provider's redirect back with a code for `url`'s state; with a `fake`, which expects the
/// code's exchange.
async fn callback_for(
    app: &App,
    fake: Option<&MockServer>,
    provider: &str,
    url: &str,
) -> (StatusCode, String) {
    let query = query_of(url);
    let code = unique("code");
    let challenge = query.get("code_challenge").map(String::as_str);
    if let Some(fake) = fake {
        fakes::mount_exchange(fake, provider, &code, challenge, &unique("token")).await;
    }
    let response = app
        .handle(
            Function::OAuth2Callback,
            callback(provider, &[("code", &code), ("state", &query["state"])]),
        )
        .await;
    (response.status(), body_text(response.body()))
}

/// The connection of `user` in `org`, as the app reads it with its key.
async fn connection(app: &App, provider: &str, user: &str, org: &str) -> StatusCode {
    let query = format!("?org_id={org}&user_id={user}");
    let request = request(
        Method::GET,
        provider,
        Function::Connection,
        &query,
        None,
        Body::Empty,
    );
    call(app, Function::Connection, bearer(request, KEY)).await.0
}

#[tokio::test]
async fn a_session_connects_its_own_user_once_without_the_api_key() {
    let (app, fake) = deployment().await;
    let (user, org) = (unique("user"), unique("org"));
    let (status, minted) = mint(&app, json!({"user_id": user, "org_id": org, "expires_in": 900})).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let token = minted["token"].as_str().unwrap();
    assert!(
        token.starts_with("cs_") && token.len() >= 3 + 43,
        "256 bits: {token}"
    );
    assert!(minted["expires_at"].as_str().unwrap().ends_with('Z'));

    let (status, url) = authorize(&app, "notion", token).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    // The same session may start the consent again (a popup closed early) until one completes.
    let (status, again) = authorize(&app, "notion", token).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let (status, page) = callback_for(&app, Some(&fake), "notion", url.as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(connection(&app, "notion", &user, &org).await, StatusCode::OK);

    // Spent: neither a new consent nor the second one started with it completes.
    let (status, body) = authorize(&app, "notion", token).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("Unknown, expired or already used connect session: mint a new one with POST /connect/sessions")
        )
    );
    // Refused before the code is exchanged.
    let (status, page) = callback_for(&app, None, "notion", again.as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("already used connect session"), "{page}");
}

#[tokio::test]
async fn a_session_cannot_connect_another_user_or_a_provider_it_does_not_allow() {
    let (app, _fake) = deployment().await;
    let token = session(&app, "user-1", "org-1", Some(&["hubspot"])).await;
    let (status, body) = authorize(&app, "notion", &token).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some("This connect session does not allow notion")
        )
    );
    let other = form(
        "hubspot",
        Function::Authorize,
        &[("user_id", "user-2"), ("org_id", "org-1")],
    );
    let (status, body) = call(&app, Function::Authorize, bearer(other, &token)).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some("This connect session connects its own user only")
        )
    );
    // Its own ids, sent anyway, are fine.
    let own = form(
        "hubspot",
        Function::Authorize,
        &[("user_id", "user-1"), ("org_id", "org-1")],
    );
    assert_eq!(
        call(&app, Function::Authorize, bearer(own, &token)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_expired_or_unknown_session_is_a_401() {
    let (app, _fake) = deployment().await;
    let token = session(&app, "user-1", "org-1", None).await;
    let (status, minted) = mint(&app, json!({"user_id": "u", "org_id": "o", "expires_in": 1})).await;
    assert_eq!(status, StatusCode::CREATED);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for expired in [
        minted["token"].as_str().unwrap(),
        "cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(
            authorize(&app, "notion", expired).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // A token one character off is unknown too.
    let mut altered = token.clone();
    altered.pop();
    altered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        authorize(&app, "notion", &altered).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(authorize(&app, "notion", &token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_session_opens_no_other_endpoint() {
    let (app, _fake) = deployment().await;
    let token = session(&app, "user-1", "org-1", None).await;
    let ids = [("user_id", "user-1"), ("org_id", "org-1")];
    let query = "?org_id=org-1&user_id=user-1";
    let requests = [
        (Function::Credentials, form("notion", Function::Credentials, &ids)),
        (Function::Load, form("notion", Function::Load, &ids)),
        (Function::Token, form("notion", Function::Token, &ids)),
        (Function::StartSync, form("notion", Function::StartSync, &ids)),
        (
            Function::ConnectSessions,
            form("", Function::ConnectSessions, &ids),
        ),
        (
            Function::Connection,
            request(
                Method::GET,
                "notion",
                Function::Connection,
                query,
                None,
                Body::Empty,
            ),
        ),
        (
            Function::Disconnect,
            request(
                Method::DELETE,
                "notion",
                Function::Disconnect,
                query,
                None,
                Body::Empty,
            ),
        ),
        (
            Function::Items,
            request(Method::GET, "notion", Function::Items, query, None, Body::Empty),
        ),
        (
            Function::Connections,
            request(
                Method::GET,
                "",
                Function::Connections,
                "?org_id=org-1",
                None,
                Body::Empty,
            ),
        ),
    ];
    for (function, request) in requests {
        let (status, body) = call(&app, function, bearer(request, &token)).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("Missing or invalid API key")),
            "{function:?}"
        );
    }
    // The API key still starts a consent as before.
    let request = bearer(authorize_request("notion"), KEY);
    assert_eq!(call(&app, Function::Authorize, request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn minting_a_session_needs_the_api_key_and_valid_fields() {
    let (app, _fake) = deployment().await;
    let request = json(
        "",
        Function::ConnectSessions,
        &json!({"user_id": "u", "org_id": "o"}),
    );
    assert_eq!(
        call(&app, Function::ConnectSessions, request).await.0,
        StatusCode::UNAUTHORIZED
    );
    for (body, detail) in [
        (json!({"org_id": "o"}), "Field required: user_id"),
        (
            json!({"user_id": "u", "org_id": "o", "expires_in": 3601}),
            "expires_in must be a number of seconds from 1 to 3600",
        ),
        (
            json!({"user_id": "u", "org_id": "o", "expires_in": 0}),
            "expires_in must be a number of seconds from 1 to 3600",
        ),
        (
            json!({"user_id": "u", "org_id": "o", "providers": ["dropbox"]}),
            "providers names an unknown provider 'dropbox'",
        ),
        (
            json!({"user_id": "u", "org_id": "o", "providers": [1]}),
            "providers must be a list of strings",
        ),
    ] {
        let (status, answer) = mint(&app, body.clone()).await;
        assert_eq!(
            (status, answer["detail"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(detail)),
            "{body}"
        );
    }
    // A form's comma list works as well as a JSON array.
    let request = bearer(
        form(
            "",
            Function::ConnectSessions,
            &[
                ("user_id", "u"),
                ("org_id", "o"),
                ("providers", "notion, airtable"),
            ],
        ),
        KEY,
    );
    assert_eq!(
        call(&app, Function::ConnectSessions, request).await.0,
        StatusCode::CREATED
    );
}
