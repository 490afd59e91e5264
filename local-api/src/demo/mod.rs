//! The demo page at `/`: HTML, CSS and a little JavaScript, embedded, with no build step. It drives
//! the public API as any browser app would; only `/demo/providers` is its own.

use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use integrations::providers::{Needs, Providers};
use integrations::Error;
use serde_json::json;

/// Scripts and styles from our own files only, calls to our own API only, never framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The demo's answer to `GET path`, if the path is one of its own.
pub fn serve(method: &Method, path: &str, providers: &Providers) -> Option<Response<Full<Bytes>>> {
    if method != Method::GET {
        return None;
    }
    let (content_type, body) = match path {
        "/" => ("text/html; charset=utf-8", include_str!("index.html").into()),
        "/demo.js" => ("text/javascript; charset=utf-8", include_str!("demo.js").into()),
        "/demo.css" => ("text/css; charset=utf-8", include_str!("demo.css").into()),
        "/demo/providers" => ("application/json", Bytes::from(states(providers).to_string())),
        _ => return None,
    };
    Some(crate::page_file(content_type, POLICY, body))
}

/// Each provider, and whether it can connect someone now or which variables it still needs.
fn states(providers: &Providers) -> serde_json::Value {
    providers
        .iter()
        .map(|provider| {
            let missing = match providers.get(provider.name(), Needs::CODE_GRANT) {
                Err(Error::ProviderNotConfigured { missing, .. }) => missing,
                _ => Vec::new(),
            };
            json!({
                "name": provider.name(),
                "display_name": provider.spec.display_name,
                "ready": missing.is_empty(),
                "missing": missing,
            })
        })
        .collect()
}
