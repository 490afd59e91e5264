//! The OAuth 2.0 authorization-code flow, written once for every provider.
//!
//! `oauth2` makes the state and the PKCE pair. Token requests are ours: Notion wants a JSON body,
//! clients expect the token response exactly as the provider sent it (Notion's `workspace_id`,
//! `owner`...), and the provider's HTTP status decides our answer; `oauth2` does none of these.

use std::collections::BTreeMap;

use oauth2::{CsrfToken, PkceCodeChallenge};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::clock;
use crate::error::{Error, Result};
use crate::providers::{BodyEncoding, ClientAuth, Provider};
use crate::tokens::TokenSet;
use crate::upstream::{self, Endpoint};

/// What an OAuth state stands for until the provider redirects back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    pub provider: String,
    pub user_id: String,
    pub org_id: String,
    /// The PKCE verifier, for providers that use PKCE.
    pub code_verifier: Option<String>,
    /// Where the connect session that started the consent is kept: the callback consumes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

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
    let mut params: Vec<(&str, String)> = provider
        .spec
        .authorization_params
        .iter()
        .map(|&(name, value)| (name, value.to_owned()))
        .collect();
    params.extend([
        ("client_id", provider.client_id.clone().unwrap_or_default()),
        ("redirect_uri", provider.redirect_uri.clone()),
        ("response_type", "code".to_owned()),
        ("state", state.clone()),
    ]);
    if let Some(scopes) = &provider.scopes {
        params.push(("scope", scopes.clone()));
    }
    if let Some((challenge, _)) = &pkce {
        params.push(("code_challenge", challenge.as_str().to_owned()));
        params.push(("code_challenge_method", challenge.method().to_string()));
    }
    let url = merge_query(&provider.auth_url, &params).map_err(|_| Error::ProviderNotConfigured {
        provider: provider.spec.display_name,
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

/// What the client trades at the token endpoint.
pub enum Grant<'a> {
    AuthorizationCode {
        code: &'a str,
        code_verifier: Option<&'a str>,
    },
    RefreshToken(&'a str),
}

/// Asks the provider's token endpoint for tokens, as its documentation says to.
pub async fn request_tokens(
    http: &reqwest::Client,
    provider: &Provider,
    grant: Grant<'_>,
) -> Result<TokenSet> {
    let mut fields = match grant {
        Grant::AuthorizationCode { code, code_verifier } => {
            let mut fields = vec![
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", provider.redirect_uri.as_str()),
            ];
            if let Some(verifier) = code_verifier {
                fields.push(("code_verifier", verifier));
            }
            fields
        }
        Grant::RefreshToken(refresh_token) => {
            vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)]
        }
    };
    let body = post_as_client(http, provider, &provider.token_url, &mut fields).await?;
    let name = provider.spec.display_name;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(raw)) => TokenSet::from_response(raw, clock::now()),
        _ => None,
    }
    .ok_or_else(|| Error::ProviderFailed {
        provider: name,
        reason: "the token endpoint answered without an access_token".into(),
    })
}

/// Posts `fields` to one of the provider's OAuth endpoints, authenticated as the client the way
/// the provider documents (`ClientAuth`, `BodyEncoding`); the body of a success, or our error.
async fn post_as_client<'a>(
    http: &reqwest::Client,
    provider: &'a Provider,
    url: &str,
    fields: &mut Vec<(&'a str, &'a str)>,
) -> Result<bytes::Bytes> {
    let name = provider.spec.display_name;
    let client_id = provider.client_id.as_deref().unwrap_or_default();
    let secret = provider.client_secret.as_deref();
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
    let mut request = http.post(url).header(reqwest::header::ACCEPT, "application/json");
    if basic {
        request = request.basic_auth(client_id, secret);
    }
    request = match provider.spec.token_body {
        BodyEncoding::Form => request.form(&fields),
        BodyEncoding::Json => request.json(&fields.iter().copied().collect::<BTreeMap<_, _>>()),
    };
    let response = request
        .send()
        .await
        .map_err(|error| upstream::unreachable(name, error))?;
    let status = response.status();
    let retry_after = upstream::retry_after(&response);
    let body = response.bytes().await.unwrap_or_default();
    if status.is_success() {
        Ok(body)
    } else {
        Err(upstream::failure(
            name,
            Endpoint::Token,
            status,
            retry_after,
            &body,
        ))
    }
}

/// Revokes a token where the provider documents how; `Ok(false)` where it does not.
pub async fn revoke(http: &reqwest::Client, provider: &Provider, token: &str) -> Result<bool> {
    let Some(url) = provider.revoke_url.as_deref() else {
        return Ok(false);
    };
    post_as_client(http, provider, url, &mut vec![("token", token)]).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_query_keeps_the_configured_query_and_replaces_ours() {
        let params = [("state", "s".to_owned()), ("client_id", "c".to_owned())];
        let url = merge_query("https://p.example/auth?prompt=consent&state=old", &params).unwrap();
        assert_eq!(url, "https://p.example/auth?prompt=consent&state=s&client_id=c");
        assert!(merge_query("not a url", &params).is_err());
    }
}
