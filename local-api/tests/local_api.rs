//! `local-api` over a real socket: routing, limits, and one whole flow as a browser app drives it.

#[path = "../../shared/tests/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use support::*;
use wiremock::MockServer;

/// Sends the request and reads its JSON answer.
async fn json_of<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

async fn serve(fake: &MockServer) -> String {
    let app = app(StoreKind::Memory, config(&fake.uri(), &[])).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(local_api::serve(local_api::Server::new(app), listener));
    format!("http://{address}")
}

#[tokio::test]
async fn serves_the_whole_flow_on_one_port() {
    let fake = MockServer::start().await;
    let base = serve(&fake).await;
    let client = reqwest::Client::new();

    let url: String = json_of(
        client
            .post(format!("{base}/integrations/notion/authorize"))
            .form(&[("user_id", "local-user"), ("org_id", "local-org")]),
    )
    .await;
    let state = query_of(&url)["state"].clone();

    fakes::notion_token(&fake, "local-code", "local-access").await;
    fakes::notion_search(&fake, "local-access").await;
    let page = client
        .get(format!("{base}/integrations/notion/oauth2callback"))
        .query(&[("code", "local-code"), ("state", &state)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("window.close()"));

    let form = reqwest::multipart::Form::new()
        .text("user_id", "local-user")
        .text("org_id", "local-org");
    let credentials: Value = json_of(
        client
            .post(format!("{base}/integrations/notion/credentials"))
            .multipart(form),
    )
    .await;
    assert_eq!(credentials["access_token"], "local-access");

    let items: Value = json_of(
        client
            .post(format!("{base}/integrations/notion/load"))
            .form(&[("credentials", credentials.to_string())]),
    )
    .await;
    assert_eq!(items.as_array().unwrap().len(), 3, "{items}");
}

#[tokio::test]
async fn routes_like_api_gateway() {
    let fake = MockServer::start().await;
    let base = serve(&fake).await;
    let client = reqwest::Client::new();
    let cases = [
        (
            reqwest::Method::POST,
            "/integrations/notion/unknown",
            404,
            "Not Found",
        ),
        (reqwest::Method::GET, "/", 404, "Not Found"),
        (
            reqwest::Method::GET,
            "/integrations/notion/authorize",
            405,
            "Method Not Allowed",
        ),
        (
            reqwest::Method::POST,
            "/integrations/notion/oauth2callback",
            405,
            "Method Not Allowed",
        ),
        (
            reqwest::Method::POST,
            "/integrations/dropbox/authorize",
            404,
            "Unknown provider",
        ),
    ];
    for (method, path, status, detail) in cases {
        let response = client
            .request(method, format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains(detail), "{body}");
    }
}

#[tokio::test]
async fn refuses_bodies_over_one_mebibyte() {
    let fake = MockServer::start().await;
    let base = serve(&fake).await;
    let response = reqwest::Client::new()
        .post(format!("{base}/integrations/notion/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "detail": "The request body is larger than 1048576 bytes" })
    );
}
