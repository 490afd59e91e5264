//! What a provider is, as data: its URLs, how its client authenticates, what its API needs,
//! and how its listings page. One `static` per provider file.

use serde_json::Value;

use crate::item::Item;

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

/// One of a provider's listings, as Nango declares them: the request, where it pages, where its
/// results and next cursor are. A `GET` carries the page size and cursor in its query, a `POST`
/// in its JSON body.
pub struct Listing {
    /// What its items are (`contact`), for the normaliser.
    pub kind: &'static str,
    pub post: bool,
    /// The path under the API URL; `{parent}` is the id of the parent item (`children`).
    pub path: &'static str,
    /// Parameters every request carries.
    pub params: &'static [(&'static str, &'static str)],
    /// The page-size parameter and the largest page the provider serves.
    pub page_size: Option<(&'static str, usize)>,
    /// The cursor parameter; `None` for a listing of one page.
    pub cursor: Option<&'static str>,
    /// The answer's array of objects.
    pub results: &'static str,
    /// The path of the next page's cursor in the answer.
    pub next: &'static [&'static str],
    /// A flag without which the cursor means nothing (Notion's `has_more`).
    pub more: Option<&'static str>,
    /// Listed for each item of this one, right after it (Airtable's tables of a base).
    pub children: Option<&'static Listing>,
    /// An object of this listing (under its parent, for children) as an item; `None` leaves it out.
    pub normalise: fn(object: &Value, kind: &'static str, parent: Option<&Item>) -> Option<Item>,
    /// How a sync reads only what changed; `None`: every sync reads it all (Airtable).
    pub changes: Option<Changes>,
}

/// How a listing's changes since a time are read. Times are the items' `last_modified_time`.
pub enum Changes {
    /// The listing with these extra parameters (a JSON object) lists newest first (Notion's
    /// search sorted by `last_edited_time`): a sync reads until it passes its watermark.
    NewestFirst(&'static str),
    /// A search endpoint filtering on a modification-time `property` (HubSpot's CRM search), read
    /// oldest first from the watermark: each query starts at the last time read, so none pages
    /// past the `cap` on one query's results. Then the listing with `archived` parameters, whose
    /// items (`visibility: false`) are what was deleted.
    Search {
        path: &'static str,
        property: &'static str,
        max_page: usize,
        archived: &'static [(&'static str, &'static str)],
    },
}

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
    /// What a listing walks, one after the other.
    pub listings: &'static [Listing],
    /// Names each item's parent when the parent was listed too (Notion).
    pub names_parents: bool,
}
