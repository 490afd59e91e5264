//! The whole OAuth flow and listing per provider, through the handlers, on both stores.

mod support;

use std::time::Duration;

use http::StatusCode;
use integrations::App;
use integrations::Function;
use serde_json::{json, Value};
use support::fakes::{self, redirect_uri};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs each listed `async fn(StoreKind)` once on the in-process store and once on Redis.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(super::StoreKind::Memory).await } )*
        }
        mod redis {
            $( #[tokio::test] async fn $name() { super::$name(super::StoreKind::Redis).await } )*
        }
    };
}

on_both_stores!(
    notion_connects_and_loads,
    hubspot_connects_and_loads_with_form_data,
    airtable_connects_with_pkce_and_loads,
    replayed_state_is_refused,
    state_issued_for_another_provider_is_refused,
    denied_consent_spends_the_state_and_stores_nothing,
    refused_exchanges_answer_by_the_providers_status,
    credentials_are_handed_out_once,
    ids_with_separators_do_not_collide,
    stored_values_expire,
);

/// POST /authorize; returns the consent URL.
async fn authorize(app: &App, provider: &str, user: &str, org: &str) -> String {
    let (status, body) = call(
        app,
        Function::Authorize,
        form(
            provider,
            Function::Authorize,
            &[("user_id", user), ("org_id", org)],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_str()
        .expect("the consent URL is a JSON string")
        .to_owned()
}

async fn callback_with(app: &App, provider: &str, query: &[(&str, &str)]) -> (StatusCode, String) {
    let response = app
        .handle(Function::OAuth2Callback, callback(provider, query))
        .await;
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    (response.status(), body_text(response.body()))
}

async fn credentials(app: &App, provider: &str, user: &str, org: &str) -> (StatusCode, Value) {
    call(
        app,
        Function::Credentials,
        json(
            provider,
            Function::Credentials,
            &json!({ "user_id": user, "org_id": org }),
        ),
    )
    .await
}

async fn notion_connects_and_loads(kind: StoreKind) {
    let fake = MockServer::start().await;
    let app = app(kind, config(&fake.uri(), &[])).await;
    let (user, org) = (unique("user"), unique("org"));

    let url = authorize(&app, "notion", &user, &org).await;
    assert!(
        url.starts_with(&format!("{}/notion/authorize?", fake.uri())),
        "{url}"
    );
    assert_eq!(url.matches('?').count(), 1, "{url}");
    assert_eq!(url.matches("response_type=").count(), 1, "{url}");
    let query = query_of(&url);
    assert_eq!(query["owner"], "user");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "notion-client-id");
    assert_eq!(query["redirect_uri"], redirect_uri("notion"));
    assert!(query["state"].len() >= 43, "at least 256 bits, base64url");
    assert!(!query.contains_key("code_challenge"));

    fakes::notion_token(&fake, "notion-code", "secret_notion_access").await;
    fakes::notion_search(&fake, "secret_notion_access").await;
    let (status, page) = callback_with(
        &app,
        "notion",
        &[("code", "notion-code"), ("state", &query["state"])],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("window.close()"));

    let (status, tokens) = credentials(&app, "notion", &user, &org).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["access_token"], "secret_notion_access");
    assert_eq!(
        tokens["workspace_id"], "j565j4d7x3-2882-61bs-564a-jj9d9ui-c36hxfr7x",
        "kept as Notion sent it"
    );
    assert_eq!(tokens["owner"]["type"], "user");

    // As the original's clients send it: the credentials object as a JSON string in a form field.
    let request = form("notion", Function::Load, &[("credentials", &tokens.to_string())]);
    let (status, items) = call(&app, Function::Load, request).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    assert_eq!(
        items,
        json!([
            {
                "id": "d9824bdc-8445-4327-be8b-5b47500af6ce", "type": "database", "name": "Tasks", "directory": true,
                "parent_id": null, "parent_path_or_name": null,
                "creation_time": "2024-01-05T09:00:00.000Z", "last_modified_time": "2024-01-06T09:00:00.000Z",
                "url": "https://www.notion.so/d9824bdc84454327be8b5b47500af6ce", "children": null, "mime_type": null,
                "delta": null, "drive_id": null, "visibility": true
            },
            {
                "id": "59833787-2cf9-4fdf-8782-e53db20768a5", "type": "page", "name": "Write the launch post", "directory": false,
                "parent_id": "d9824bdc-8445-4327-be8b-5b47500af6ce", "parent_path_or_name": "Tasks",
                "creation_time": "2024-02-01T10:00:00.000Z", "last_modified_time": "2024-03-01T11:30:00.000Z",
                "url": "https://www.notion.so/598337872cf94fdf8782e53db20768a5", "children": null, "mime_type": null,
                "delta": null, "drive_id": null, "visibility": true
            },
            {
                "id": "7c4ed6a0-2d1d-4b8f-9a5e-1f2b3c4d5e6f", "type": "page", "name": "Notes", "directory": false,
                "parent_id": "59833787-2cf9-4fdf-8782-e53db20768a5", "parent_path_or_name": "Write the launch post",
                "creation_time": "2024-02-01T10:00:00.000Z", "last_modified_time": "2024-03-01T11:30:00.000Z",
                "url": "https://www.notion.so/7c4ed6a02d1d4b8f9a5e1f2b3c4d5e6f", "children": null, "mime_type": null,
                "delta": null, "drive_id": null, "visibility": true
            }
        ])
    );
}

async fn hubspot_connects_and_loads_with_form_data(kind: StoreKind) {
    let fake = MockServer::start().await;
    let app = app(kind, config(&fake.uri(), &[])).await;
    let (user, org) = (unique("user"), unique("org"));

    let request = multipart(
        "hubspot",
        Function::Authorize,
        &[("user_id", &user), ("org_id", &org)],
    );
    let (status, url) = call(&app, Function::Authorize, request).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    let query = query_of(url.as_str().unwrap());
    assert_eq!(query["client_id"], "hubspot-client-id");
    assert_eq!(
        query["scope"],
        "oauth crm.objects.contacts.read crm.objects.companies.read crm.objects.deals.read"
    );
    assert_eq!(query["redirect_uri"], redirect_uri("hubspot"));

    fakes::hubspot_token(&fake, "hubspot-code", "hubspot-access").await;
    fakes::hubspot_objects(&fake, "hubspot-access").await;
    let (status, page) = callback_with(
        &app,
        "hubspot",
        &[("code", "hubspot-code"), ("state", &query["state"])],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");

    let request = multipart(
        "hubspot",
        Function::Credentials,
        &[("user_id", &user), ("org_id", &org)],
    );
    let (status, tokens) = call(&app, Function::Credentials, request).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        tokens["refresh_token"],
        "hubspot-refresh-6f18f21e-a743-4509-b7fd-1a5e632fffa1"
    );
    assert_eq!(tokens["expires_in"], 1800);

    let request = multipart("hubspot", Function::Load, &[("credentials", &tokens.to_string())]);
    let (status, items) = call(&app, Function::Load, request).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    let summary: Vec<(String, String, String)> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["id"].as_str().unwrap().into(),
                item["type"].as_str().unwrap().into(),
                item["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("101", "contact", "Ada Lovelace"),
        ("102", "contact", "grace@example.com"),
        ("103", "contact", "Alan"),
        ("201", "company", "Analytical Engines Ltd"),
        ("301", "deal", "Difference Engine No. 2"),
    ];
    assert_eq!(
        summary,
        expected.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
    assert_eq!(items[0]["creation_time"], "2024-04-01T12:00:00.000Z");
    assert_eq!(items[0]["last_modified_time"], "2024-04-02T12:00:00.000Z");
}

async fn airtable_connects_with_pkce_and_loads(kind: StoreKind) {
    let fake = MockServer::start().await;
    let app = app(kind, config(&fake.uri(), &[])).await;
    let (user, org) = (unique("user"), unique("org"));

    let url = authorize(&app, "airtable", &user, &org).await;
    let query = query_of(&url);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43, "base64url of a SHA-256");
    assert_eq!(query["scope"], "data.records:read schema.bases:read");
    assert_eq!(query["response_type"], "code");

    fakes::airtable_token(
        &fake,
        "airtable-code",
        &query["code_challenge"],
        "airtable-access",
    )
    .await;
    fakes::airtable_meta(&fake, "airtable-access").await;
    let (status, page) = callback_with(
        &app,
        "airtable",
        &[("code", "airtable-code"), ("state", &query["state"])],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");

    let (status, tokens) = credentials(&app, "airtable", &user, &org).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer", "as Airtable sent it");
    assert_eq!(tokens["refresh_expires_in"], 5184000);

    // A JSON body may carry the credentials as an object.
    let (status, items) = call(
        &app,
        Function::Load,
        json("airtable", Function::Load, &json!({ "credentials": tokens })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{items}");
    let items = items.as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|item| item["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "appLkNDICXNqxSDhG",
            "tbltp8DGLhqbUmjK1",
            "appSW9R5uCNmRmfl6",
            "tblQ1Jm8N6bwrvK9c",
            "tblXk2Aa9Z3t0mP1q"
        ]
    );
    assert_eq!(items[0]["type"], "base");
    assert_eq!(items[0]["directory"], true);
    assert_eq!(items[0]["name"], "Apartment Hunting");
    assert_eq!(items[4]["type"], "table");
    assert_eq!(items[4]["name"], "Clients");
    assert_eq!(items[4]["parent_id"], "appSW9R5uCNmRmfl6");
    assert_eq!(items[4]["parent_path_or_name"], "Project Tracker");
    assert_eq!(items[4]["directory"], false);
}

async fn replayed_state_is_refused(kind: StoreKind) {
    let fake = MockServer::start().await;
    let app = app(kind, config(&fake.uri(), &[])).await;
    let (user, org) = (unique("user"), unique("org"));
    let state = query_of(&authorize(&app, "notion", &user, &org).await)["state"].clone();
    fakes::notion_token(&fake, "first-code", "first-access").await; // expects exactly one exchange

    let (status, _) = callback_with(&app, "notion", &[("code", "first-code"), ("state", &state)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = callback_with(&app, "notion", &[("code", "second-code"), ("state", &state)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Unknown, expired or already used state"), "{page}");

    let (_, tokens) = credentials(&app, "notion", &user, &org).await;
    assert_eq!(
        tokens["access_token"], "first-access",
        "the replay changed nothing"
    );
}

async fn state_issued_for_another_provider_is_refused(kind: StoreKind) {
    let fake = MockServer::start().await;
    let app = app(kind, config(&fake.uri(), &[])).await;
    let (user, org) = (unique("user"), unique("org"));
    let state = query_of(&authorize(&app, "notion", &user, &org).await)["state"].clone();

    let (status, _) = callback_with(&app, "hubspot", &[("code", "code"), ("state", &state)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        credentials(&app, "hubspot", &user, &org).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        credentials(&app, "notion", &user, &org).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(
        fake.received_requests().await.unwrap().is_empty(),
        "no exchange was attempted"
    );
}

async fn denied_consent_spends_the_state_and_stores_nothing(kind: StoreKind) {
    let fake = MockServer::start().await;
    let app = app(kind, config(&fake.uri(), &[])).await;
    let (user, org) = (unique("user"), unique("org"));
    let state = query_of(&authorize(&app, "airtable", &user, &org).await)["state"].clone();

    let denied = [
        ("error", "access_denied"),
        (
            "error_description",
            "<script>alert(1)</script> The user denied access",
        ),
        ("state", &state),
    ];
    let (status, page) = callback_with(&app, "airtable", &denied).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("access_denied"));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped: {page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");

    let (status, _) = callback_with(&app, "airtable", &[("code", "late-code"), ("state", &state)]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the state was spent by the denial"
    );
    assert_eq!(
        credentials(&app, "airtable", &user, &org).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(fake.received_requests().await.unwrap().is_empty());
}

async fn refused_exchanges_answer_by_the_providers_status(kind: StoreKind) {
    let cases = [
        (
            400,
            json!({ "error": "invalid_grant", "error_description": "Invalid code" }),
            StatusCode::BAD_REQUEST,
            "Invalid code",
        ),
        // Our client credentials, not the user's doing: a 502 naming them.
        (
            401,
            json!({ "error": "invalid_client" }),
            StatusCode::BAD_GATEWAY,
            "client secret",
        ),
        (
            400,
            json!({ "status": "BAD_CLIENT_ID", "message": "missing or unknown client id" }),
            StatusCode::BAD_GATEWAY,
            "client secret",
        ),
        (
            429,
            json!({ "status": "error", "errorType": "RATE_LIMIT", "message": "secondly limit" }),
            StatusCode::SERVICE_UNAVAILABLE,
            "rate limiting",
        ),
        (
            400,
            json!({ "status": "BAD_AUTH_CODE", "message": "missing or unknown auth code" }),
            StatusCode::BAD_REQUEST,
            "missing or unknown auth code",
        ),
        (
            503,
            json!({ "message": "maintenance" }),
            StatusCode::BAD_GATEWAY,
            "maintenance",
        ),
        (
            200,
            json!({ "token_type": "bearer" }),
            StatusCode::BAD_GATEWAY,
            "without an access_token",
        ),
    ];
    for (provider_status, body, expected, message) in cases {
        let fake = MockServer::start().await;
        let app = app(kind, config(&fake.uri(), &[])).await;
        let (user, org) = (unique("user"), unique("org"));
        let state = query_of(&authorize(&app, "hubspot", &user, &org).await)["state"].clone();
        Mock::given(method("POST"))
            .and(path("/hubspot/token"))
            .respond_with(ResponseTemplate::new(provider_status).set_body_json(body))
            .expect(1)
            .mount(&fake)
            .await;
        let (status, page) =
            callback_with(&app, "hubspot", &[("code", "some-code"), ("state", &state)]).await;
        assert_eq!(status, expected, "{provider_status}: {page}");
        assert!(page.contains(message), "{page}");
        assert_eq!(
            credentials(&app, "hubspot", &user, &org).await.0,
            StatusCode::NOT_FOUND
        );
    }
}

async fn credentials_are_handed_out_once(kind: StoreKind) {
    let fake = MockServer::start().await;
    let app = app(kind, config(&fake.uri(), &[])).await;
    let (user, org) = (unique("user"), unique("org"));
    let state = query_of(&authorize(&app, "notion", &user, &org).await)["state"].clone();
    fakes::notion_token(&fake, "code", "access").await;
    callback_with(&app, "notion", &[("code", "code"), ("state", &state)]).await;

    assert_eq!(credentials(&app, "notion", &user, &org).await.0, StatusCode::OK);
    let (status, body) = credentials(&app, "notion", &user, &org).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["detail"].as_str().unwrap().contains("No credentials"),
        "{body}"
    );
}

async fn ids_with_separators_do_not_collide(kind: StoreKind) {
    let fake = MockServer::start().await;
    let app = app(kind, config(&fake.uri(), &[])).await;
    // Joined naively with ':' both would be "<org>:b:c".
    let base = unique("org");
    let (user, org) = ("c".to_owned(), format!("{base}:b"));
    let (other_user, other_org) = ("b:c".to_owned(), base.clone());
    let state = query_of(&authorize(&app, "notion", &user, &org).await)["state"].clone();
    fakes::notion_token(&fake, "code", "access").await;
    callback_with(&app, "notion", &[("code", "code"), ("state", &state)]).await;

    assert_eq!(
        credentials(&app, "notion", &other_user, &other_org).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(credentials(&app, "notion", &user, &org).await.0, StatusCode::OK);
}

async fn stored_values_expire(kind: StoreKind) {
    let store = single_use(kind, sealer()).await;
    let key = unique("integrations:test");
    store
        .put(&key, &json!({ "n": 1 }), Duration::from_millis(100))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(store.take::<Value>(&key).await.unwrap(), None);

    store
        .put(&key, &json!({ "n": 2 }), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(store.take::<Value>(&key).await.unwrap(), Some(json!({ "n": 2 })));
    assert_eq!(store.take::<Value>(&key).await.unwrap(), None, "taken once");
}

/// Fifty callbacks race with one state: exactly one connects, the others store nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_callbacks_with_one_state_connect_once_on_redis() {
    let fake = MockServer::start().await;
    let app = std::sync::Arc::new(app(StoreKind::Redis, config(&fake.uri(), &[])).await);
    let (user, org) = (unique("user"), unique("org"));
    let state = query_of(&authorize(&app, "notion", &user, &org).await)["state"].clone();
    fakes::notion_token(&fake, "the-code", "access").await; // expect(1): one exchange only

    let racers = (0..50).map(|_| {
        let (app, state) = (app.clone(), state.clone());
        tokio::spawn(async move {
            app.handle(
                Function::OAuth2Callback,
                callback("notion", &[("code", "the-code"), ("state", &state)]),
            )
            .await
            .status()
        })
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(racers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::OK)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::BAD_REQUEST)
            .count(),
        49
    );
    assert_eq!(credentials(&app, "notion", &user, &org).await.0, StatusCode::OK);
}
