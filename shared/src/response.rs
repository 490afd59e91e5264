//! Every response the handlers send, and the one place an [`Error`] becomes one.

use std::sync::LazyLock;

use base64::Engine;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::Body;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;

pub type Response = http::Response<Body>;

/// The body of every JSON error, as the original service's clients read it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Detail {
    pub detail: String,
}

pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The headers of every page this service serves (the callback, the demo, the docs, the
/// sandbox's consent): its content type, a content security policy, no sniffing, no referrer
/// (a page's URL may carry a code or a state), and how it may be cached.
pub fn harden(headers: &mut HeaderMap, content_type: &'static str, policy: &str, cache: &'static str) {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(policy) = HeaderValue::from_str(policy) {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
}

/// HTML for the OAuth popup: never cached, never leaking its URL (it carried the code).
pub fn html_response(status: StatusCode, html: &str) -> Response {
    let mut response = Response::new(Body::Text(html.to_owned()));
    *response.status_mut() = status;
    harden(
        response.headers_mut(),
        "text/html; charset=utf-8",
        &CALLBACK_CSP,
        "no-store",
    );
    response
}

const CLOSE_SCRIPT: &str = "window.close();";
/// Tells the page that opened the popup why it failed, so that it can say so too. Only the
/// reason, already shown on the page, goes out: any opener may read it.
const FAILURE_SCRIPT: &str =
    "window.opener&&window.opener.postMessage({oauth_error:document.getElementById('reason').textContent},'*');";

/// Nothing may load or run but the page's own script, allowed by its hash.
static CALLBACK_CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = |script: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
    format!(
        "default-src 'none'; script-src 'sha256-{}' 'sha256-{}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(CLOSE_SCRIPT),
        hash(FAILURE_SCRIPT)
    )
});

/// The page the provider's redirect lands on: it closes the popup, or says why it cannot.
pub fn callback_page(error: Option<&str>) -> String {
    match error {
        None => format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Connected</title></head>\
             <body><p>Connected. You can close this window.</p><script>{CLOSE_SCRIPT}</script></body></html>"
        ),
        Some(message) => format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Connection failed</title></head>\
             <body><h1>Connection failed</h1><p id=\"reason\">{}</p><script>{FAILURE_SCRIPT}</script></body></html>",
            escape_html(message)
        ),
    }
}

pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// How a function answers its errors: JSON `{"detail"}` for API clients, a page for the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    Json,
    Html,
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::RouteNotFound
            | Error::UnknownProvider { .. }
            | Error::CredentialsNotFound
            | Error::ConnectionNotFound => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::NeedsReauthorization { .. } | Error::ConnectionChanging => StatusCode::CONFLICT,
            Error::ProviderNotConfigured { .. }
            | Error::StoreUnavailable(_)
            | Error::NotConfigured { .. }
            | Error::RefreshInProgress
            | Error::NoTimeToRefresh
            | Error::Unreadable
            | Error::ProviderThrottled { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::MalformedBody(_)
            | Error::MalformedCredentials
            | Error::InvalidCallback(_)
            | Error::ProviderRejected { .. }
            | Error::GrantRefused { .. } => StatusCode::BAD_REQUEST,
            Error::ProviderForbidden { .. } | Error::OriginNotAllowed | Error::SessionForbidden(_) => {
                StatusCode::FORBIDDEN
            }
            Error::MissingField(_) | Error::InvalidField { .. } | Error::NotUtf8(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::PayloadTooLarge(_) | Error::ListingTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unauthorized | Error::ProviderUnauthorized { .. } | Error::SessionInvalid => {
                StatusCode::UNAUTHORIZED
            }
            Error::ProviderFailed { .. } | Error::ClientMisconfigured { .. } => StatusCode::BAD_GATEWAY,
            Error::ProviderTimeout { .. } | Error::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// `{"detail": "..."}` with the error's status (what the original service's clients read), or the
/// callback's error page: the popup shows the reason instead of closing.
pub fn error(error: &Error, format: ErrorFormat) -> Response {
    let mut response = match format {
        ErrorFormat::Json => json_response(
            error.status(),
            &Detail {
                detail: error.to_string(),
            },
        ),
        ErrorFormat::Html => html_response(error.status(), &callback_page(Some(&error.to_string()))),
    };
    // A throttled provider's own wait, passed on so that clients back off as long as it asked.
    if let Error::ProviderThrottled {
        retry_after: Some(seconds),
        ..
    } = error
    {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(*seconds));
    }
    response
}
