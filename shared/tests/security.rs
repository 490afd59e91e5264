//! Secrets at rest, key handling and start-up refusals, attacked on the real Redis.

mod support;

use fred::prelude::{ClientLike, KeysInterface};
use fred::types::CustomCommand;
use http::StatusCode;
use integrations::crypto::Sealer;
use integrations::handlers::{Authorize, Credentials, Endpoint, Load, OAuth2Callback, Service};
use integrations::resources::{Mode, Resources, StartupError};
use integrations::single_use::{credentials_key, state_key, RedisBackend, SingleUse};
use integrations::{App, Config, Function};
use serde_json::Value;
use support::*;
use wiremock::MockServer;

/// A client of its own on the Redis database at `url`, to look at what the app wrote.
async fn redis(url: &str) -> fred::clients::Client {
    RedisBackend::connect(url, None).await.unwrap().client().clone()
}

/// Every endpoint on Redis database `db`, so a test that writes raw values there is alone.
async fn app_on_database(fake: &str, db: u8) -> (App, fred::clients::Client) {
    let url = redis_database(db);
    let store = SingleUse::new(RedisBackend::connect(&url, None).await.unwrap(), sealer());
    (app_with(config(fake, &[]), store).await, redis(&url).await)
}

async fn connect_notion(app: &App, fake: &MockServer, user: &str, org: &str, code: &str, token: &str) {
    let (_, url) = call(
        app,
        Function::Authorize,
        form(
            "notion",
            Function::Authorize,
            &[("user_id", user), ("org_id", org)],
        ),
    )
    .await;
    let state = query_of(url.as_str().unwrap())["state"].clone();
    fakes::notion_token(fake, code, token).await;
    let response = app
        .handle(
            Function::OAuth2Callback,
            callback("notion", &[("code", code), ("state", &state)]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn credentials(app: &App, user: &str, org: &str) -> (StatusCode, Value) {
    call(
        app,
        Function::Credentials,
        form(
            "notion",
            Function::Credentials,
            &[("user_id", user), ("org_id", org)],
        ),
    )
    .await
}

#[tokio::test]
async fn nothing_secret_is_stored_in_plaintext() {
    let fake = MockServer::start().await;
    let (app, client) = app_on_database(&fake.uri(), 0).await;
    let (user, org) = (unique("user"), unique("org"));
    // A pending Airtable consent leaves a state record with a PKCE verifier in Redis.
    let (_, url) = call(
        &app,
        Function::Authorize,
        form(
            "airtable",
            Function::Authorize,
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
    // Database 1: the raw values written here must not meet the plaintext scan of database 0.
    let (app, client) = app_on_database(&fake.uri(), 1).await;
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
    let response = app
        .handle(
            Function::OAuth2Callback,
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

/// What one Lambda function builds from `vars` at start-up.
async fn start<H: integrations::handlers::Handler>(
    vars: &[(&str, &str)],
) -> Result<Service<H>, StartupError> {
    let config = Config::from_vars(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()));
    Service::<H>::build(&Resources::new(config, Mode::Lambda)).await
}

#[tokio::test]
async fn functions_that_keep_state_refuse_to_start_without_redis_and_a_key() {
    let redis_address = redis_url();
    let missing_redis = start::<Authorize>(&[("TOKEN_ENCRYPTION_KEY", TEST_KEY)]).await;
    assert!(matches!(missing_redis, Err(StartupError::MissingRedisUrl)));
    assert!(missing_redis
        .err()
        .unwrap()
        .to_string()
        .contains("REDIS_URL is not set"));

    let message = start::<Credentials>(&[("REDIS_URL", &redis_address)])
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("TOKEN_ENCRYPTION_KEY") && message.contains("openssl rand -base64 32"),
        "{message}"
    );

    let short_key = [
        ("REDIS_URL", redis_address.as_str()),
        ("TOKEN_ENCRYPTION_KEY", "c2hvcnQ="),
    ];
    let message = start::<OAuth2Callback>(&short_key)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("must decode to 32 bytes, not 5"), "{message}");

    let unreachable = format!("redis://127.0.0.1:{}", free_port());
    let started = std::time::Instant::now();
    let no_redis = [
        ("REDIS_URL", unreachable.as_str()),
        ("TOKEN_ENCRYPTION_KEY", TEST_KEY),
    ];
    let message = start::<Authorize>(&no_redis).await.err().unwrap().to_string();
    assert!(message.starts_with("Redis connection failed"), "{message}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "fails fast"
    );

    let ok = [
        ("REDIS_URL", redis_address.as_str()),
        ("TOKEN_ENCRYPTION_KEY", TEST_KEY),
    ];
    assert!(start::<Credentials>(&ok).await.is_ok());
}

#[tokio::test]
async fn each_function_starts_with_only_its_own_settings() {
    // load: no Redis, no key, no client id or secret.
    let load = start::<Load>(&[]).await.unwrap();
    let token = serde_json::json!({ "access_token": "t" }).to_string();
    let request = form("airtable", Function::Load, &[("credentials", &token)]);
    // Nothing listens on the API URL: the provider is reached for (502), not refused as unconfigured.
    let fake = "http://127.0.0.1:9";
    let load_over_fake = start::<Load>(&[("AIRTABLE_API_URL", fake)]).await.unwrap();
    let response = load_over_fake.handle(request).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_GATEWAY,
        "{}",
        body_text(response.body())
    );
    let request = form("airtable", Function::Load, &[("credentials", "{}")]);
    assert_eq!(load.handle(request).await.status(), StatusCode::BAD_REQUEST);

    // authorize and credentials: Redis and the key, but no client secret.
    let redis_address = redis_url();
    let vars = [
        ("REDIS_URL", redis_address.as_str()),
        ("TOKEN_ENCRYPTION_KEY", TEST_KEY),
        ("NOTION_CLIENT_ID", "id"),
        (
            "NOTION_REDIRECT_URI",
            "https://api.example/integrations/notion/oauth2callback",
        ),
    ];
    let authorize = start::<Authorize>(&vars).await.unwrap();
    let fields = [("user_id", "u"), ("org_id", "o")];
    let response = authorize
        .handle(form("notion", Function::Authorize, &fields))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        body_text(response.body())
    );
    let credentials = start::<Credentials>(&vars[..2]).await.unwrap();
    let response = credentials
        .handle(form("notion", Function::Credentials, &fields))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body_json(response.body())["detail"],
        "No credentials found: connect first (they are kept 10 minutes and handed out once)"
    );

    // The callback sends the secret: without it, that provider is not configured.
    let callback_fn = start::<OAuth2Callback>(&vars).await.unwrap();
    let response = callback_fn
        .handle(callback("notion", &[("code", "c"), ("state", "s")]))
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body_text(response.body()).contains("set NOTION_CLIENT_SECRET"));
}

#[tokio::test]
async fn deployed_providers_need_an_explicit_redirect_uri() {
    let mut vars = vars("http://127.0.0.1:9", &[("REDIS_URL", &redis_url())]);
    vars.remove("HUBSPOT_REDIRECT_URI");
    let config = Config::from_vars(|name| vars.get(name).cloned());
    let app = App::build(&Resources::new(config, Mode::Lambda)).await.unwrap();
    let fields = [("user_id", "u"), ("org_id", "o")];
    let (status, body) = call(
        &app,
        Function::Authorize,
        form("hubspot", Function::Authorize, &fields),
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
            Function::Authorize,
            form("notion", Function::Authorize, &fields)
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
        Function::Authorize,
        form("notion", Function::Authorize, &fields),
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
        app.handle(Function::OAuth2Callback, request).await.status(),
        StatusCode::OK
    );
}
