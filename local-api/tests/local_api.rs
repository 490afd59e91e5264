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

/// local-api on a free port, with every provider's URLs at `fake` and the in-process store.
async fn serve(fake: &MockServer) -> String {
    serve_with(fake, &[]).await
}

async fn serve_with(fake: &MockServer, extra: &[(&str, &str)]) -> String {
    let vars = vars(&fake.uri(), extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = local_api::Server::build(address, |name| vars.get(name).cloned())
        .await
        .unwrap();
    tokio::spawn(local_api::serve(server, listener));
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
        (reqwest::Method::GET, "/nothing", 404, "Not Found"),
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
        if status == 405 {
            let allowed = response
                .headers()
                .get("allow")
                .map(|allow| allow.to_str().unwrap().to_owned());
            let expected = if path.ends_with("authorize") {
                "POST"
            } else {
                "GET"
            };
            assert_eq!(allowed.as_deref(), Some(expected), "{path}");
        }
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

/// The hidden fields of the sandbox's consent form, as a browser would send them back.
fn consent_form(page: &str) -> Vec<(String, String)> {
    page.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|input| {
            let attribute = |name: &str| {
                let start = input.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                input[start..][..input[start..].find('"').unwrap()].replace("&amp;", "&")
            };
            (attribute("name"), attribute("value"))
        })
        .collect()
}

/// Authorize, the consent page, the user's `decision` posted as its form does: the callback's
/// answer, reached by following the sandbox's 303.
async fn consent(base: &str, decision: &str) -> reqwest::Response {
    let url: String = json_of(
        reqwest::Client::new()
            .post(format!("{base}/integrations/sandbox/authorize"))
            .form(&[("user_id", "sandbox-user"), ("org_id", "sandbox-org")]),
    )
    .await;
    consent_at(base, &url, decision).await
}

/// The sandbox's consent page at `url`, the user's `decision` posted as its form does: the
/// callback's answer, reached by following the sandbox's 303.
async fn consent_at(base: &str, url: &str, decision: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let port = base.rsplit(':').next().unwrap();
    assert!(
        url.starts_with(&format!("http://localhost:{port}/sandbox/oauth/authorize?")),
        "{url}"
    );
    let page = client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let mut form = consent_form(&page.text().await.unwrap());
    assert!(form.iter().any(|(name, _)| name == "code_challenge"), "{form:?}");
    form.push(("decision".into(), decision.into()));
    let answer = client
        .post(format!("{base}/sandbox/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let callback = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&format!(
            "http://localhost:{port}/integrations/sandbox/oauth2callback?"
        )),
        "{callback}"
    );
    client.get(callback).send().await.unwrap()
}

#[tokio::test]
async fn connects_the_sandbox_and_lists_its_items() {
    let fake = MockServer::start().await;
    let base = serve(&fake).await;
    let client = reqwest::Client::new();

    let page = consent(&base, "allow").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("window.close()"));

    let credentials: Value = json_of(
        client
            .post(format!("{base}/integrations/sandbox/credentials"))
            .form(&[("user_id", "sandbox-user"), ("org_id", "sandbox-org")]),
    )
    .await;
    assert_eq!(
        (&credentials["expires_in"], &credentials["scope"]),
        (&json!(120), &json!("items:read")),
        "{credentials}"
    );

    let items: Vec<Value> = json_of(
        client
            .post(format!("{base}/integrations/sandbox/load"))
            .json(&json!({ "credentials": credentials })),
    )
    .await;
    assert_eq!(items.len(), 14, "every page of the dataset");
    let plan = items.iter().find(|item| item["name"] == "Launch plan").unwrap();
    assert_eq!(
        (&plan["type"], &plan["parent_path_or_name"]),
        (&json!("document"), &json!("Launch"))
    );
}

/// `SANDBOX_ITEMS=500`: a workspace to page through by connection; the sandbox serves five items a
/// page, so each load page stops at its 20 provider requests.
#[tokio::test]
async fn a_bulk_sandbox_workspace_loads_a_page_at_a_time() {
    let fake = MockServer::start().await;
    let base = serve_with(&fake, &[("SANDBOX_ITEMS", "500")]).await;
    assert_eq!(consent(&base, "allow").await.status(), 200);
    let client = reqwest::Client::new();
    let (mut ids, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut form = vec![
            ("user_id", "sandbox-user".to_owned()),
            ("org_id", "sandbox-org".into()),
            ("limit", "200".into()),
        ];
        form.extend(cursor.take().map(|cursor| ("cursor", cursor)));
        let page: Value = json_of(
            client
                .post(format!("{base}/integrations/sandbox/load"))
                .form(&form),
        )
        .await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 100, "20 requests of 5: {page}");
        ids.extend(items.iter().map(|item| item["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match &page["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            _ => break,
        }
    }
    assert_eq!((ids.len(), pages), (500, 5));
    assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 500);
    assert_eq!(ids[499], "doc-bulk-485");
}

#[tokio::test]
async fn a_denied_sandbox_consent_leaves_no_credentials() {
    let fake = MockServer::start().await;
    let base = serve(&fake).await;
    let page = consent(&base, "deny").await;
    assert_eq!(page.status(), 400);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Sandbox refused the request: access_denied: The user denied access"),
        "{page}"
    );
    assert!(page.contains("postMessage"), "the page tells its opener why");

    let response = reqwest::Client::new()
        .post(format!("{base}/integrations/sandbox/credentials"))
        .form(&[("user_id", "sandbox-user"), ("org_id", "sandbox-org")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .starts_with("No credentials found: connect first"));
}

#[tokio::test]
async fn serves_the_demo_page_locked_down() {
    let fake = MockServer::start().await;
    let base = serve(&fake).await;
    let client = reqwest::Client::new();
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    let html = page.text().await.unwrap();
    assert!(html.contains("<script src=\"/demo.js\""));
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "nothing inline"
    );
    for (path, content_type) in [("/demo.js", "text/javascript"), ("/demo.css", "text/css")] {
        let file = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(file.status(), 200);
        assert!(file.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(content_type));
    }

    let states: Vec<Value> = json_of(client.get(format!("{base}/demo/providers"))).await;
    let names: Vec<&str> = states
        .iter()
        .map(|state| state["name"].as_str().unwrap())
        .collect();
    let every: Vec<&str> = integrations::providers::PROVIDERS
        .iter()
        .map(|spec| spec.name)
        .collect();
    assert_eq!(
        names, every,
        "every provider, the sandbox included, in PROVIDERS' order"
    );
    assert!(states.iter().all(|state| state["ready"] == true), "{states:?}");
}

#[tokio::test]
async fn the_demo_lists_what_a_provider_still_needs() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // Its own data directory, not `.data` in the crate.
    let data_dir = std::env::temp_dir().join(format!("demo-needs-{}", address.port()));
    let server = local_api::Server::build(address, |name| match name {
        "HUBSPOT_CLIENT_ID" => Some("only-the-id".to_owned()),
        "DATA_DIR" => Some(data_dir.display().to_string()),
        _ => None,
    })
    .await
    .unwrap();
    tokio::spawn(local_api::serve(server, listener));
    let states: Value = json_of(reqwest::Client::new().get(format!("http://{address}/demo/providers"))).await;
    let state = |name: &str| {
        let states = states.as_array().unwrap();
        states
            .iter()
            .find(|state| state["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        state("hubspot"),
        json!({ "name": "hubspot", "display_name": "HubSpot", "ready": false, "missing": ["HUBSPOT_CLIENT_SECRET"] })
    );
    assert_eq!(
        state("sandbox")["ready"],
        true,
        "the sandbox needs nothing: {states}"
    );
}

/// `/demo/session`: local-api's own, keyless even under `API_KEYS`, a connect session for the demo
/// page's one user that starts one sandbox connect and does nothing else.
#[tokio::test]
async fn the_demo_connects_through_a_session_under_api_keys() {
    let fake = MockServer::start().await;
    let base = serve_with(&fake, &[("API_KEYS", "k")]).await;
    let client = reqwest::Client::new();
    let session = |provider: &str| {
        client
            .post(format!("{base}/demo/session"))
            .query(&[("provider", provider)])
            .send()
    };
    let authorize = |provider: &str, token: &str| {
        client
            .post(format!("{base}/integrations/{provider}/authorize"))
            .bearer_auth(token)
            .send()
    };

    // Without a key, the API refuses to start a consent.
    let refused = client
        .post(format!("{base}/integrations/sandbox/authorize"))
        .form(&[("user_id", "demo-user"), ("org_id", "demo-org")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let before = integrations::clock::now();
    let minted = session("sandbox").await.unwrap();
    assert_eq!(minted.status(), 201);
    assert_eq!(minted.headers()["cache-control"], "no-store");
    assert!(
        minted.headers().get("access-control-allow-origin").is_none(),
        "no other origin reads it"
    );
    let minted: Value = minted.json().await.unwrap();
    let token = minted["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cs_"), "{minted}");
    let expires_at = minted["expires_at"].as_str().unwrap();
    let ten_minutes: Vec<String> = (before..=integrations::clock::now())
        .filter_map(|now| integrations::clock::rfc3339(now + 600))
        .collect();
    assert!(ten_minutes.iter().any(|at| at == expires_at), "{minted}");
    assert_eq!(minted.as_object().unwrap().len(), 2, "{minted}");

    // It allows the sandbox alone, and authorises nothing but authorize.
    let other = authorize("notion", &token).await.unwrap();
    assert_eq!(other.status(), 403);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["detail"], "This connect session does not allow notion");
    let load = client
        .post(format!("{base}/integrations/sandbox/load"))
        .bearer_auth(&token)
        .form(&[("user_id", "demo-user"), ("org_id", "demo-org")])
        .send()
        .await
        .unwrap();
    assert_eq!(load.status(), 401);

    // No body: the demo's user connects, the session spent.
    let url = authorize("sandbox", &token).await.unwrap();
    assert_eq!(url.status(), 200);
    let url: String = url.json().await.unwrap();
    let page = consent_at(&base, &url, "allow").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("window.close()"));
    let connection = client
        .get(format!("{base}/integrations/sandbox/connection"))
        .query(&[("org_id", "demo-org"), ("user_id", "demo-user")])
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(connection.status(), 200, "{:?}", connection.text().await);
    assert_eq!(authorize("sandbox", &token).await.unwrap().status(), 401, "spent");

    // Unknown providers, none, another method.
    let unknown = session("dropbox").await.unwrap();
    assert_eq!(unknown.status(), 404);
    let unknown: Value = unknown.json().await.unwrap();
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap()
            .starts_with("Unknown provider 'dropbox'"),
        "{unknown}"
    );
    let none = client.post(format!("{base}/demo/session")).send().await.unwrap();
    assert_eq!(none.status(), 422);
    let get = client.get(format!("{base}/demo/session")).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
}

/// Webhooks in process: connecting the sandbox tells `connection.created`, its sync
/// `sync.completed`, a second consent `connection.reconnected`, a disconnect
/// `connection.deleted` (revoked): each once, each verified with `standardwebhooks`, none
/// carrying a token. Also measures an event's latency, from its cause's answer to the receiver.
#[tokio::test]
async fn webhooks_tell_each_change_once_signed_and_without_tokens() {
    use support::receiver::{Receiver, SECRET};
    let fake = MockServer::start().await;
    let receiver = Receiver::start(&[SECRET], vec![]).await;
    let url = receiver.url();
    let base = serve_with(
        &fake,
        &[
            ("WEBHOOK_URL", &url),
            ("WEBHOOK_SECRETS", SECRET),
            ("WEBHOOK_RETRY_BASE_MS", "20"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let ids = [("user_id", "sandbox-user"), ("org_id", "sandbox-org")];

    assert_eq!(consent(&base, "allow").await.status(), 200);
    let answered = std::time::Instant::now();
    let created = receiver.wait_for(1).await;
    println!(
        "connection.created reached the receiver {:?} after the callback answered",
        created[0].at - answered
    );
    let token: Value = json_of(
        client
            .post(format!("{base}/integrations/sandbox/token"))
            .form(&ids),
    )
    .await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    let started = client
        .post(format!("{base}/integrations/sandbox/sync"))
        .form(&ids)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    assert_eq!(receiver.types(2).await, ["connection.created", "sync.completed"]);
    assert_eq!(consent(&base, "allow").await.status(), 200);
    assert_eq!(receiver.types(3).await[2], "connection.reconnected");
    let deleted = client
        .delete(format!(
            "{base}/integrations/sandbox/connection?user_id=sandbox-user&org_id=sandbox-org"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    let kinds = receiver.types(4).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.types(4).await,
        [
            "connection.created",
            "sync.completed",
            "connection.reconnected",
            "connection.deleted"
        ],
        "each once ({kinds:?})"
    );
    let deliveries = receiver.deliveries();
    for delivery in &deliveries {
        assert_eq!(delivery.verified_by, [0], "{delivery:?}");
        assert!(!delivery.raw.contains(&access), "a token in {}", delivery.raw);
        assert!(!delivery.raw.contains("refresh_token") && !delivery.raw.contains("access_token"));
        assert_eq!(
            delivery.body["data"]["user_id"], "sandbox-user",
            "{}",
            delivery.raw
        );
    }
    let ids: std::collections::BTreeSet<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 4, "one id per event");
    assert_eq!(deliveries[0].body["data"]["status"], "active");
    assert_eq!(deliveries[1].body["data"]["status"], "idle");
    assert_eq!(deliveries[1].body["data"]["items"], 14, "{}", deliveries[1].raw);
    assert_eq!(
        deliveries[3].body["data"]["revoked"], true,
        "{}",
        deliveries[3].raw
    );
}
