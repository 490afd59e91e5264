//! What a provider is, as data: its URLs, how its client authenticates, what its API needs,
//! and its listing. One `static` per provider file.

use futures_util::future::BoxFuture;

use super::Provider;
use crate::error::Result;
use crate::item::Item;
use crate::upstream::Api;

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)`.
    Basic,
    /// `client_id` and `client_secret` as body fields.
    RequestBody,
    /// Basic when a secret is configured, otherwise only `client_id` in the body (public clients).
    BasicIfSecret,
}

/// How the token request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    Form,
    Json,
}

/// Lists every item an access token can see, following all pages.
pub type ListFn = for<'a> fn(&'a Api<'a>, &'a Provider) -> BoxFuture<'a, Result<Vec<Item>>>;

/// The static description of a provider; URLs are defaults that the environment may override.
pub struct ProviderSpec {
    /// Path segment and key namespace: `notion`.
    pub name: &'static str,
    /// Prefix of its environment variables: `NOTION`.
    pub env_prefix: &'static str,
    pub display_name: &'static str,
    /// Where a developer registers the app whose client ID and secret this provider reads.
    pub registration: &'static str,
    pub auth_url: &'static str,
    /// Query parameters the consent URL always carries (Notion's `owner=user`), whatever
    /// `P_AUTH_URL` says.
    pub authorization_params: &'static [(&'static str, &'static str)],
    pub token_url: &'static str,
    /// The documented token revocation endpoint, if the provider has one.
    pub revoke_url: Option<&'static str>,
    pub api_url: &'static str,
    /// Default scopes (space separated); `None` when the provider takes no `scope` parameter.
    pub scopes: Option<&'static str>,
    pub client_auth: ClientAuth,
    pub token_body: BodyEncoding,
    /// RFC 7636 PKCE with S256.
    pub pkce: bool,
    /// Whether the provider can work as a public client, without a secret.
    pub secret_optional: bool,
    /// Served only by `local-api` (the sandbox): not configured by a deployment unless it sets
    /// `SANDBOX=1`, and absent from `template.yaml`.
    pub local_only: bool,
    /// Headers every API request carries: the header, and the setting whose value it sends.
    pub api_headers: &'static [(&'static str, &'static str)],
    /// Requests one listing may begin per window, below the provider's documented limit for an
    /// account: pages wait for their turn rather than run into 429s.
    pub rate_limit: Option<(usize, std::time::Duration)>,
    /// The token response's fields naming the connected account: its id, then its name.
    pub account_fields: (&'static str, &'static str),
    /// Further settings (`NOTION_VERSION`): suffix of the variable and its default.
    pub settings: &'static [(&'static str, &'static str)],
    pub list: ListFn,
}
