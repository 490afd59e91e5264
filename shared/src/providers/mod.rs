//! Providers as data: how each one authorises, exchanges codes and lists its items.
//!
//! A provider is its [`ProviderSpec`] and its listing, in one file of this folder, plus one line
//! in [`PROVIDERS`]; the OAuth flow, the HTTP plumbing and the handlers are shared. (Deployed, it
//! also needs its parameter block in `template.yaml`; the README lists every place.)

pub mod airtable;
pub mod hubspot;
pub mod listing;
mod needs;
pub mod notion;
pub mod sandbox;
mod spec;

pub use needs::Needs;
pub use spec::{BodyEncoding, Changes, ClientAuth, Listing, ProviderSpec};

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::item::Item;
use crate::upstream::{Api, RateLimit};

/// Every provider the service knows, by the name used in `/integrations/{provider}/...`.
pub static PROVIDERS: &[&ProviderSpec] = &[&notion::SPEC, &hubspot::SPEC, &airtable::SPEC, &sandbox::SPEC];

/// The providers a deployment configures (and `template.yaml` declares).
pub fn deployable() -> impl Iterator<Item = &'static ProviderSpec> {
    PROVIDERS.iter().copied().filter(|spec| !spec.local_only)
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
    pub revoke_url: Option<String>,
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
            .field("revoke_url", &self.revoke_url)
            .field("api_url", &self.api_url)
            .finish()
    }
}

impl Provider {
    /// Reads `P_CLIENT_ID`, `P_CLIENT_SECRET`, `P_REDIRECT_URI`, `P_AUTH_URL`, `P_TOKEN_URL`,
    /// `P_REVOKE_URL`, `P_API_URL`, `P_SCOPES` and the spec's own settings through `var`.
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
            revoke_url: get("REVOKE_URL").or_else(|| spec.revoke_url.map(str::to_owned)),
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

    /// Its API as `token` reaches it: the spec's headers and rate limit on every request.
    pub fn api<'a>(&'a self, http: &'a reqwest::Client, token: &'a str) -> Api<'a> {
        let headers = self
            .spec
            .api_headers
            .iter()
            .map(|(header, setting)| (*header, self.setting(setting)))
            .collect();
        let limit = self
            .spec
            .rate_limit
            .map(|(max, window)| RateLimit::new(max, window));
        Api::new(http, &self.api_url, self.spec.display_name, token)
            .with_headers(headers)
            .with_rate_limit(limit)
    }

    /// A setting declared in the spec; declared settings always have a value.
    pub fn setting(&self, suffix: &str) -> &str {
        self.settings.get(suffix).map(String::as_str).unwrap_or_default()
    }

    /// The variables this provider still lacks for what an endpoint does with it. Deployed
    /// (`deployed`), the localhost default redirect URI is not good enough.
    pub fn missing(&self, needs: Needs, deployed: bool) -> Vec<String> {
        let unmet = Needs {
            client_id: needs.client_id && self.client_id.is_none(),
            client_secret: needs.client_secret && self.client_secret.is_none() && !self.spec.secret_optional,
            redirect_uri: needs.redirect_uri && deployed && !self.redirect_uri_configured,
            ..Needs::NOTHING
        };
        unmet.variables(self.spec)
    }
}

/// Every provider, configured once per process.
#[derive(Debug, Clone)]
pub struct Providers {
    list: Vec<Provider>,
    /// Set on Lambda: a provider without an explicit `P_REDIRECT_URI` cannot connect anyone.
    deployed: bool,
}

impl Providers {
    /// Every provider but the sandbox, which is one only with `SANDBOX=1`: `local-api` sets it,
    /// where it serves the sandbox; a deployment has no sandbox unless it asks for one.
    pub fn from_vars(var: &impl Fn(&str) -> Option<String>, deployed: bool) -> Self {
        let sandbox = var("SANDBOX").as_deref() == Some("1");
        Providers {
            list: PROVIDERS
                .iter()
                .filter(|spec| sandbox || !spec.local_only)
                .map(|spec| Provider::from_vars(spec, var))
                .collect(),
            deployed,
        }
    }

    /// The provider named in the path, if it has what `needs` asks for.
    pub fn get(&self, name: &str, needs: Needs) -> Result<&Provider> {
        let provider = self
            .list
            .iter()
            .find(|provider| provider.name() == name)
            .ok_or_else(|| Error::UnknownProvider {
                name: name.chars().take(64).collect(),
                known: self
                    .list
                    .iter()
                    .map(Provider::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let missing = provider.missing(needs, self.deployed);
        if missing.is_empty() {
            Ok(provider)
        } else {
            Err(Error::ProviderNotConfigured {
                provider: provider.spec.display_name,
                missing,
            })
        }
    }

    /// Deployed, a provider's redirect URI must be configured: the default points at localhost.
    pub fn set_deployed(&mut self) {
        self.deployed = true;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.list.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Provider> {
        self.list.iter_mut()
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

/// Provider-shaped JSON for the normalisers' property tests.
#[cfg(test)]
pub(crate) mod arbitrary {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    /// JSON shaped like provider objects: known keys, any values, nested.
    pub(crate) fn provider_json() -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(vec![
            "object",
            "id",
            "type",
            "title",
            "plain_text",
            "text",
            "content",
            "properties",
            "parent",
            "page_id",
            "database_id",
            "data_source_id",
            "workspace",
            "url",
            "created_time",
            "last_edited_time",
            "archived",
            "in_trash",
            "name",
            "firstname",
            "lastname",
            "email",
            "dealname",
            "createdAt",
            "updatedAt",
            "page",
            "database",
            "data_source",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(vec![
                "page",
                "database",
                "data_source",
                "title",
                "page_id",
                "workspace",
                ""
            ])
            .prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..8).prop_map(|pairs| Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>()
                )),
            ]
        })
    }
}
