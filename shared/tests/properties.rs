//! Arbitrary input never panics and never becomes a 5xx.

mod support;

use std::sync::LazyLock;

use http::Method;
use integrations::handlers::{handle, Endpoint};
use integrations::providers::{airtable, hubspot, notion};
use integrations::{App, Item};
use lambda_http::Body;
use proptest::prelude::*;
use serde_json::{Map, Value};
use support::*;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});
static APP: LazyLock<App> =
    LazyLock::new(|| RUNTIME.block_on(app(StoreKind::Memory, config("http://127.0.0.1:9", &[]))));

fn status_of(endpoint: Endpoint, request: lambda_http::Request) -> u16 {
    RUNTIME
        .block_on(handle(&APP, endpoint, request))
        .status()
        .as_u16()
}

/// JSON shaped like provider objects: known keys, any values, nested.
fn provider_json() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "object",
        "id",
        "type",
        "title",
        "plain_text",
        "text",
        "content",
        "properties",
        "parent",
        "page_id",
        "database_id",
        "data_source_id",
        "workspace",
        "url",
        "created_time",
        "last_edited_time",
        "archived",
        "in_trash",
        "name",
        "firstname",
        "lastname",
        "email",
        "dealname",
        "createdAt",
        "updatedAt",
        "page",
        "database",
        "data_source",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "page",
            "database",
            "data_source",
            "title",
            "page_id",
            "workspace",
            ""
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..8).prop_map(|pairs| Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
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
        endpoint in prop::sample::select(vec![Endpoint::Authorize, Endpoint::Credentials, Endpoint::Load]),
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
        let request = request(Method::POST, "hubspot", Endpoint::Authorize, "", Some("multipart/form-data; boundary=XyZ"), Body::Binary(body));
        let status = status_of(Endpoint::Authorize, request);
        prop_assert!((200..500).contains(&status), "{status}");
    }

    #[test]
    fn arbitrary_json_credentials_are_client_errors_at_worst(credentials in provider_json()) {
        let request = json("airtable", Endpoint::Load, &serde_json::json!({ "credentials": credentials }));
        // Only an object with a non-empty access_token reaches the (unreachable) provider: 502.
        let status = status_of(Endpoint::Load, request);
        prop_assert!((400..500).contains(&status) || status == 502, "{status}");
    }

    #[test]
    fn arbitrary_callback_queries_are_refused_cleanly(parts in prop::collection::vec((query_component(), query_component()), 0..6)) {
        let query: Vec<String> = parts.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let request = request(Method::GET, "airtable", Endpoint::OAuth2Callback, &format!("?{}", query.join("&")), None, Body::Empty);
        let status = status_of(Endpoint::OAuth2Callback, request);
        prop_assert_eq!(status, 400);
    }

    #[test]
    fn normalisers_take_any_json(object in provider_json()) {
        let _ = notion::normalise(&object);
        for kind in ["contact", "company", "deal"] {
            let _ = hubspot::normalise(kind, &object);
        }
        if let Some(base) = airtable::normalise_base(&object) {
            prop_assert!(base.id.as_deref().is_some_and(|id| id.chars().all(|c| c.is_ascii_alphanumeric())));
            let _ = airtable::normalise_table(&base, &object);
        }
        let _ = airtable::normalise_table(&Item::new("appX", "base"), &object);
    }
}
