//! Arbitrary input never panics and never becomes a 5xx.

mod support;

use std::sync::LazyLock;

use http::Method;
use integrations::{App, Function};
use lambda_http::Body;
use proptest::prelude::*;
use serde_json::{json, Value};
use support::*;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});
/// An Airtable that answers every listing at once with no bases, so usable credentials load.
static AIRTABLE: LazyLock<wiremock::MockServer> = LazyLock::new(|| {
    RUNTIME.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::path("/v0/meta/bases"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({ "bases": [] })))
            .mount(&server)
            .await;
        server
    })
});
static APP: LazyLock<App> = LazyLock::new(|| {
    let airtable = [("AIRTABLE_API_URL", AIRTABLE.uri())];
    let extra: Vec<(&str, &str)> = airtable
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    RUNTIME.block_on(app(StoreKind::Memory, config("http://127.0.0.1:9", &extra)))
});

fn status_of(function: Function, request: lambda_http::Request) -> u16 {
    RUNTIME.block_on(APP.handle(function, request)).status().as_u16()
}

/// What a client may send as `credentials`: any JSON, often an object with an `access_token` of
/// any type, sometimes usable.
fn credentials_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    prop_oneof![
        leaf.clone(),
        prop::collection::vec(leaf.clone(), 0..3).prop_map(Value::Array),
        (leaf.clone(), leaf).prop_map(|(token, other)| json!({ "access_token": token, "token_type": other })),
        "[a-zA-Z0-9_-]{0,16}".prop_map(|token| json!({ "access_token": token })),
    ]
}

fn query_component() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24).prop_map(|bytes| percent_encoding::percent_encode(
            &bytes,
            percent_encoding::NON_ALPHANUMERIC
        )
        .to_string()),
        "[a-z_=&%+0-9]{0,24}",
        Just("state".to_owned()),
        Just("error".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_are_client_errors_at_worst(
        body in prop::collection::vec(any::<u8>(), 0..1024),
        content_type in prop::sample::select(vec![
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=XyZ",
            "multipart/form-data",
            "application/json",
            "application/vnd.api+json",
            "text/plain",
            "",
        ]),
        endpoint in prop::sample::select(vec![Function::Authorize, Function::Credentials, Function::Load]),
    ) {
        let content_type = (!content_type.is_empty()).then_some(content_type);
        let request = request(Method::POST, "notion", endpoint, "", content_type, Body::Binary(body));
        let status = status_of(endpoint, request);
        prop_assert!((200..500).contains(&status), "{status}");
    }

    #[test]
    fn arbitrary_multipart_fields_are_client_errors_at_worst(
        fields in prop::collection::vec(("[a-z_]{0,8}", prop::collection::vec(any::<u8>(), 0..64)), 0..4),
    ) {
        let mut body = Vec::new();
        for (name, value) in &fields {
            body.extend_from_slice(format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        let request = request(Method::POST, "hubspot", Function::Authorize, "", Some("multipart/form-data; boundary=XyZ"), Body::Binary(body));
        let status = status_of(Function::Authorize, request);
        prop_assert!((200..500).contains(&status), "{status}");
    }

    #[test]
    fn arbitrary_json_credentials_are_client_errors_at_worst(credentials in credentials_json(), as_text in any::<bool>()) {
        let field = if as_text { Value::String(credentials.to_string()) } else { credentials.clone() };
        let request = json("airtable", Function::Load, &json!({ "credentials": field }));
        let status = status_of(Function::Load, request);
        // Exactly the objects with a non-empty access_token reach the provider, and load.
        let usable = credentials["access_token"]
            .as_str()
            .is_some_and(|token| !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()));
        if usable {
            prop_assert_eq!(status, 200);
        } else {
            prop_assert_eq!(status, 400);
        }
    }

    #[test]
    fn arbitrary_callback_queries_are_refused_cleanly(parts in prop::collection::vec((query_component(), query_component()), 0..6)) {
        let query: Vec<String> = parts.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let request = request(Method::GET, "airtable", Function::OAuth2Callback, &format!("?{}", query.join("&")), None, Body::Empty);
        let status = status_of(Function::OAuth2Callback, request);
        prop_assert_eq!(status, 400);
    }
}
