//! Secrets at rest, key handling and start-up refusals, attacked on the real Redis.

mod support;

use fred::prelude::{ClientLike, KeysInterface};
use fred::types::CustomCommand;
use http::StatusCode;
use integrations::app::StartupError;
use integrations::crypto::Sealer;
use integrations::handlers::{handle, Endpoint};
use integrations::store::{credentials_key, state_key, Backend};
use integrations::{App, Config};
use serde_json::Value;
use support::*;
use wiremock::MockServer;

fn redis(app: &App) -> &fred::clients::Client {
    match app.store.backend() {
        Backend::Redis(client) => client,
        Backend::Memory(_) => panic!("these tests run on Redis"),
    }
}

async fn connect_notion(app: &App, fake: &MockServer, user: &str, org: &str, code: &str, token: &str) {
    let (_, url) = call(
        app,
        Endpoint::Authorize,
        form(
            "notion",
            Endpoint::Authorize,
            &[("user_id", user), ("org_id", org)],
        ),
    )
    .await;
    let state = query_of(url.as_str().unwrap())["state"].clone();
    fakes::notion_token(fake, code, token).await;
    let response = handle(
        app,
        Endpoint::OAuth2Callback,
        callback("notion", &[("code", code), ("state", &state)]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn credentials(app: &App, user: &str, org: &str) -> (StatusCode, Value) {
    call(
        app,
        Endpoint::Credentials,
        form(
            "notion",
            Endpoint::Credentials,
            &[("user_id", user), ("org_id", org)],
        ),
    )
    .await
}

#[tokio::test]
async fn nothing_secret_is_stored_in_plaintext() {
    let fake = MockServer::start().await;
    let app = app(StoreKind::Redis, config(&fake.uri(), &[])).await;
    let (user, org) = (unique("user"), unique("org"));
    // A pending Airtable consent leaves a state record with a PKCE verifier in Redis.
    let (_, url) = call(
        &app,
        Endpoint::Authorize,
        form(
            "airtable",
            Endpoint::Authorize,
            &[("user_id", &user), ("org_id", &org)],
        ),
    )
    .await;
    let airtable_state = query_of(url.as_str().unwrap())["state"].clone();
    connect_notion(
        &app,
        &fake,
        &user,
        &org,
        "plain-code-1234",
        "secret_plaintext_access_token",
    )
    .await;

    let client = redis(&app);
    let keys: Vec<String> = client
        .custom(
            CustomCommand::new_static("KEYS", None, false),
            vec!["integrations:*"],
        )
        .await
        .unwrap();
    assert!(keys.contains(&credentials_key("notion", &org, &user)));
    assert!(keys.contains(&state_key(&airtable_state)));
    let sealer = sealer();
    for key in &keys {
        assert!(
            !key.contains(&airtable_state) && !key.contains(&user),
            "key names reveal nothing: {key}"
        );
        let Some(value) = client.get::<Option<String>, _>(key).await.unwrap() else {
            continue;
        };
        for secret in [
            "secret_plaintext_access_token",
            "plain-code-1234",
            "code_verifier",
            &user,
            &org,
        ] {
            assert!(!value.contains(secret), "{key} holds {secret} in plaintext");
        }
        assert!(
            value.starts_with(&format!("{}.", sealer.key_id())),
            "sealed with the current key: {key}"
        );
    }
    let verifier = sealer
        .open(
            &state_key(&airtable_state),
            &client.get::<String, _>(state_key(&airtable_state)).await.unwrap(),
        )
        .unwrap();
    let record: Value = serde_json::from_slice(&verifier).unwrap();
    assert!(
        record["code_verifier"].as_str().unwrap().len() >= 43,
        "the verifier is inside the sealed record"
    );
}

#[tokio::test]
async fn tampered_or_moved_values_are_absent_not_errors() {
    let fake = MockServer::start().await;
    let app = app(StoreKind::Redis, config(&fake.uri(), &[])).await;
    let client = redis(&app);
    let (user, org) = (unique("user"), unique("org"));
    connect_notion(&app, &fake, &user, &org, "code-a", "token-a").await;
    let key = credentials_key("notion", &org, &user);
    let sealed: String = client.get(&key).await.unwrap();

    // Copied under another user's key: the key is the associated data, so it does not open.
    let other = unique("other");
    let _: () = client
        .set(
            credentials_key("notion", &org, &other),
            sealed.as_str(),
            None,
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(credentials(&app, &other, &org).await.0, StatusCode::NOT_FOUND);

    // One flipped character in the ciphertext.
    let mut tampered = sealed.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let _: () = client
        .set(&key, String::from_utf8(tampered).unwrap(), None, None, false)
        .await
        .unwrap();
    let (status, body) = credentials(&app, &user, &org).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Garbage where a state record should be: the callback refuses, it does not fail.
    let state = "a-state-with-garbage";
    let _: () = client
        .set(state_key(state), "not sealed at all", None, None, false)
        .await
        .unwrap();
    let response = handle(
        &app,
        Endpoint::OAuth2Callback,
        callback("notion", &[("code", "c"), ("state", state)]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rotated_keys_still_open_old_values() {
    let old_key = TEST_KEY;
    let new_key = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleSE=";
    let old = Sealer::new(old_key, &[]).unwrap();
    let rotated = Sealer::new(new_key, &[old_key.to_owned()]).unwrap();
    assert_ne!(old.key_id(), rotated.key_id());

    let sealed = old.seal("integrations:k", b"{\"v\":1}");
    assert_eq!(rotated.open("integrations:k", &sealed).unwrap(), b"{\"v\":1}");
    assert!(
        rotated
            .seal("integrations:k", b"x")
            .starts_with(&format!("{}.", rotated.key_id())),
        "new writes use the new key"
    );
    assert!(
        Sealer::new(new_key, &[])
            .unwrap()
            .open("integrations:k", &sealed)
            .is_none(),
        "dropped keys open nothing"
    );
    assert!(
        Sealer::new(new_key, &["not base64!".to_owned()]).is_err(),
        "a bad old key is refused at start"
    );
}

#[tokio::test]
async fn lambda_functions_refuse_to_start_without_what_they_need() {
    let redis_address = redis_url();
    let missing_redis = App::for_lambda(Config::from_vars(|name| {
        (name == "TOKEN_ENCRYPTION_KEY").then(|| TEST_KEY.to_owned())
    }))
    .await;
    assert!(matches!(missing_redis, Err(StartupError::MissingRedisUrl)));
    assert!(missing_redis
        .err()
        .unwrap()
        .to_string()
        .contains("REDIS_URL is not set"));

    let missing_key = App::for_lambda(Config::from_vars(|name| {
        (name == "REDIS_URL").then(|| redis_address.clone())
    }))
    .await;
    let message = missing_key.err().unwrap().to_string();
    assert!(
        message.contains("TOKEN_ENCRYPTION_KEY") && message.contains("openssl rand -base64 32"),
        "{message}"
    );

    let short_key = Config::from_vars(|name| match name {
        "REDIS_URL" => Some(redis_address.clone()),
        "TOKEN_ENCRYPTION_KEY" => Some("c2hvcnQ=".into()),
        _ => None,
    });
    let message = App::for_lambda(short_key).await.err().unwrap().to_string();
    assert!(message.contains("must decode to 32 bytes, not 5"), "{message}");

    let unreachable = format!("redis://127.0.0.1:{}", free_port());
    let started = std::time::Instant::now();
    let no_redis = Config::from_vars(|name| match name {
        "REDIS_URL" => Some(unreachable.clone()),
        "TOKEN_ENCRYPTION_KEY" => Some(TEST_KEY.into()),
        _ => None,
    });
    let message = App::for_lambda(no_redis).await.err().unwrap().to_string();
    assert!(message.contains("Redis"), "{message}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "fails fast"
    );

    let ok = Config::from_vars(|name| match name {
        "REDIS_URL" => Some(redis_address.clone()),
        "TOKEN_ENCRYPTION_KEY" => Some(TEST_KEY.into()),
        _ => None,
    });
    let app = App::for_lambda(ok).await.unwrap();
    assert!(redis(&app).is_connected());
}

#[tokio::test]
async fn deployed_providers_need_an_explicit_redirect_uri() {
    let mut vars = vars("http://127.0.0.1:9", &[("REDIS_URL", &redis_url())]);
    vars.remove("HUBSPOT_REDIRECT_URI");
    let app = App::for_lambda(Config::from_vars(|name| vars.get(name).cloned()))
        .await
        .unwrap();
    let fields = [("user_id", "u"), ("org_id", "o")];
    let (status, body) = call(
        &app,
        Endpoint::Authorize,
        form("hubspot", Endpoint::Authorize, &fields),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["detail"],
        "HubSpot is not configured: set HUBSPOT_REDIRECT_URI"
    );
    assert_eq!(
        call(
            &app,
            Endpoint::Authorize,
            form("notion", Endpoint::Authorize, &fields)
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_redirect_uri_is_always_the_configured_one() {
    let fake = MockServer::start().await;
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let fields = [
        ("user_id", "u"),
        ("org_id", "o"),
        ("redirect_uri", "https://evil.example/steal"),
    ];
    let (_, url) = call(
        &app,
        Endpoint::Authorize,
        form("notion", Endpoint::Authorize, &fields),
    )
    .await;
    let query = query_of(url.as_str().unwrap());
    assert_eq!(query["redirect_uri"], fakes::redirect_uri("notion"));
    // The exchange sends the configured URI too: the fake only answers that one.
    fakes::notion_token(&fake, "code", "token").await;
    let request = callback(
        "notion",
        &[
            ("code", "code"),
            ("state", &query["state"]),
            ("redirect_uri", "https://evil.example/steal"),
        ],
    );
    assert_eq!(
        handle(&app, Endpoint::OAuth2Callback, request).await.status(),
        StatusCode::OK
    );
}
