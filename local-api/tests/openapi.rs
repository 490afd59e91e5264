//! The OpenAPI document: it describes every route, the repository's copy is the generated one,
//! and local-api serves it with its reference page.

use std::path::PathBuf;

use integrations::routes::ROUTES;
use local_api::openapi::{self, SANDBOX_ROUTES};
use serde_json::Value;

fn generated() -> Value {
    serde_json::from_str(&openapi::json()).unwrap()
}

#[test]
fn every_route_is_described_with_its_method_and_errors() {
    let document = generated();
    assert_eq!(document["openapi"], "3.1.0");
    let routes = ROUTES
        .iter()
        .map(|route| (route.method, route.path))
        .chain(SANDBOX_ROUTES.iter().copied());
    let mut described = 0;
    for (method, path) in routes {
        let operation = &document["paths"][path][method.to_ascii_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not in the document");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses
                .keys()
                .any(|status| status.starts_with('2') || status.starts_with('3')),
            "{method} {path} has no success"
        );
        if path.starts_with("/integrations/") || path == "/connections" {
            for (status, response) in responses.iter().filter(|(status, _)| !status.starts_with('2')) {
                let content = response["content"].as_object().unwrap();
                let detail = content
                    .get("application/json")
                    .map(|json| &json["schema"]["$ref"]);
                let page = content.contains_key("text/html; charset=utf-8");
                assert!(
                    page || detail == Some(&Value::from("#/components/schemas/Detail")),
                    "{method} {path} {status} is neither {{\"detail\"}} nor a page"
                );
            }
        }
        described += 1;
    }
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        operations, described,
        "the document has operations that are not routes"
    );
}

#[test]
fn bodies_are_described_in_every_encoding_the_handlers_read() {
    let document = generated();
    for (path, schema) in [
        ("/integrations/{provider}/authorize", "Identity"),
        ("/integrations/{provider}/credentials", "Identity"),
        ("/integrations/{provider}/load", "LoadRequest"),
        ("/integrations/{provider}/token", "TokenRequest"),
    ] {
        let content = &document["paths"][path]["post"]["requestBody"]["content"];
        for encoding in [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/json",
        ] {
            assert_eq!(
                content[encoding]["schema"]["$ref"],
                format!("#/components/schemas/{schema}"),
                "{path} {encoding}"
            );
        }
    }
}

/// `UPDATE_OPENAPI=1 cargo test -p local-api --test openapi` rewrites the repository's copy.
#[test]
fn the_committed_document_is_the_generated_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
    let generated = openapi::json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json differs from the document the code generates; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p local-api --test openapi` and commit it"
    );
}

#[tokio::test]
async fn serves_the_document_and_its_reference_from_itself() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let data_dir = std::env::temp_dir().join(format!("openapi-test-{}", rand::random::<u64>()));
    let data_dir = data_dir.display().to_string();
    let var = |name: &str| (name == "DATA_DIR").then(|| data_dir.clone());
    let server = local_api::Server::build(address, var).await.unwrap();
    tokio::spawn(local_api::serve(server, listener));
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("http://{address}{path}")).send();

    let document = get("/openapi.json").await.unwrap();
    assert_eq!(document.headers()["content-type"], "application/json");
    assert_eq!(document.json::<Value>().await.unwrap(), generated());

    let page = get("/docs").await.unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src 'self';") && policy.contains("style-src 'self';"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with("/docs/"))
        .collect();
    assert_eq!(assets.len(), 3, "{html}");
    for asset in assets {
        let response = get(asset).await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(!response.bytes().await.unwrap().is_empty(), "{asset}");
    }
    assert!(
        !html.contains("http"),
        "the page loads something from elsewhere: {html}"
    );
}
