//! What an endpoint reads of a provider's configuration, and so which variables a deployed
//! function must be given.

use super::ProviderSpec;

/// What an endpoint reads of a provider's configuration. The first three must be set (the API
/// URLs, scopes and settings have defaults); the deployment hands a function exactly the
/// variables [`Needs::variables`] names for what it reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub client_id: bool,
    pub client_secret: bool,
    pub redirect_uri: bool,
    /// The scopes asked for (the consent URL).
    pub scopes: bool,
    /// The spec's settings (`NOTION_VERSION`), sent with calls to the provider's API.
    pub settings: bool,
}

impl Needs {
    /// Only the name: handing stored values over.
    pub const NOTHING: Needs = Needs {
        client_id: false,
        client_secret: false,
        redirect_uri: false,
        scopes: false,
        settings: false,
    };
    /// Listing with a given token.
    pub const API: Needs = Needs {
        settings: true,
        ..Needs::NOTHING
    };
    /// Sending the user to the consent page.
    pub const CONSENT: Needs = Needs {
        client_id: true,
        redirect_uri: true,
        scopes: true,
        ..Needs::NOTHING
    };
    /// Refreshing or revoking: the client authenticates.
    pub const CLIENT: Needs = Needs {
        client_id: true,
        client_secret: true,
        ..Needs::NOTHING
    };
    /// Exchanging a code: the client authenticates and repeats the redirect URI.
    pub const CODE_GRANT: Needs = Needs {
        redirect_uri: true,
        ..Needs::CLIENT
    };

    /// Both needs at once.
    pub const fn and(self, other: Needs) -> Needs {
        Needs {
            client_id: self.client_id || other.client_id,
            client_secret: self.client_secret || other.client_secret,
            redirect_uri: self.redirect_uri || other.redirect_uri,
            scopes: self.scopes || other.scopes,
            settings: self.settings || other.settings,
        }
    }

    /// The environment variables of `spec` these needs read.
    pub fn variables(self, spec: &ProviderSpec) -> Vec<String> {
        let named = [
            (self.client_id, "CLIENT_ID"),
            (self.client_secret, "CLIENT_SECRET"),
            (self.redirect_uri, "REDIRECT_URI"),
            (self.scopes && spec.scopes.is_some(), "SCOPES"),
        ];
        let settings = spec
            .settings
            .iter()
            .filter(|_| self.settings)
            .map(|(suffix, _)| *suffix);
        named
            .into_iter()
            .filter_map(|(read, suffix)| read.then_some(suffix))
            .chain(settings)
            .map(|suffix| format!("{}_{suffix}", spec.env_prefix))
            .collect()
    }
}
