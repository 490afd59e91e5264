//! Airtable: bases and their tables through the metadata API.

use std::time::Duration;

use serde_json::Value;

use super::{BodyEncoding, ClientAuth, Listing, ProviderSpec};
use crate::item::Item;

pub(super) static SPEC: ProviderSpec = ProviderSpec {
    name: "airtable",
    env_prefix: "AIRTABLE",
    display_name: "Airtable",
    registration: "https://airtable.com/create/oauth",
    auth_url: "https://airtable.com/oauth2/v1/authorize",
    authorization_params: &[],
    token_url: "https://airtable.com/oauth2/v1/token",
    // Airtable documents no revocation endpoint: a disconnect only forgets the tokens.
    revoke_url: None,
    api_url: "https://api.airtable.com",
    scopes: Some("data.records:read schema.bases:read"),
    client_auth: ClientAuth::BasicIfSecret,
    token_body: BodyEncoding::Form,
    pkce: true,
    secret_optional: true,
    local_only: false,
    api_headers: &[],
    // 50 requests a second for all of a user's traffic; 40 leaves room for the rest. (Each base,
    // limited to 5 a second, gets one request per listing.)
    rate_limit: Some((40, Duration::from_secs(1))),
    account_fields: ("account_id", "account_name"),
    settings: &[],
    listings: &[Listing {
        kind: "base",
        post: false,
        path: "/v0/meta/bases",
        params: &[],
        page_size: None,
        cursor: Some("offset"),
        results: "bases",
        next: &["offset"],
        more: None,
        // Each base's tables, right after it, in one page (the endpoint does not page).
        children: Some(&Listing {
            kind: "table",
            post: false,
            path: "/v0/meta/bases/{parent}/tables",
            params: &[],
            page_size: None,
            cursor: None,
            results: "tables",
            next: &[],
            more: None,
            children: None,
            normalise: |table, _, base| base.and_then(|base| normalise_table(base, table)),
            changes: None,
        }),
        normalise: |base, _, _| normalise_base(base),
        // Bases and tables carry no modification time: each sync reads them all (they are few).
        changes: None,
    }],
    names_parents: false,
};

/// The items of the bases `/v0/meta/bases` listed. Public, as [`table_items`], only for
/// `benches/perf.rs`, which times the normalisers without HTTP.
#[doc(hidden)]
pub fn base_items(bases: &[Value]) -> Vec<Item> {
    bases.iter().filter_map(normalise_base).collect()
}

/// The items of one base's tables.
#[doc(hidden)]
pub fn table_items(base: &Item, tables: &[Value]) -> Vec<Item> {
    tables
        .iter()
        .filter_map(|table| normalise_table(base, table))
        .collect()
}

fn normalise_base(base: &Value) -> Option<Item> {
    // The id goes into a request path: accept only what Airtable issues (`app` + alphanumerics).
    let id = base["id"]
        .as_str()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))?;
    let mut item = Item::new(id, "base");
    item.name = base["name"].as_str().map(str::to_owned);
    item.directory = true;
    item.url = Some(format!("https://airtable.com/{id}"));
    Some(item)
}

fn normalise_table(base: &Item, table: &Value) -> Option<Item> {
    let id = table["id"].as_str()?;
    let base_id = base.id.as_deref()?;
    let mut item = Item::new(id, "table");
    item.name = table["name"].as_str().map(str::to_owned);
    item.parent_id = Some(base_id.to_owned());
    item.parent_path_or_name = base.name.clone();
    item.url = Some(format!("https://airtable.com/{base_id}/{id}"));
    Some(item)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::providers::arbitrary::provider_json;

    #[test]
    fn tables_hang_under_their_base() {
        let base = normalise_base(&json!({"id": "appA1", "name": "CRM"})).unwrap();
        assert_eq!(
            (base.directory, base.url.as_deref()),
            (true, Some("https://airtable.com/appA1"))
        );
        let table = normalise_table(&base, &json!({"id": "tblB2", "name": "Leads"})).unwrap();
        assert_eq!(table.parent_id.as_deref(), Some("appA1"));
        assert_eq!(table.parent_path_or_name.as_deref(), Some("CRM"));
        assert_eq!(table.url.as_deref(), Some("https://airtable.com/appA1/tblB2"));
        assert!(
            normalise_base(&json!({"id": "app/../x"})).is_none(),
            "ids go into request paths"
        );
    }

    proptest! {
        #[test]
        fn only_path_safe_base_ids_and_tables_keep_their_base(object in provider_json()) {
            if let Some(base) = normalise_base(&object) {
                prop_assert!(base.id.as_deref().is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())));
                prop_assert_eq!(base.id.as_deref(), object["id"].as_str());
            }
            let base = Item::new("appX", "base");
            if let Some(table) = normalise_table(&base, &object) {
                prop_assert_eq!(table.id.as_deref(), object["id"].as_str());
                prop_assert_eq!(table.parent_id.as_deref(), Some("appX"));
            }
        }
    }
}
