//! What clients send and what they get back: decoding, validation, access, and error shapes.

mod support;

use http::{Method, StatusCode};
use integrations::handlers::{handle, Endpoint};
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
        form("notion", Endpoint::Authorize, &fields),
        multipart("notion", Endpoint::Authorize, &fields),
        json(
            "notion",
            Endpoint::Authorize,
            &json!({ "user_id": "u", "org_id": "o" }),
        ),
        json(
            "notion",
            Endpoint::Authorize,
            &json!({ "user_id": 42, "org_id": 7 }),
        ),
    ] {
        let (status, body) = call(&app, Endpoint::Authorize, request).await;
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
            Endpoint::Authorize,
            form("notion", Endpoint::Authorize, fields),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_detail(&body, message);
    }
    let exactly = "é".repeat(128); // 256 bytes
    let request = form(
        "notion",
        Endpoint::Authorize,
        &[("user_id", &exactly), ("org_id", "o")],
    );
    assert_eq!(call(&app, Endpoint::Authorize, request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors() {
    let app = test_app(&[]).await;
    let raw = |content_type: &str, body: Body| {
        request(
            Method::POST,
            "notion",
            Endpoint::Authorize,
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
        let (got, body) = call(&app, Endpoint::Authorize, request).await;
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
            Endpoint::Load,
            form("notion", Endpoint::Load, &[("credentials", credentials)]),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{credentials}: {body}");
        assert_detail(&body, "Malformed credentials");
    }
    let (status, body) = call(&app, Endpoint::Load, form("notion", Endpoint::Load, &[])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_detail(&body, "credentials");
}

#[tokio::test]
async fn unknown_and_unconfigured_providers() {
    let app = test_app(&[]).await;
    let (status, body) = call(&app, Endpoint::Authorize, authorize_request("dropbox")).await;
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
    let (status, body) = call(&app, Endpoint::Authorize, authorize_request("hubspot")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_detail(
        &body,
        "HubSpot is not configured: set HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET",
    );
    let (status, _) = call(&app, Endpoint::Authorize, authorize_request("notion")).await;
    assert_eq!(status, StatusCode::OK, "the other providers keep working");
}

#[tokio::test]
async fn airtable_works_as_a_public_client_without_a_secret() {
    let app = app(
        StoreKind::Memory,
        config("http://127.0.0.1:9", &[]).without(&["AIRTABLE_CLIENT_SECRET"]),
    )
    .await;
    let (status, body) = call(&app, Endpoint::Authorize, authorize_request("airtable")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
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
        let (status, body) = call(&app, Endpoint::Authorize, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_detail(&body, "API key");
    }
    for request in [
        with("authorization", "Bearer first-key"),
        with("x-api-key", "second-key"),
    ] {
        assert_eq!(call(&app, Endpoint::Authorize, request).await.0, StatusCode::OK);
    }
    for endpoint in [Endpoint::Credentials, Endpoint::Load] {
        assert_eq!(
            call(&app, endpoint, form("notion", endpoint, &[])).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // The provider's redirect carries no key: the single-use state protects the callback.
    let response = handle(
        &app,
        Endpoint::OAuth2Callback,
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
            Endpoint::Authorize,
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
    let response = handle(&app, Endpoint::Authorize, preflight("https://admin.example")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://admin.example"
    );
    assert!(response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-api-key"));

    let response = handle(&app, Endpoint::Authorize, preflight("https://evil.example")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.headers().contains_key("access-control-allow-origin"));

    let mut request = authorize_request("notion");
    request
        .headers_mut()
        .insert("origin", "https://app.example".parse().unwrap());
    let response = handle(&app, Endpoint::Authorize, request).await;
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(response.headers()["vary"], "Origin");
}

#[tokio::test]
async fn the_callback_page_is_locked_down() {
    let app = test_app(&[]).await;
    let response = handle(
        &app,
        Endpoint::OAuth2Callback,
        callback("notion", &[("code", "c")]),
    )
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
    let page = integrations::http::callback_page(None);
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

    let response = handle(
        &app,
        Endpoint::OAuth2Callback,
        request(
            Method::GET,
            "notion",
            Endpoint::OAuth2Callback,
            "?state=%FF",
            None,
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
