//! What clients send and what they get back: decoding, validation, access, and error shapes.

mod support;

use http::{Method, StatusCode};
use integrations::routes::ROUTES;
use integrations::Function;
use lambda_http::Body;
use serde_json::{json, Value};
use support::*;

async fn test_app(extra: &[(&str, &str)]) -> integrations::App {
    app(StoreKind::Memory, config("http://127.0.0.1:9", extra)).await
}

/// Every JSON error body is exactly `{"detail": "<text>"}`.
fn assert_detail(body: &Value, contains: &str) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"));
    assert_eq!(object.len(), 1, "{body}");
    let detail = object["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("detail is not text: {body}"));
    assert!(
        detail.contains(contains),
        "{detail:?} should mention {contains:?}"
    );
}

#[tokio::test]
async fn bodies_are_read_as_form_multipart_and_json() {
    let app = test_app(&[]).await;
    let fields = [("user_id", "u"), ("org_id", "o")];
    for request in [
        form("notion", Function::Authorize, &fields),
        multipart("notion", Function::Authorize, &fields),
        json(
            "notion",
            Function::Authorize,
            &json!({ "user_id": "u", "org_id": "o" }),
        ),
        json(
            "notion",
            Function::Authorize,
            &json!({ "user_id": 42, "org_id": 7 }),
        ),
    ] {
        let (status, body) = call(&app, Function::Authorize, request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.as_str().unwrap().contains("state="));
    }
}

#[tokio::test]
async fn identity_fields_are_validated() {
    let app = test_app(&[]).await;
    let long = "x".repeat(257);
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("org_id", "o")], "Field required: user_id"),
        (&[("user_id", "u")], "Field required: org_id"),
        (&[("user_id", ""), ("org_id", "o")], "user_id must not be empty"),
        (&[("user_id", "u"), ("org_id", "  ")], "org_id must not be empty"),
        (&[("user_id", &long), ("org_id", "o")], "longer than 256 bytes"),
    ];
    for (fields, message) in cases {
        let (status, body) = call(
            &app,
            Function::Authorize,
            form("notion", Function::Authorize, fields),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_detail(&body, message);
    }
    let exactly = "é".repeat(128); // 256 bytes
    let request = form(
        "notion",
        Function::Authorize,
        &[("user_id", &exactly), ("org_id", "o")],
    );
    assert_eq!(call(&app, Function::Authorize, request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors() {
    let app = test_app(&[]).await;
    let raw = |content_type: &str, body: Body| {
        request(
            Method::POST,
            "notion",
            Function::Authorize,
            "",
            Some(content_type),
            body,
        )
    };
    let cases = [
        (
            raw(
                "application/x-www-form-urlencoded",
                Body::Text("user_id=%FF%FE&org_id=o".into()),
            ),
            422,
            "not valid UTF-8",
        ),
        (
            raw("application/json", Body::Text("{\"user_id\": ".into())),
            400,
            "Malformed JSON",
        ),
        (
            raw("application/json", Body::Text("[1, 2]".into())),
            400,
            "must be an object",
        ),
        (
            raw("text/plain", Body::Text("user_id=u".into())),
            415,
            "Unsupported content type",
        ),
        (
            raw("multipart/form-data", Body::Text("--x\r\n".into())),
            400,
            "boundary",
        ),
        (
            raw(
                "multipart/form-data; boundary=abc",
                Body::Text("--abc\r\nbroken".into()),
            ),
            400,
            "Malformed multipart",
        ),
        (
            raw(
                "application/x-www-form-urlencoded",
                Body::Binary(vec![b'a'; (1 << 20) + 1]),
            ),
            413,
            "larger than",
        ),
    ];
    for (request, status, message) in cases {
        let (got, body) = call(&app, Function::Authorize, request).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_detail(&body, message);
    }
}

#[tokio::test]
async fn load_refuses_malformed_credentials() {
    let app = test_app(&[]).await;
    for credentials in [
        "{not json",
        "[]",
        "\"text\"",
        "{}",
        "{\"access_token\": 5}",
        "{\"access_token\": \"\"}",
    ] {
        let (status, body) = call(
            &app,
            Function::Load,
            form("notion", Function::Load, &[("credentials", credentials)]),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{credentials}: {body}");
        assert_detail(&body, "Malformed credentials");
    }
    let (status, body) = call(&app, Function::Load, form("notion", Function::Load, &[])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_detail(&body, "credentials");
}

#[tokio::test]
async fn unknown_and_unconfigured_providers() {
    let app = test_app(&[]).await;
    let (status, body) = call(&app, Function::Authorize, authorize_request("dropbox")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_detail(
        &body,
        "Unknown provider 'dropbox'; expected one of notion, hubspot, airtable",
    );

    let app = support::app(
        StoreKind::Memory,
        config("http://127.0.0.1:9", &[]).without(&["HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET"]),
    )
    .await;
    let (status, body) = call(&app, Function::Authorize, authorize_request("hubspot")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_detail(&body, "HubSpot is not configured: set HUBSPOT_CLIENT_ID");
    // The exchange also authenticates the client: the callback names the secret too.
    let response = app
        .handle(
            Function::OAuth2Callback,
            callback("hubspot", &[("code", "c"), ("state", "s")]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body_text(response.body()).contains("set HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET"));
    let (status, _) = call(&app, Function::Authorize, authorize_request("notion")).await;
    assert_eq!(status, StatusCode::OK, "the other providers keep working");
}

#[tokio::test]
async fn airtable_works_as_a_public_client_without_a_secret() {
    let fake = wiremock::MockServer::start().await;
    let app = app(
        StoreKind::Memory,
        config(&fake.uri(), &[]).without(&["AIRTABLE_CLIENT_SECRET"]),
    )
    .await;
    let (status, url) = call(&app, Function::Authorize, authorize_request("airtable")).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    let query = query_of(url.as_str().unwrap());
    // The fake refuses Basic auth, a secret, a missing client_id or a verifier that does not hash
    // to the challenge: only a public client's exchange passes.
    fakes::airtable_public_token(&fake, "public-code", &query["code_challenge"], "public-access").await;
    let response = app
        .handle(
            Function::OAuth2Callback,
            callback("airtable", &[("code", "public-code"), ("state", &query["state"])]),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        body_text(response.body())
    );
    let (status, credentials) = call(
        &app,
        Function::Credentials,
        form(
            "airtable",
            Function::Credentials,
            &[("user_id", "u"), ("org_id", "o")],
        ),
    )
    .await;
    assert_eq!(
        (status, credentials["access_token"].as_str()),
        (StatusCode::OK, Some("public-access"))
    );
}

#[tokio::test]
async fn api_keys_guard_every_endpoint_but_the_callback() {
    let app = test_app(&[("API_KEYS", "first-key, second-key")]).await;
    let authorize = || authorize_request("notion");
    let with = |name: &str, value: &str| {
        let mut request = authorize();
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        request
    };
    for request in [
        authorize(),
        with("authorization", "Bearer wrong"),
        with("x-api-key", "first-ke"),
        with("authorization", "first-key"),
    ] {
        let (status, body) = call(&app, Function::Authorize, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_detail(&body, "API key");
    }
    for request in [
        with("authorization", "Bearer first-key"),
        with("x-api-key", "second-key"),
    ] {
        assert_eq!(call(&app, Function::Authorize, request).await.0, StatusCode::OK);
    }
    // Every guarded route in the table, without a key and with a wrong one; with a right one it
    // gets past the guard (whatever it answers then, it is not the key's 401).
    for route in ROUTES.iter().filter(|route| !route.function.is_browser_facing()) {
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let keyed = |key: Option<&str>| {
            let mut request = request(method.clone(), "notion", route.function, "", None, Body::Empty);
            if let Some(key) = key {
                request.headers_mut().insert("x-api-key", key.parse().unwrap());
            }
            request
        };
        for key in [None, Some("third-key")] {
            let (status, body) = call(&app, route.function, keyed(key)).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {}: {body}",
                route.method,
                route.path
            );
            assert_detail(&body, "API key");
        }
        let (status, body) = call(&app, route.function, keyed(Some("second-key"))).await;
        assert_ne!(
            status,
            StatusCode::UNAUTHORIZED,
            "{} {}: {body}",
            route.method,
            route.path
        );
    }
    // The provider's redirect carries no key: the single-use state protects the callback.
    let response = app
        .handle(
            Function::OAuth2Callback,
            callback("notion", &[("state", "s"), ("code", "c")]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cors_answers_listed_origins_only() {
    let app = test_app(&[("ALLOWED_ORIGINS", "https://app.example, https://admin.example")]).await;
    let preflight = |origin: &str| {
        let mut request = request(
            Method::OPTIONS,
            "notion",
            Function::Authorize,
            "",
            None,
            Body::Empty,
        );
        request.headers_mut().insert("origin", origin.parse().unwrap());
        request
            .headers_mut()
            .insert("access-control-request-method", "POST".parse().unwrap());
        request
    };
    let response = app
        .handle(Function::Authorize, preflight("https://admin.example"))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://admin.example"
    );
    assert!(response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-api-key"));

    let response = app
        .handle(Function::Authorize, preflight("https://evil.example"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.headers().contains_key("access-control-allow-origin"));

    // The browser's disconnect: a DELETE preflight.
    let mut delete = request(
        Method::OPTIONS,
        "notion",
        Function::Disconnect,
        "",
        None,
        Body::Empty,
    );
    delete
        .headers_mut()
        .insert("origin", "https://app.example".parse().unwrap());
    delete
        .headers_mut()
        .insert("access-control-request-method", "DELETE".parse().unwrap());
    let response = app.handle(Function::Disconnect, delete).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(response.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("DELETE"));

    let mut request = authorize_request("notion");
    request
        .headers_mut()
        .insert("origin", "https://app.example".parse().unwrap());
    let response = app.handle(Function::Authorize, request).await;
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(response.headers()["vary"], "Origin");
}

#[tokio::test]
async fn the_callback_page_is_locked_down() {
    let app = test_app(&[]).await;
    let response = app
        .handle(Function::OAuth2Callback, callback("notion", &[("code", "c")]))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(response.body()).contains("Missing state"));
    let headers = response.headers();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    // The hash in the policy must be the hash of the script the success page runs.
    let page = integrations::response::callback_page(None);
    let script = page
        .split("<script>")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    let hash = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        <sha2::Sha256 as sha2::Digest>::digest(script),
    );
    assert!(csp.contains(&format!("script-src 'sha256-{hash}'")), "{csp}");

    let response = app
        .handle(
            Function::OAuth2Callback,
            request(
                Method::GET,
                "notion",
                Function::OAuth2Callback,
                "?state=%FF",
                None,
                Body::Empty,
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_real_providers_urls_are_the_defaults() {
    let config =
        integrations::Config::from_vars(|name| name.ends_with("_CLIENT_ID").then(|| "id".to_owned()));
    let urls: Vec<(&str, &str, &str, Option<&str>, &str)> = config
        .providers
        .iter()
        .map(|p| {
            (
                p.name(),
                p.auth_url.as_str(),
                p.token_url.as_str(),
                p.revoke_url.as_deref(),
                p.api_url.as_str(),
            )
        })
        .collect();
    assert_eq!(
        urls,
        [
            (
                "notion",
                "https://api.notion.com/v1/oauth/authorize",
                "https://api.notion.com/v1/oauth/token",
                Some("https://api.notion.com/v1/oauth/revoke"),
                "https://api.notion.com"
            ),
            (
                "hubspot",
                "https://app.hubspot.com/oauth/authorize",
                "https://api.hubapi.com/oauth/2026-03/token",
                Some("https://api.hubapi.com/oauth/2026-03/token/revoke"),
                "https://api.hubapi.com"
            ),
            (
                "airtable",
                "https://airtable.com/oauth2/v1/authorize",
                "https://airtable.com/oauth2/v1/token",
                None,
                "https://api.airtable.com"
            ),
        ]
    );
    let app = app_with(
        config,
        integrations::single_use::SingleUse::new(
            integrations::single_use::MemoryBackend::default(),
            sealer(),
        ),
    )
    .await;
    let consent = |provider: &'static str| {
        let app = &app;
        async move {
            let (status, url) = call(app, Function::Authorize, authorize_request(provider)).await;
            assert_eq!(status, StatusCode::OK, "{url}");
            let url = url.as_str().unwrap().to_owned();
            (url.split('?').next().unwrap().to_owned(), query_of(&url))
        }
    };
    let (base, query) = consent("notion").await;
    assert_eq!(base, "https://api.notion.com/v1/oauth/authorize");
    assert_eq!(
        (query["owner"].as_str(), query["response_type"].as_str()),
        ("user", "code")
    );
    assert_eq!(
        query["redirect_uri"],
        "http://localhost:8000/integrations/notion/oauth2callback"
    );
    let (base, query) = consent("hubspot").await;
    assert_eq!(base, "https://app.hubspot.com/oauth/authorize");
    assert_eq!(
        query["scope"],
        "oauth crm.objects.contacts.read crm.objects.companies.read crm.objects.deals.read"
    );
    let (_, query) = consent("airtable").await;
    assert_eq!(
        (query["code_challenge_method"].as_str(), query["scope"].as_str()),
        ("S256", "data.records:read schema.bases:read")
    );
}
