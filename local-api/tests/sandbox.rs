//! The sandbox provider end to end, through `Sandbox::handle` only: consent, PKCE, token
//! exchange, refresh rotation, expiry, revocation, the items API and its changes.

use std::collections::HashSet;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use integrations::providers::sandbox::{normalise, normalise_all};
use local_api::sandbox::{Sandbox, SandboxSettings};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

const REDIRECT: &str = "https://app.example.com/integrations/sandbox/oauth2callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9LrA7e7Rn0Mpjq6A0kXzmRt5Q.~_long-enough";
const STATE: &str = "state-123";
const DATASET_SIZE: usize = 14;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {:?}", self.body))
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or_default()
    }

    /// The query parameters of the `Location` a 303 points to, checking it goes to `REDIRECT`.
    fn redirect_params(&self) -> Vec<(String, String)> {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.text());
        let location = Url::parse(self.header("location")).unwrap();
        assert_eq!(location[..url::Position::AfterPath], *REDIRECT);
        location.query_pairs().into_owned().collect()
    }

    fn redirect_param(&self, name: &str) -> Option<String> {
        self.redirect_params()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }
}

fn sandbox() -> Sandbox {
    sandbox_with_ttl(Duration::from_secs(120))
}

fn sandbox_with_ttl(token_ttl: Duration) -> Sandbox {
    Sandbox::new(SandboxSettings {
        token_ttl,
        redirect_uris: vec![REDIRECT.into()],
        bulk_items: 0,
    })
}

async fn send(sandbox: &Sandbox, request: Request<Bytes>) -> Answer {
    let response = sandbox.handle(request).await;
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier))
}

/// The authorization request's parameters, with `changes` applied (an empty value removes one).
fn authorize_params<'a>(sandbox: &'a Sandbox, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut params = vec![
        ("response_type", "code".to_owned()),
        ("client_id", sandbox.client_id().to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("state", STATE.to_owned()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
    ];
    for &(name, value) in changes {
        params.retain(|(key, _)| *key != name);
        if !value.is_empty() {
            params.push((name, value.to_owned()));
        }
    }
    params
}

fn pairs<'a>(params: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    params
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

async fn get(sandbox: &Sandbox, path_and_query: &str, bearer: Option<&str>) -> Answer {
    let mut request = Request::builder().method(Method::GET).uri(path_and_query);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(sandbox, request.body(Bytes::new()).unwrap()).await
}

async fn post_form(
    sandbox: &Sandbox,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let credentials = STANDARD.encode(format!("{id}:{secret}"));
        request = request.header("authorization", format!("Basic {credentials}"));
    }
    send(sandbox, request.body(Bytes::from(encode(form))).unwrap()).await
}

async fn consent_page(sandbox: &Sandbox, changes: &[(&str, &str)]) -> Answer {
    let query = encode(&pairs(&authorize_params(sandbox, changes)));
    get(sandbox, &format!("/sandbox/oauth/authorize?{query}"), None).await
}

async fn decide(sandbox: &Sandbox, decision: &str, changes: &[(&str, &str)]) -> Answer {
    let params = authorize_params(sandbox, changes);
    let mut form = pairs(&params);
    form.push(("decision", decision));
    post_form(sandbox, "/sandbox/oauth/authorize", None, &form).await
}

/// Consents and returns the authorization code.
async fn code(sandbox: &Sandbox) -> String {
    let answer = decide(sandbox, "allow", &[]).await;
    assert_eq!(answer.redirect_param("state").as_deref(), Some(STATE));
    answer.redirect_param("code").expect("a code")
}

fn basic(sandbox: &Sandbox) -> Option<(&str, &str)> {
    Some((sandbox.client_id(), sandbox.client_secret()))
}

async fn exchange(sandbox: &Sandbox, code: &str, verifier: &str, redirect_uri: &str) -> Answer {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    post_form(sandbox, "/sandbox/oauth/token", basic(sandbox), &form).await
}

/// Runs the whole code flow and returns the token response.
async fn connect(sandbox: &Sandbox) -> Value {
    let code = code(sandbox).await;
    let answer = exchange(sandbox, &code, VERIFIER, REDIRECT).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

async fn refresh(sandbox: &Sandbox, refresh_token: &str) -> Answer {
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    post_form(sandbox, "/sandbox/oauth/token", basic(sandbox), &form).await
}

async fn revoke(sandbox: &Sandbox, token: &str) -> Answer {
    post_form(
        sandbox,
        "/sandbox/oauth/revoke",
        basic(sandbox),
        &[("token", token)],
    )
    .await
}

async fn items(sandbox: &Sandbox, token: &str) -> Answer {
    get(sandbox, "/sandbox/api/items", Some(token)).await
}

fn token(response: &Value, name: &str) -> String {
    response[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {response}"))
        .to_owned()
}

fn assert_oauth_error(answer: &Answer, status: StatusCode, error: &str) {
    assert_eq!(answer.status, status, "{}", answer.text());
    assert_eq!(answer.json()["error"], error, "{}", answer.text());
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.header("cache-control"), "no-store");
}

fn assert_invalid_token(answer: &Answer) {
    assert_oauth_error(answer, StatusCode::UNAUTHORIZED, "invalid_token");
    let challenge = answer.header("www-authenticate");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn consent_page_offers_allow_and_deny_under_a_strict_policy() {
    let sandbox = sandbox();
    let page = consent_page(&sandbox, &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "no-referrer");

    let policy = page.header("content-security-policy");
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    assert!(directives.contains(&"default-src 'none'"), "{policy}");
    assert!(directives.contains(&"frame-ancestors 'none'"), "{policy}");
    // The redirect after the POST must be allowed too, or Chromium blocks it.
    assert!(
        directives.contains(&"form-action 'self' https://app.example.com"),
        "{policy}"
    );
    assert!(!policy.contains("script-src"), "{policy}");
    assert!(!policy.contains("unsafe-eval"), "{policy}");

    let html = page.text();
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("<form method=\"post\" action=\"/sandbox/oauth/authorize\">"));
    assert!(html.contains("<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>"));
    assert!(html.contains("<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>"));
    assert!(html.contains(sandbox.client_id()), "shows the client");
    assert!(
        html.contains("<code>items:read</code>"),
        "shows the default scope"
    );
    assert!(html.contains(REDIRECT), "shows where the answer goes");
    for (name, value) in [
        ("state", STATE.to_owned()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("scope", "items:read".to_owned()),
    ] {
        let field = format!("<input type=\"hidden\" name=\"{name}\" value=\"{value}\">");
        assert!(html.contains(&field), "{field} in {html}");
    }
}

#[tokio::test]
async fn consent_page_escapes_what_the_client_sent() {
    let sandbox = sandbox();
    let page = consent_page(&sandbox, &[("state", "\"><script>alert(1)</script>")]).await;
    let html = page.text();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{html}"
    );
}

#[tokio::test]
async fn code_flow_with_pkce_and_client_secret_basic() {
    let sandbox = sandbox();
    let allowed = decide(&sandbox, "allow", &[]).await;
    assert_eq!(allowed.header("cache-control"), "no-store");
    assert_eq!(allowed.header("referrer-policy"), "no-referrer");
    let params = allowed.redirect_params();
    let names: Vec<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["code", "state"]);
    assert_eq!(params[1].1, STATE);
    let code = &params[0].1;
    assert_eq!(URL_SAFE_NO_PAD.decode(code).unwrap().len(), 32, "32 random bytes");

    let answer = exchange(&sandbox, code, VERIFIER, REDIRECT).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.header("content-type"), "application/json");
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 120);
    assert_eq!(tokens["scope"], "items:read");
    assert_eq!(tokens["account_id"], "sandbox-account");
    assert_eq!(tokens["account_name"], "Sandbox workspace");
    let access = token(&tokens, "access_token");
    assert_ne!(access, token(&tokens, "refresh_token"));

    let listed = items(&sandbox, &access).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.json()["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn code_flow_with_client_secret_post() {
    let sandbox = sandbox();
    let code = code(&sandbox).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", sandbox.client_id()),
        ("client_secret", sandbox.client_secret()),
    ];
    let answer = post_form(&sandbox, "/sandbox/oauth/token", None, &form).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let access = token(&answer.json(), "access_token");
    assert_eq!(items(&sandbox, &access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let sandbox = sandbox();
    let denied = decide(&sandbox, "deny", &[]).await;
    assert_eq!(denied.redirect_param("error").as_deref(), Some("access_denied"));
    assert!(denied.redirect_param("error_description").is_some());
    assert_eq!(denied.redirect_param("state").as_deref(), Some(STATE));
    assert_eq!(denied.redirect_param("code"), None);
}

#[tokio::test]
async fn unknown_clients_and_redirect_uris_get_a_page_never_a_redirect() {
    let sandbox = sandbox();
    let registered_elsewhere = "https://evil.example/callback";
    let cases: [&[(&str, &str)]; 4] = [
        &[("redirect_uri", registered_elsewhere)],
        &[(
            "redirect_uri",
            "https://app.example.com/integrations/sandbox/oauth2callback/",
        )],
        &[("redirect_uri", "")],
        &[("client_id", "someone-else")],
    ];
    for changes in cases {
        for answer in [
            consent_page(&sandbox, changes).await,
            decide(&sandbox, "allow", changes).await,
        ] {
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{changes:?}");
            assert_eq!(answer.header("location"), "", "{changes:?}");
            assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
            assert!(answer
                .header("content-security-policy")
                .contains("form-action 'none'"));
            assert!(answer.text().contains("Request refused"), "{}", answer.text());
            assert!(!answer.text().contains("evil.example"));
        }
    }
}

#[tokio::test]
async fn other_faults_are_redirected_to_the_client() {
    let sandbox = sandbox();
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("response_type", "")], "unsupported_response_type"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("state", "")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("scope", "items:write")], "invalid_scope"),
    ];
    for (changes, error) in cases {
        let answer = consent_page(&sandbox, changes).await;
        assert_eq!(
            answer.redirect_param("error").as_deref(),
            Some(error),
            "{changes:?}"
        );
        assert!(
            answer.redirect_param("error_description").is_some(),
            "{changes:?}"
        );
        let state = changes
            .iter()
            .all(|(name, _)| *name != "state")
            .then(|| STATE.to_owned());
        assert_eq!(answer.redirect_param("state"), state, "{changes:?}");
        assert_eq!(answer.redirect_param("code"), None, "{changes:?}");
    }
}

#[tokio::test]
async fn the_consent_answer_is_validated_again() {
    let sandbox = sandbox();
    let tampered = decide(&sandbox, "allow", &[("redirect_uri", "https://evil.example/cb")]).await;
    assert_eq!(tampered.status, StatusCode::BAD_REQUEST);
    assert_eq!(tampered.header("location"), "");

    let no_pkce = decide(&sandbox, "allow", &[("code_challenge", "")]).await;
    assert_eq!(
        no_pkce.redirect_param("error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(no_pkce.redirect_param("code"), None);

    let undecided = decide(&sandbox, "maybe", &[]).await;
    assert_eq!(
        undecided.redirect_param("error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn wrong_verifier_reused_code_and_wrong_redirect_uri_are_invalid_grant() {
    let sandbox = sandbox();
    let other_verifier = "another-verifier-that-is-at-least-43-characters-long";
    let answer = exchange(&sandbox, &code(&sandbox).await, other_verifier, REDIRECT).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(answer.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("code_verifier"));

    let other_redirect = "https://app.example.com/elsewhere";
    let answer = exchange(&sandbox, &code(&sandbox).await, VERIFIER, other_redirect).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");

    let unknown = exchange(&sandbox, "not-a-code", VERIFIER, REDIRECT).await;
    assert_oauth_error(&unknown, StatusCode::BAD_REQUEST, "invalid_grant");

    // Reuse is refused, and what the first use obtained is withdrawn (RFC 6749 §4.1.2).
    let code = code(&sandbox).await;
    let first = exchange(&sandbox, &code, VERIFIER, REDIRECT).await.json();
    let access = token(&first, "access_token");
    assert_eq!(items(&sandbox, &access).await.status, StatusCode::OK);
    let again = exchange(&sandbox, &code, VERIFIER, REDIRECT).await;
    assert_oauth_error(&again, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_invalid_token(&items(&sandbox, &access).await);
    let refreshed = refresh(&sandbox, &token(&first, "refresh_token")).await;
    assert_oauth_error(&refreshed, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn a_failed_redemption_spends_the_code() {
    let sandbox = sandbox();
    let code = code(&sandbox).await;
    let other_verifier = "another-verifier-that-is-at-least-43-characters-long";
    let wrong = exchange(&sandbox, &code, other_verifier, REDIRECT).await;
    assert_oauth_error(&wrong, StatusCode::BAD_REQUEST, "invalid_grant");
    let right = exchange(&sandbox, &code, VERIFIER, REDIRECT).await;
    assert_oauth_error(&right, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn malformed_token_requests_are_invalid_request() {
    let sandbox = sandbox();
    let code = code(&sandbox).await;

    let short_verifier = exchange(&sandbox, &code, "too-short", REDIRECT).await;
    assert_oauth_error(&short_verifier, StatusCode::BAD_REQUEST, "invalid_request");

    let missing = [("grant_type", "authorization_code"), ("code", code.as_str())];
    let answer = post_form(&sandbox, "/sandbox/oauth/token", basic(&sandbox), &missing).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");

    let no_grant = post_form(
        &sandbox,
        "/sandbox/oauth/token",
        basic(&sandbox),
        &[("code", &code)],
    )
    .await;
    assert_oauth_error(&no_grant, StatusCode::BAD_REQUEST, "invalid_request");

    let password = [("grant_type", "password"), ("username", "u"), ("password", "p")];
    let answer = post_form(&sandbox, "/sandbox/oauth/token", basic(&sandbox), &password).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unsupported_grant_type");

    let repeated = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "a"),
        ("refresh_token", "b"),
    ];
    let answer = post_form(&sandbox, "/sandbox/oauth/token", basic(&sandbox), &repeated).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");

    let (id, secret) = basic(&sandbox).unwrap();
    let json = Request::builder()
        .method(Method::POST)
        .uri("/sandbox/oauth/token")
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
        .body(Bytes::from(json!({ "grant_type": "refresh_token" }).to_string()))
        .unwrap();
    assert_oauth_error(
        &send(&sandbox, json).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}

#[tokio::test]
async fn bad_client_authentication_is_invalid_client() {
    let sandbox = sandbox();
    let code = code(&sandbox).await;
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let id = sandbox.client_id();
    let cases = [
        (Some((id, "wrong-secret")), vec![]),
        (Some(("someone-else", sandbox.client_secret())), vec![]),
        (None, vec![]),
        (None, vec![("client_id", id), ("client_secret", "wrong-secret")]),
        (None, vec![("client_secret", sandbox.client_secret())]),
        (basic(&sandbox), vec![("client_id", "someone-else")]),
    ];
    for (basic, extra) in cases {
        let form: Vec<_> = grant.iter().copied().chain(extra).collect();
        let answer = post_form(&sandbox, "/sandbox/oauth/token", basic, &form).await;
        assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
        assert_eq!(answer.header("www-authenticate"), "Basic realm=\"sandbox\"");
    }

    let both: Vec<_> = grant
        .iter()
        .copied()
        .chain([("client_secret", sandbox.client_secret())])
        .collect();
    let answer = post_form(&sandbox, "/sandbox/oauth/token", basic(&sandbox), &both).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");

    // None of those attempts spent the code.
    assert_eq!(
        exchange(&sandbox, &code, VERIFIER, REDIRECT).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let sandbox = sandbox();
    let first = connect(&sandbox).await;
    let old_refresh = token(&first, "refresh_token");

    let answer = refresh(&sandbox, &old_refresh).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), "no-store");
    let second = answer.json();
    assert_eq!(second["scope"], "items:read");
    assert_eq!(second["account_id"], "sandbox-account");
    let new_refresh = token(&second, "refresh_token");
    assert_ne!(new_refresh, old_refresh);
    assert_ne!(token(&second, "access_token"), token(&first, "access_token"));
    assert_eq!(
        items(&sandbox, &token(&second, "access_token")).await.status,
        StatusCode::OK
    );

    let reused = refresh(&sandbox, &old_refresh).await;
    assert_oauth_error(&reused, StatusCode::BAD_REQUEST, "invalid_grant");

    let third = refresh(&sandbox, &new_refresh).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.text());
    assert_ne!(token(&third.json(), "refresh_token"), new_refresh);

    let unknown = refresh(&sandbox, "never-issued").await;
    assert_oauth_error(&unknown, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn refresh_may_narrow_but_not_widen_the_scope() {
    let sandbox = sandbox();
    let tokens = connect(&sandbox).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", &token(&tokens, "refresh_token")),
        ("scope", "items:write"),
    ];
    let answer = post_form(&sandbox, "/sandbox/oauth/token", basic(&sandbox), &form).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_scope");
    // The refused request did not spend the refresh token.
    assert_eq!(
        refresh(&sandbox, &token(&tokens, "refresh_token")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn access_tokens_expire_and_refresh_brings_a_live_one() {
    let sandbox = sandbox_with_ttl(Duration::from_secs(1));
    let tokens = connect(&sandbox).await;
    assert_eq!(tokens["expires_in"], 1);
    let access = token(&tokens, "access_token");
    assert_eq!(items(&sandbox, &access).await.status, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = items(&sandbox, &access).await;
    assert_invalid_token(&expired);
    assert!(expired.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));

    let refreshed = refresh(&sandbox, &token(&tokens, "refresh_token")).await.json();
    assert_eq!(
        items(&sandbox, &token(&refreshed, "access_token")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn revocation_withdraws_access_and_refresh_tokens() {
    let sandbox = sandbox();

    let tokens = connect(&sandbox).await;
    let access = token(&tokens, "access_token");
    let answer = revoke(&sandbox, &access).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
    assert_invalid_token(&items(&sandbox, &access).await);
    // Revoking the access token leaves the refresh token.
    assert_eq!(
        refresh(&sandbox, &token(&tokens, "refresh_token")).await.status,
        StatusCode::OK
    );

    let tokens = connect(&sandbox).await;
    let access = token(&tokens, "access_token");
    let refresh_token = token(&tokens, "refresh_token");
    assert_eq!(revoke(&sandbox, &refresh_token).await.status, StatusCode::OK);
    assert_invalid_token(&items(&sandbox, &access).await);
    assert_oauth_error(
        &refresh(&sandbox, &refresh_token).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );

    let unknown = revoke(&sandbox, "never-issued").await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(unknown.body.is_empty());

    let tokens = connect(&sandbox).await;
    let access = token(&tokens, "access_token");
    let unauthenticated = post_form(&sandbox, "/sandbox/oauth/revoke", None, &[("token", &access)]).await;
    assert_oauth_error(&unauthenticated, StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(
        items(&sandbox, &access).await.status,
        StatusCode::OK,
        "still live"
    );

    let missing = post_form(&sandbox, "/sandbox/oauth/revoke", basic(&sandbox), &[]).await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn items_are_listed_page_by_page() {
    let sandbox = sandbox();
    let access = token(&connect(&sandbox).await, "access_token");
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/sandbox/api/items?cursor={cursor}"),
            None => "/sandbox/api/items".to_owned(),
        };
        let answer = get(&sandbox, &path, Some(&access)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(answer.header("content-type"), "application/json");
        let page = answer.json();
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty() && items.len() <= 5, "{page}");
        for item in items {
            let id = item["id"].as_str().unwrap();
            assert_eq!(item["url"], format!("https://sandbox.invalid/items/{id}"));
            assert!(
                matches!(item["kind"].as_str(), Some("folder" | "document")),
                "{item}"
            );
            assert!(
                item["name"].is_string() && item["created_at"].is_string(),
                "{item}"
            );
            assert!(item["updated_at"].as_str().unwrap().ends_with('Z'), "{item}");
            ids.push(id.to_owned());
        }
        pages += 1;
        match &page["next_cursor"] {
            Value::Null => break,
            Value::String(next) => cursor = Some(next.clone()),
            other => panic!("next_cursor {other}"),
        }
    }
    assert_eq!(pages, DATASET_SIZE.div_ceil(5));
    assert_eq!(ids.len(), DATASET_SIZE);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        DATASET_SIZE,
        "ids are unique"
    );

    let all = get(&sandbox, "/sandbox/api/items?page_size=100", Some(&access))
        .await
        .json();
    assert_eq!(all["items"].as_array().unwrap().len(), DATASET_SIZE);
    assert_eq!(all["next_cursor"], Value::Null);
    let listed: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids, "the order is stable");
}

/// `SANDBOX_ITEMS`: bulk documents after the fixed workspace, paged like it, with cursors that
/// reach past it.
#[tokio::test]
async fn a_bulk_workspace_pages_past_the_fixed_items() {
    let sandbox = Sandbox::new(SandboxSettings {
        token_ttl: Duration::from_secs(120),
        redirect_uris: vec![REDIRECT.into()],
        bulk_items: 1_000,
    });
    let access = token(&connect(&sandbox).await, "access_token");
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/sandbox/api/items?page_size=100&cursor={cursor}"),
            None => "/sandbox/api/items?page_size=100".to_owned(),
        };
        let page = get(&sandbox, &path, Some(&access)).await.json();
        for item in page["items"].as_array().unwrap() {
            ids.push(item["id"].as_str().unwrap().to_owned());
        }
        match &page["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            _ => break,
        }
    }
    assert_eq!(ids.len(), DATASET_SIZE + 1_000);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "ids are unique"
    );
    assert_eq!(ids[DATASET_SIZE], "doc-bulk-0");
    let last = get(
        &sandbox,
        &format!(
            "/sandbox/api/items?cursor={}",
            URL_SAFE_NO_PAD.encode((DATASET_SIZE + 999).to_string())
        ),
        Some(&access),
    )
    .await
    .json();
    assert_eq!(
        (
            &last["items"][0]["id"],
            &last["items"][0]["updated_at"],
            &last["next_cursor"]
        ),
        (
            &json!("doc-bulk-999"),
            &json!("2024-07-01T16:39:00Z"),
            &Value::Null
        )
    );
    let past = URL_SAFE_NO_PAD.encode((DATASET_SIZE + 1_000).to_string());
    let answer = get(
        &sandbox,
        &format!("/sandbox/api/items?cursor={past}"),
        Some(&access),
    )
    .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn bad_page_sizes_and_cursors_are_refused() {
    let sandbox = sandbox();
    let access = token(&connect(&sandbox).await, "access_token");
    let bad_cursor = URL_SAFE_NO_PAD.encode("999");
    for query in [
        "page_size=0".to_owned(),
        "page_size=101".to_owned(),
        "page_size=five".to_owned(),
        "cursor=%%%".to_owned(),
        "cursor=bm90LWEtbnVtYmVy".to_owned(),
        format!("cursor={bad_cursor}"),
    ] {
        let answer = get(&sandbox, &format!("/sandbox/api/items?{query}"), Some(&access)).await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    }
}

#[tokio::test]
async fn items_need_a_live_access_token() {
    let sandbox = sandbox();
    let without = get(&sandbox, "/sandbox/api/items", None).await;
    assert_invalid_token(&without);
    assert_invalid_token(&items(&sandbox, "made-up").await);

    // A refresh token is not an access token.
    let tokens = connect(&sandbox).await;
    assert_invalid_token(&items(&sandbox, &token(&tokens, "refresh_token")).await);

    let basic = Request::builder()
        .uri("/sandbox/api/items")
        .header(
            "authorization",
            format!("Basic {}", token(&tokens, "access_token")),
        )
        .body(Bytes::new())
        .unwrap();
    assert_invalid_token(&send(&sandbox, basic).await);
}

/// `POST /sandbox/api/changes` with `body` sent as `content_type`, with the bearer `token`.
async fn post_changes(
    sandbox: &Sandbox,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/sandbox/api/changes");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    send(sandbox, request.body(Bytes::from(body.to_owned())).unwrap()).await
}

async fn change(sandbox: &Sandbox, token: &str, changes: Value) -> Value {
    let answer = post_changes(
        sandbox,
        Some(token),
        Some("application/json"),
        &changes.to_string(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.header("cache-control"), "no-store");
    answer.json()
}

/// Every item listed now, following the cursor `page_size` at a time; and the pages it took.
async fn listing(sandbox: &Sandbox, token: &str, page_size: usize) -> (Vec<Value>, usize) {
    let (mut items, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut path = format!("/sandbox/api/items?page_size={page_size}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let answer = get(sandbox, &path, Some(token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let page = answer.json();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        pages += 1;
        match &page["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            Value::Null => return (items, pages),
            other => panic!("next_cursor {other}"),
        }
    }
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|item| item["id"].as_str().unwrap()).collect()
}

fn by_id<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items
        .iter()
        .find(|item| item["id"] == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

/// The workspace's ids in listing order, as the fixed dataset has them.
const FIXED_IDS: [&str; DATASET_SIZE] = [
    "fld-projects",
    "fld-launch",
    "fld-archive",
    "doc-welcome",
    "doc-handbook",
    "doc-ideas",
    "doc-roadmap",
    "doc-budget",
    "doc-launch-plan",
    "doc-press-release",
    "doc-checklist",
    "doc-retro-2023",
    "doc-old-notes",
    "doc-2023-budget",
];

/// The last documents go from the listing, the first ones are renamed and updated now; the
/// cursor pages over what is left; folders are never touched.
#[tokio::test]
async fn changes_edit_the_first_documents_and_delete_the_last() {
    let sandbox = sandbox();
    let access = token(&connect(&sandbox).await, "access_token");
    let (before, _) = listing(&sandbox, &access, 100).await;
    assert_eq!(ids(&before), FIXED_IDS);
    let started = integrations::clock::rfc3339(integrations::clock::now()).unwrap();

    let answer = change(&sandbox, &access, json!({ "edit": 3, "delete": 2 })).await;
    assert_eq!(
        answer,
        json!({
            "edited": ["doc-welcome", "doc-handbook", "doc-ideas"],
            "deleted": ["doc-old-notes", "doc-2023-budget"],
        })
    );
    let (after, pages) = listing(&sandbox, &access, 5).await;
    assert_eq!(ids(&after), FIXED_IDS[..12], "the order is kept");
    assert_eq!(pages, 3, "12 items, 5 a page");
    for (id, name) in [
        ("doc-welcome", "Welcome to the sandbox (edited)"),
        ("doc-handbook", "Team handbook (edited)"),
        ("doc-ideas", "Ideas (edited)"),
    ] {
        let item = by_id(&after, id);
        assert_eq!(item["name"], name);
        let updated = item["updated_at"].as_str().unwrap();
        assert!(updated >= started.as_str(), "{updated} before {started}");
        assert_eq!(item["created_at"], by_id(&before, id)["created_at"]);
    }
    // The others are as they were, to the byte.
    for item in &after[6..] {
        assert_eq!(item, by_id(&before, item["id"].as_str().unwrap()));
    }
    assert_eq!(&after[..3], &before[..3], "folders are never changed");

    // A form does the same; an edited document edited again says so.
    let form = encode(&[("edit", "1"), ("delete", "1")]);
    let answer = post_changes(
        &sandbox,
        Some(&access),
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        &form,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({ "edited": ["doc-welcome"], "deleted": ["doc-retro-2023"] })
    );
    let (after, _) = listing(&sandbox, &access, 100).await;
    assert_eq!(ids(&after), FIXED_IDS[..11]);
    assert_eq!(
        by_id(&after, "doc-welcome")["name"],
        "Welcome to the sandbox (edited 2 times)"
    );

    // Nothing asked, nothing done: an empty body, an empty JSON object, zeros, empty fields.
    for (content_type, body) in [
        (None, ""),
        (Some("application/json"), "{}"),
        (Some("application/json"), r#"{"edit": 0, "delete": null}"#),
        (Some("application/x-www-form-urlencoded"), "edit=&delete=0"),
    ] {
        let answer = post_changes(&sandbox, Some(&access), content_type, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}: {}", answer.text());
        assert_eq!(answer.json(), json!({ "edited": [], "deleted": [] }), "{body}");
    }
    assert_eq!(listing(&sandbox, &access, 100).await.0, after);

    // Asked for more than there is, it changes what there is: 7 documents are left.
    let answer = change(&sandbox, &access, json!({ "delete": 1000, "edit": 1000 })).await;
    assert_eq!(
        answer,
        json!({ "edited": [], "deleted": FIXED_IDS[3..11] }),
        "deleted first: none is left to edit"
    );
    let (after, pages) = listing(&sandbox, &access, 5).await;
    assert_eq!(ids(&after), FIXED_IDS[..3], "only the folders");
    assert_eq!(pages, 1);
    let answer = change(&sandbox, &access, json!({ "edit": 1, "delete": 1 })).await;
    assert_eq!(answer, json!({ "edited": [], "deleted": [] }));
}

/// In a bulk workspace the last documents are bulk ones; cursors into what was deleted still page.
#[tokio::test]
async fn changes_reach_the_end_of_a_bulk_workspace() {
    let sandbox = Sandbox::new(SandboxSettings {
        token_ttl: Duration::from_secs(120),
        redirect_uris: vec![REDIRECT.into()],
        bulk_items: 1_000,
    });
    let access = token(&connect(&sandbox).await, "access_token");
    let answer = change(&sandbox, &access, json!({ "edit": 2, "delete": 3 })).await;
    assert_eq!(
        answer,
        json!({
            "edited": ["doc-welcome", "doc-handbook"],
            "deleted": ["doc-bulk-997", "doc-bulk-998", "doc-bulk-999"],
        })
    );
    let (after, _) = listing(&sandbox, &access, 100).await;
    assert_eq!(after.len(), DATASET_SIZE + 997);
    assert_eq!(after.last().unwrap()["id"], "doc-bulk-996");

    // From the position before the deleted ones: one item, and no next page.
    let at = |position: usize| URL_SAFE_NO_PAD.encode(position.to_string());
    let path = format!("/sandbox/api/items?cursor={}", at(DATASET_SIZE + 996));
    let page = get(&sandbox, &path, Some(&access)).await.json();
    assert_eq!(ids(page["items"].as_array().unwrap()), ["doc-bulk-996"]);
    assert_eq!(page["next_cursor"], Value::Null);
    // A cursor handed out before a deletion still works: it skips what went.
    let path = format!("/sandbox/api/items?cursor={}&page_size=2", at(DATASET_SIZE + 995));
    let page = get(&sandbox, &path, Some(&access)).await.json();
    assert_eq!(
        ids(page["items"].as_array().unwrap()),
        ["doc-bulk-995", "doc-bulk-996"]
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let path = format!("/sandbox/api/items?cursor={}", at(DATASET_SIZE + 998));
    let page = get(&sandbox, &path, Some(&access)).await.json();
    assert_eq!(page, json!({ "items": [], "next_cursor": null }));
}

#[tokio::test]
async fn changes_refuse_anything_but_counts_from_0_to_1000() {
    let sandbox = sandbox();
    let access = token(&connect(&sandbox).await, "access_token");
    let json = Some("application/json");
    let form = Some("application/x-www-form-urlencoded");
    let cases = [
        (
            json,
            r#"{"edit": -1}"#,
            "edit must be a whole number from 0 to 1000",
        ),
        (
            json,
            r#"{"edit": 1001}"#,
            "edit must be a whole number from 0 to 1000",
        ),
        (
            json,
            r#"{"delete": 1.5}"#,
            "delete must be a whole number from 0 to 1000",
        ),
        (
            json,
            r#"{"delete": "2"}"#,
            "delete must be a whole number from 0 to 1000",
        ),
        (
            json,
            r#"{"edit": true}"#,
            "edit must be a whole number from 0 to 1000",
        ),
        (
            json,
            r#"{"edit": 1, "remove": 1}"#,
            "remove is not a field: send edit, delete or both",
        ),
        (
            json,
            "[3, 2]",
            r#"the body must be a JSON object such as {"edit": 3, "delete": 2}"#,
        ),
        (
            json,
            "{\"edit\": 3",
            r#"the body must be a JSON object such as {"edit": 3, "delete": 2}"#,
        ),
        (form, "edit=three", "edit must be a whole number from 0 to 1000"),
        (form, "edit=-1", "edit must be a whole number from 0 to 1000"),
        (form, "edit=%2B1", "edit must be a whole number from 0 to 1000"),
        (
            form,
            "delete=1001",
            "delete must be a whole number from 0 to 1000",
        ),
        (form, "edit=1&edit=2", "edit was sent more than once"),
        (form, "edits=1", "edits is not a field: send edit, delete or both"),
        (
            Some("text/plain"),
            "edit=1",
            "the body must be a form (application/x-www-form-urlencoded) or JSON",
        ),
        (
            None,
            r#"{"edit": 1}"#,
            "the body must be a form (application/x-www-form-urlencoded) or JSON",
        ),
    ];
    for (content_type, body, detail) in cases {
        let answer = post_changes(&sandbox, Some(&access), content_type, body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.text()
        );
        assert_eq!(answer.header("content-type"), "application/json");
        assert_eq!(answer.json(), json!({ "detail": detail }), "{body}");
    }
    // Refused, they changed nothing; 1000 is the most, and allowed.
    let (items, _) = listing(&sandbox, &access, 100).await;
    assert_eq!(ids(&items), FIXED_IDS);
    assert_eq!(by_id(&items, "doc-welcome")["name"], "Welcome to the sandbox");
    let answer = change(&sandbox, &access, json!({ "edit": 1000 })).await;
    assert_eq!(answer["edited"].as_array().unwrap().len(), 11, "every document");
}

#[tokio::test]
async fn changes_need_a_live_access_token() {
    let sandbox = sandbox();
    let body = r#"{"edit": 1, "delete": 1}"#;
    let json = Some("application/json");
    assert_invalid_token(&post_changes(&sandbox, None, json, body).await);
    assert_invalid_token(&post_changes(&sandbox, Some("made-up"), json, body).await);
    let tokens = connect(&sandbox).await;
    let refresh_token = token(&tokens, "refresh_token");
    assert_invalid_token(&post_changes(&sandbox, Some(&refresh_token), json, body).await);
    // The token is checked before the body.
    let answer = post_changes(&sandbox, None, json, "not json").await;
    assert_invalid_token(&answer);
    assert_eq!(
        answer.json()["error_description"],
        "An access token is required: Authorization: Bearer <token>"
    );
    let access = token(&tokens, "access_token");
    assert_eq!(revoke(&sandbox, &access).await.status, StatusCode::OK);
    assert_invalid_token(&post_changes(&sandbox, Some(&access), json, body).await);

    // None of those changed anything.
    let access = token(&connect(&sandbox).await, "access_token");
    assert_eq!(ids(&listing(&sandbox, &access, 100).await.0), FIXED_IDS);
    let answer = get(&sandbox, "/sandbox/api/changes", Some(&access)).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.header("allow"), "POST");
}

#[tokio::test]
async fn the_normaliser_maps_nesting_and_names_parents() {
    let sandbox = sandbox();
    let access = token(&connect(&sandbox).await, "access_token");
    let listing = get(&sandbox, "/sandbox/api/items?page_size=100", Some(&access))
        .await
        .json();
    let objects = listing["items"].as_array().unwrap();
    let items = normalise_all(objects);
    assert_eq!(items.len(), DATASET_SIZE);

    let by_name = |name: &str| {
        items
            .iter()
            .find(|item| item.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let projects = by_name("Projects");
    assert!(projects.directory);
    assert_eq!(projects.kind.as_deref(), Some("folder"));
    assert_eq!(projects.parent_id, None);
    assert_eq!(projects.parent_path_or_name, None);

    let launch = by_name("Launch");
    assert!(launch.directory);
    assert_eq!(launch.parent_id, projects.id);
    assert_eq!(launch.parent_path_or_name.as_deref(), Some("Projects"));

    let plan = by_name("Launch plan");
    assert!(!plan.directory);
    assert_eq!(plan.kind.as_deref(), Some("document"));
    assert_eq!(plan.parent_id, launch.id);
    assert_eq!(plan.parent_path_or_name.as_deref(), Some("Launch"));
    assert_eq!(plan.visibility, Some(true));
    let id = plan.id.as_deref().unwrap();
    assert_eq!(plan.url, Some(format!("https://sandbox.invalid/items/{id}")));
    let object = objects.iter().find(|object| object["id"] == id).unwrap();
    assert_eq!(plan.creation_time.as_deref(), object["created_at"].as_str());
    assert_eq!(plan.last_modified_time.as_deref(), object["updated_at"].as_str());

    // Without its parent in the listing, an item keeps the id but has no parent name.
    let alone = normalise_all(std::slice::from_ref(object));
    assert_eq!(alone[0].parent_id, launch.id);
    assert_eq!(alone[0].parent_path_or_name, None);

    for malformed in [
        json!({ "kind": "document", "name": "no id" }),
        json!({ "id": "x", "kind": "spreadsheet", "name": "unknown kind" }),
        json!({ "id": "x", "name": "no kind" }),
        json!({ "id": 7, "kind": "folder" }),
        json!({ "id": "x", "kind": "folder", "parent_id": 3 }),
        json!("not an object"),
    ] {
        assert_eq!(normalise(&malformed), None, "{malformed}");
    }
}

#[tokio::test]
async fn only_sandbox_paths_are_served() {
    let sandbox = sandbox();
    for path in [
        "/",
        "/sandbox",
        "/sandbox/",
        "/sandbox/oauth/unknown",
        "/integrations/notion/load",
    ] {
        let answer = get(&sandbox, path, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.json()["error"], "not_found");
    }
    let answer = get(&sandbox, "/sandbox/oauth/token", None).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.header("allow"), "POST");
}

#[tokio::test]
async fn every_instance_has_its_own_random_credentials() {
    let (one, two) = (sandbox(), sandbox());
    assert_ne!(one.client_id(), two.client_id());
    assert_ne!(one.client_secret(), two.client_secret());
    assert!(URL_SAFE_NO_PAD.decode(one.client_secret()).unwrap().len() >= 32);

    // A code from one sandbox means nothing to another.
    let code = code(&one).await;
    let answer = exchange(&two, &code, VERIFIER, REDIRECT).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[test]
fn a_sandbox_can_be_shared_between_tasks() {
    fn shareable<T: Send + Sync>(_: &T) {}
    fn sendable<T: Send>(_: T) {}
    let sandbox = sandbox();
    shareable(&sandbox);
    sendable(sandbox.handle(Request::new(Bytes::new())));
}
