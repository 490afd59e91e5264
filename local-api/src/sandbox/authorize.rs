//! The authorization endpoint (RFC 6749 §4.1.1): a consent page, and the user's answer to it.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::header::{LOCATION, REFERRER_POLICY};
use http::{HeaderValue, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use url::Url;

use super::{insert_bounded, is_form, new_secret, response, Code, Params, Sandbox};
use integrations::response::{escape_html, harden};

/// The scopes the sandbox grants, with what the consent page says about each.
const SCOPES: &[(&str, &str)] = &[("items:read", "Read the folders and documents of your workspace")];
const DEFAULT_SCOPE: &str = "items:read";
/// Lifetime of an authorization code; RFC 6749 §4.1.2 recommends at most ten minutes.
const CODE_TTL: Duration = Duration::from_secs(60);

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}\
                     code{word-break:break-all}button{font-size:1rem;margin-right:.5rem;padding:.4rem 1.2rem}";

/// `style-src` by hash: the page's one stylesheet and nothing else; no script at all.
static STYLE_SOURCE: LazyLock<String> =
    LazyLock::new(|| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(STYLE))));

/// A request that passed validation; the consent form carries it back unchanged.
struct Authorization<'a> {
    client_id: &'a str,
    redirect_uri: &'a str,
    /// `redirect_uri` parsed, for adding the response parameters.
    target: Url,
    state: &'a str,
    scope: String,
    challenge: &'a str,
}

impl Sandbox {
    pub(super) fn authorize_page(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let params = Params::parse(request.uri().query().unwrap_or_default().as_bytes());
        match self.validate(&params) {
            Ok(authorization) => consent_page(&authorization),
            Err(refusal) => *refusal,
        }
    }

    /// The consent form's submission, validated again: the page cannot vouch for what comes back.
    pub(super) fn authorize_decision(&self, request: &Request<Bytes>) -> Response<Bytes> {
        if !is_form(request) {
            return error_page("The consent form must be sent as application/x-www-form-urlencoded.");
        }
        let params = Params::parse(request.body());
        let authorization = match self.validate(&params) {
            Ok(authorization) => authorization,
            Err(refusal) => return *refusal,
        };
        match params.get("decision") {
            Some("allow") => {
                let (code, key) = new_secret();
                let issued = Code {
                    client_id: authorization.client_id.to_owned(),
                    redirect_uri: authorization.redirect_uri.to_owned(),
                    challenge: authorization.challenge.to_owned(),
                    scope: authorization.scope.clone(),
                    expires_at: Instant::now() + CODE_TTL,
                    spent: None,
                };
                insert_bounded(&mut self.state().codes, key, issued);
                redirect(
                    authorization.target,
                    &[("code", &code), ("state", authorization.state)],
                )
            }
            Some("deny") => error_redirect(
                authorization.target,
                Some(authorization.state),
                "access_denied",
                "The user denied access",
            ),
            _ => error_redirect(
                authorization.target,
                Some(authorization.state),
                "invalid_request",
                "decision must be allow or deny",
            ),
        }
    }

    /// RFC 6749 §4.1.2.1: an unknown client or redirect URI is shown to the user, never
    /// redirected to; every other fault is reported to the client at its redirect URI.
    /// `redirect_uri` is required even when only one is registered, as OAuth 2.1 has it.
    fn validate<'a>(&'a self, params: &'a Params) -> Result<Authorization<'a>, Box<Response<Bytes>>> {
        if params.is_repeated("client_id") || params.get("client_id") != Some(self.client_id.as_str()) {
            let page = error_page("This application is not registered with the sandbox (unknown client_id).");
            return Err(Box::new(page));
        }
        let redirect_uri = params
            .get("redirect_uri")
            .filter(|_| !params.is_repeated("redirect_uri"))
            .filter(|uri| {
                self.settings
                    .redirect_uris
                    .iter()
                    .any(|registered| registered == uri)
            })
            .ok_or_else(|| error_page("The redirect_uri is not registered for this application."))?;
        let target = Url::parse(redirect_uri)
            .ok()
            .filter(|url| url.fragment().is_none())
            .ok_or_else(|| {
                error_page("The registered redirect_uri is not an absolute URI without a fragment.")
            })?;

        let state = params.get("state");
        let refuse = |error: &str, description: &str| {
            Err(Box::new(error_redirect(
                target.clone(),
                state,
                error,
                description,
            )))
        };
        if let Some(name) = params.repeated.first() {
            return refuse("invalid_request", &format!("{name} is given more than once"));
        }
        if params.get("response_type") != Some("code") {
            return refuse(
                "unsupported_response_type",
                "Only response_type=code is supported",
            );
        }
        let Some(state) = state else {
            return refuse("invalid_request", "state is required");
        };
        let Some(challenge) = params.get("code_challenge") else {
            return refuse("invalid_request", "code_challenge is required (PKCE, RFC 7636)");
        };
        if params.get("code_challenge_method") != Some("S256") {
            return refuse("invalid_request", "code_challenge_method must be S256");
        }
        // S256 challenges are the base64url of a SHA-256: 43 characters.
        if challenge.len() != 43
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return refuse("invalid_request", "code_challenge is not a base64url SHA-256");
        }
        let Some(scope) = requested_scope(params.get("scope")) else {
            return refuse("invalid_scope", "The only scope is items:read");
        };
        Ok(Authorization {
            client_id: &self.client_id,
            redirect_uri,
            target,
            state,
            scope,
            challenge,
        })
    }
}

/// The requested scopes, deduplicated, when all are known; the default when none are asked for.
pub(super) fn requested_scope(scope: Option<&str>) -> Option<String> {
    let mut scopes: Vec<&str> = Vec::new();
    for scope in scope
        .unwrap_or(DEFAULT_SCOPE)
        .split(' ')
        .filter(|scope| !scope.is_empty())
    {
        if !SCOPES.iter().any(|(known, _)| *known == scope) {
            return None;
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Some(if scopes.is_empty() {
        DEFAULT_SCOPE.to_owned()
    } else {
        scopes.join(" ")
    })
}

fn consent_page(authorization: &Authorization) -> Response<Bytes> {
    let scopes: String = authorization
        .scope
        .split(' ')
        .map(|scope| {
            let what = SCOPES
                .iter()
                .find(|(known, _)| *known == scope)
                .map_or("", |(_, what)| *what);
            format!(
                "<li><code>{}</code>: {}</li>",
                escape_html(scope),
                escape_html(what)
            )
        })
        .collect();
    let hidden: String = [
        ("response_type", "code"),
        ("client_id", authorization.client_id),
        ("redirect_uri", authorization.redirect_uri),
        ("state", authorization.state),
        ("scope", &authorization.scope),
        ("code_challenge", authorization.challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape_html(value)
        )
    })
    .collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandbox: allow access?</title>\
         <style>{STYLE}</style></head><body><main><h1>Sandbox workspace</h1>\
         <p>The application <code>{client}</code> asks to:</p><ul>{scopes}</ul>\
         <p>Your answer goes back to <code>{redirect}</code>.</p>\
         <form method=\"post\" action=\"/sandbox/oauth/authorize\">{hidden}\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form></main></body></html>",
        client = escape_html(authorization.client_id),
        redirect = escape_html(authorization.redirect_uri),
    );
    // Chromium applies form-action to the redirect that follows the POST, so the client's
    // origin must be allowed besides our own.
    html_response(
        StatusCode::OK,
        html,
        &format!("'self' {}", source(&authorization.target)),
    )
}

/// The CSP source for a URL's origin; a custom scheme (`com.example.app:/cb`) has only its scheme.
fn source(url: &Url) -> String {
    let origin = url.origin();
    if origin.is_tuple() {
        origin.ascii_serialization()
    } else {
        format!("{}:", url.scheme())
    }
}

fn error_page(message: &str) -> Response<Bytes> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandbox: request refused</title>\
         <style>{STYLE}</style></head><body><main><h1>Request refused</h1><p>{}</p></main></body></html>",
        escape_html(message)
    );
    html_response(StatusCode::BAD_REQUEST, html, "'none'")
}

/// A page that loads and runs nothing, cannot be framed and leaks no URL (it carries a state).
fn html_response(status: StatusCode, html: String, form_action: &str) -> Response<Bytes> {
    let mut response = response(status, "", html);
    let policy = format!(
        "default-src 'none'; style-src {}; base-uri 'none'; form-action {form_action}; frame-ancestors 'none'",
        *STYLE_SOURCE
    );
    harden(
        response.headers_mut(),
        "text/html; charset=utf-8",
        &policy,
        "no-store",
    );
    response
}

fn redirect(mut target: Url, params: &[(&str, &str)]) -> Response<Bytes> {
    target.query_pairs_mut().extend_pairs(params);
    let mut response = response(StatusCode::SEE_OTHER, "", Bytes::new());
    let headers = response.headers_mut();
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(location) = HeaderValue::from_str(target.as_str()) {
        headers.insert(LOCATION, location);
    }
    response
}

fn error_redirect(target: Url, state: Option<&str>, error: &str, description: &str) -> Response<Bytes> {
    let mut params = vec![("error", error), ("error_description", description)];
    params.extend(state.map(|state| ("state", state)));
    redirect(target, &params)
}
