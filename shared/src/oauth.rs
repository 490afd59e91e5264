//! The OAuth 2.0 authorization-code flow, written once for every provider.
//!
//! `oauth2` makes the state and the PKCE pair. The exchange is ours: Notion wants a JSON body,
//! clients expect the token response exactly as the provider sent it (Notion's `workspace_id`,
//! `owner`...), and the provider's HTTP status decides our answer; `oauth2` does none of these.

use std::collections::BTreeMap;

use oauth2::{CsrfToken, PkceCodeChallenge};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, Result};
use crate::providers::{BodyEncoding, ClientAuth, Provider};
use crate::upstream::provider_message;

/// What an OAuth state stands for until the provider redirects back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    pub provider: String,
    pub user_id: String,
    pub org_id: String,
    /// The PKCE verifier, for providers that use PKCE.
    pub code_verifier: Option<String>,
}

/// The token response as the provider returned it.
pub type TokenResponse = Map<String, Value>;

/// A new consent request: the secret `state`, the PKCE verifier if any, and the consent URL.
pub struct Authorization {
    pub state: String,
    pub code_verifier: Option<String>,
    pub url: String,
}

/// 256 bits from the OS-seeded CSPRNG behind `oauth2`.
const STATE_BYTES: u32 = 32;

pub fn authorize(provider: &Provider) -> Result<Authorization> {
    let state = CsrfToken::new_random_len(STATE_BYTES).secret().clone();
    let pkce = provider.spec.pkce.then(PkceCodeChallenge::new_random_sha256);
    let mut params = vec![
        ("client_id", provider.client_id.clone().unwrap_or_default()),
        ("redirect_uri", provider.redirect_uri.clone()),
        ("response_type", "code".to_owned()),
        ("state", state.clone()),
    ];
    if let Some(scopes) = &provider.scopes {
        params.push(("scope", scopes.clone()));
    }
    if let Some((challenge, _)) = &pkce {
        params.push(("code_challenge", challenge.as_str().to_owned()));
        params.push(("code_challenge_method", challenge.method().to_string()));
    }
    let url = merge_query(&provider.auth_url, &params).map_err(|_| Error::ProviderNotConfigured {
        provider: provider.name(),
        missing: vec![format!("a valid {}_AUTH_URL", provider.spec.env_prefix)],
    })?;
    Ok(Authorization {
        state,
        code_verifier: pkce.map(|(_, verifier)| verifier.secret().clone()),
        url,
    })
}

/// Adds `params` to a URL that may carry a query already; ours replace any of the same name.
fn merge_query(base: &str, params: &[(&str, String)]) -> Result<String, url::ParseError> {
    let mut url = Url::parse(base)?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !params.iter().any(|(ours, _)| name == ours))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(params.iter().map(|(name, value)| (name, value)));
    Ok(url.into())
}

/// Trades the authorization code for tokens, as the provider's documentation says to.
pub async fn exchange_code(
    http: &reqwest::Client,
    provider: &Provider,
    code: &str,
    code_verifier: Option<&str>,
) -> Result<TokenResponse> {
    let name = provider.spec.display_name;
    let client_id = provider.client_id.as_deref().unwrap_or_default();
    let secret = provider.client_secret.as_deref();
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &provider.redirect_uri),
    ];
    if let Some(verifier) = code_verifier {
        fields.push(("code_verifier", verifier));
    }
    let basic = match (provider.spec.client_auth, secret) {
        (ClientAuth::Basic, _) | (ClientAuth::BasicIfSecret, Some(_)) => true,
        (ClientAuth::RequestBody, _) | (ClientAuth::BasicIfSecret, None) => false,
    };
    if !basic {
        fields.push(("client_id", client_id));
        if let Some(secret) = secret {
            fields.push(("client_secret", secret));
        }
    }
    let mut request = http
        .post(&provider.token_url)
        .header(reqwest::header::ACCEPT, "application/json");
    if basic {
        request = request.basic_auth(client_id, secret);
    }
    request = match provider.spec.token_body {
        BodyEncoding::Form => request.form(&fields),
        BodyEncoding::Json => request.json(&fields.iter().copied().collect::<BTreeMap<_, _>>()),
    };
    let response = request.send().await.map_err(|error| {
        if error.is_timeout() {
            Error::ProviderTimeout { provider: name }
        } else {
            Error::ProviderFailed {
                provider: name,
                reason: format!("token endpoint unreachable: {}", error.without_url()),
            }
        }
    })?;
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    if !status.is_success() {
        let reason = provider_message(status, &body);
        return Err(match status {
            StatusCode::UNAUTHORIZED => Error::ProviderUnauthorized {
                provider: name,
                reason,
            },
            status if status.is_client_error() => Error::ProviderRejected {
                provider: name,
                reason,
            },
            _ => Error::ProviderFailed {
                provider: name,
                reason,
            },
        });
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(tokens)) if tokens.get("access_token").is_some_and(Value::is_string) => Ok(tokens),
        _ => Err(Error::ProviderFailed {
            provider: name,
            reason: "the token endpoint answered without an access_token".into(),
        }),
    }
}
