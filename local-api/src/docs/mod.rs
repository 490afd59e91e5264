//! `GET /openapi.json` and the API reference at `/docs`: Swagger UI, embedded from the vendored
//! `swagger-ui-dist` files (see `swagger-ui/README.md`), so the page works offline and loads
//! nothing from elsewhere.

use std::sync::LazyLock;

use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;

/// Scripts and styles from our own files only; "Try it out" calls our own API only. Swagger UI's
/// stylesheet draws its icons from `data:` SVGs.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Built once: the document does not change while the process runs.
static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| Bytes::from(crate::openapi::json()));

/// The answer to `GET path`, if the path is the document or one of the reference's files.
pub fn serve(method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
    if method != Method::GET {
        return None;
    }
    let (content_type, body) = match path {
        "/openapi.json" => ("application/json", DOCUMENT.clone()),
        "/docs" => (
            "text/html; charset=utf-8",
            Bytes::from_static(include_bytes!("index.html")),
        ),
        "/docs/docs.js" => (
            "text/javascript; charset=utf-8",
            Bytes::from_static(include_bytes!("docs.js")),
        ),
        "/docs/swagger-ui-bundle.js" => (
            "text/javascript; charset=utf-8",
            Bytes::from_static(include_bytes!("swagger-ui/swagger-ui-bundle.js")),
        ),
        "/docs/swagger-ui.css" => (
            "text/css; charset=utf-8",
            Bytes::from_static(include_bytes!("swagger-ui/swagger-ui.css")),
        ),
        _ => return None,
    };
    Some(crate::page_file(content_type, POLICY, body))
}
