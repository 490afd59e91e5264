//! Providers as data: how each one authorises, exchanges codes and lists its items.
//!
//! Adding a provider is one file in this folder (its [`ProviderSpec`] and its listing) plus
//! one line in [`PROVIDERS`]; the OAuth flow, the HTTP plumbing and the handlers are shared.

pub mod airtable;
pub mod hubspot;
pub mod notion;

use std::collections::HashMap;

use futures_util::future::BoxFuture;

use crate::error::Result;
use crate::item::Item;
use crate::upstream::Api;

/// Every provider the service knows, by the name used in `/integrations/{provider}/...`.
pub static PROVIDERS: &[&ProviderSpec] = &[&notion::SPEC, &hubspot::SPEC, &airtable::SPEC];

pub fn find(name: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS.iter().copied().find(|spec| spec.name == name)
}

pub fn names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|spec| spec.name).collect()
}

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
pub type ListFn = for<'a> fn(&'a Api<'a>) -> BoxFuture<'a, Result<Vec<Item>>>;

/// The static description of a provider; URLs are defaults that the environment may override.
pub struct ProviderSpec {
    /// Path segment and key namespace: `notion`.
    pub name: &'static str,
    /// Prefix of its environment variables: `NOTION`.
    pub env_prefix: &'static str,
    pub display_name: &'static str,
    pub auth_url: &'static str,
    pub token_url: &'static str,
    pub api_url: &'static str,
    /// Default scopes (space separated); `None` when the provider takes no `scope` parameter.
    pub scopes: Option<&'static str>,
    pub client_auth: ClientAuth,
    pub token_body: BodyEncoding,
    /// RFC 7636 PKCE with S256.
    pub pkce: bool,
    /// Whether the provider can work as a public client, without a secret.
    pub secret_optional: bool,
    /// Further settings (`NOTION_VERSION`): suffix of the variable and its default.
    pub settings: &'static [(&'static str, &'static str)],
    pub list: ListFn,
}

/// A provider with the configuration read from the environment.
#[derive(Clone)]
pub struct Provider {
    pub spec: &'static ProviderSpec,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    /// Whether `redirect_uri` came from the environment rather than the local default.
    pub redirect_uri_configured: bool,
    pub auth_url: String,
    pub token_url: String,
    pub api_url: String,
    pub scopes: Option<String>,
    settings: HashMap<&'static str, String>,
}

impl std::fmt::Debug for Provider {
    // Hand-written so that the client secret never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.spec.name)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .finish()
    }
}

impl Provider {
    /// Reads `P_CLIENT_ID`, `P_CLIENT_SECRET`, `P_REDIRECT_URI`, `P_AUTH_URL`, `P_TOKEN_URL`,
    /// `P_API_URL`, `P_SCOPES` and the spec's own settings through `var`.
    pub fn from_vars(spec: &'static ProviderSpec, var: &impl Fn(&str) -> Option<String>) -> Self {
        let get = |suffix: &str| var(&format!("{}_{suffix}", spec.env_prefix));
        let url = |suffix: &str, default: &str| {
            get(suffix)
                .map(|value| value.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| default.to_owned())
        };
        let redirect_uri = get("REDIRECT_URI");
        Provider {
            spec,
            client_id: get("CLIENT_ID"),
            client_secret: get("CLIENT_SECRET"),
            redirect_uri_configured: redirect_uri.is_some(),
            redirect_uri: redirect_uri.unwrap_or_else(|| {
                format!("http://localhost:8000/integrations/{}/oauth2callback", spec.name)
            }),
            auth_url: url("AUTH_URL", spec.auth_url),
            token_url: url("TOKEN_URL", spec.token_url),
            api_url: url("API_URL", spec.api_url),
            scopes: spec
                .scopes
                .map(|default| get("SCOPES").unwrap_or_else(|| default.to_owned())),
            settings: spec
                .settings
                .iter()
                .map(|&(suffix, default)| (suffix, get(suffix).unwrap_or_else(|| default.into())))
                .collect(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// A setting declared in the spec; declared settings always have a value.
    pub fn setting(&self, suffix: &str) -> &str {
        self.settings.get(suffix).map(String::as_str).unwrap_or_default()
    }

    /// The variables this provider still needs before it can connect anyone. Deployed
    /// (`redirect_uri_required`), the localhost default redirect URI is not good enough.
    pub fn missing_settings(&self, redirect_uri_required: bool) -> Vec<String> {
        let mut missing = Vec::new();
        if self.client_id.is_none() {
            missing.push(format!("{}_CLIENT_ID", self.spec.env_prefix));
        }
        if self.client_secret.is_none() && !self.spec.secret_optional {
            missing.push(format!("{}_CLIENT_SECRET", self.spec.env_prefix));
        }
        if redirect_uri_required && !self.redirect_uri_configured {
            missing.push(format!("{}_REDIRECT_URI", self.spec.env_prefix));
        }
        missing
    }
}

/// Fills `parent_path_or_name` from the names of parents found in the same listing.
pub(crate) fn name_parents(items: &mut [Item]) {
    let names: HashMap<String, String> = items
        .iter()
        .filter_map(|item| Some((item.id.clone()?, item.name.clone()?)))
        .collect();
    for item in items.iter_mut() {
        if item.parent_path_or_name.is_none() {
            if let Some(name) = item.parent_id.as_ref().and_then(|id| names.get(id)) {
                item.parent_path_or_name = Some(name.clone());
            }
        }
    }
}
