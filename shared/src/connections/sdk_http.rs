//! The AWS SDK's HTTP client over the process's one `reqwest` client: a DynamoDB function links
//! one HTTP and TLS stack (reqwest's, rustls on ring), not reqwest's and the SDK's own, and
//! shares its connection pool.
//!
//! A request may take the SDK's attempt timeout, not the client's own (the providers' HTTP
//! timeout): the SDK's timeouts, not reqwest's, decide when DynamoDB is slow. The client's
//! connect timeout stands.

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// `http` as the SDK's HTTP client, each request allowed `attempt` (the SDK's attempt timeout).
pub fn client(http: reqwest::Client, attempt: Duration) -> SharedHttpClient {
    let connector = SharedHttpConnector::new(Connector { http, attempt });
    http_client_fn(move |_, _| connector.clone())
}

#[derive(Debug, Clone)]
struct Connector {
    http: reqwest::Client,
    attempt: Duration,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Connector { http, attempt } = self.clone();
        HttpConnectorFuture::new(async move { send(&http, attempt, request).await })
    }
}

async fn send(
    http: &reqwest::Client,
    attempt: Duration,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let other = |error: &str| ConnectorError::other(error.to_owned().into(), None);
    let method = reqwest::Method::from_bytes(request.method().as_bytes())
        .map_err(|_| other("an HTTP method reqwest does not know"))?;
    // DynamoDB's requests are JSON documents in memory; nothing here streams.
    let body = request
        .body()
        .bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| other("a streaming request body"))?;
    let mut outgoing = http.request(method, request.uri()).timeout(attempt).body(body);
    for (name, value) in request.headers() {
        outgoing = outgoing.header(name, value);
    }
    let response = outgoing.send().await.map_err(failed)?;
    let status =
        StatusCode::try_from(response.status().as_u16()).map_err(|_| other("an HTTP status out of range"))?;
    let headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(failed)?;
    let mut answer = HttpResponse::new(status, SdkBody::from(bytes));
    for (name, value) in &headers {
        if let Ok(value) = value.to_str() {
            answer
                .headers_mut()
                .append(name.as_str().to_owned(), value.to_owned());
        }
    }
    Ok(answer)
}

/// Timeouts as timeouts and the rest as I/O, so the SDK retries what it would retry of its own.
fn failed(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else {
        ConnectorError::io(error.into())
    }
}
