//! The built-in sandbox as a provider like the others: `local-api` serves its authorization server
//! and API under `/sandbox/` and points these URLs at its own address; here is only what any
//! deployment needs to call it, and its normaliser.

use serde_json::Value;

use super::{name_parents, BodyEncoding, ClientAuth, Listing, ProviderSpec};
use crate::item::Item;

pub(super) static SPEC: ProviderSpec = ProviderSpec {
    name: "sandbox",
    env_prefix: "SANDBOX",
    display_name: "Sandbox",
    registration: "none: local-api registers its client itself",
    auth_url: "http://localhost:8000/sandbox/oauth/authorize",
    authorization_params: &[],
    token_url: "http://localhost:8000/sandbox/oauth/token",
    revoke_url: Some("http://localhost:8000/sandbox/oauth/revoke"),
    api_url: "http://localhost:8000/sandbox/api",
    scopes: Some("items:read"),
    client_auth: ClientAuth::Basic,
    token_body: BodyEncoding::Form,
    pkce: true,
    secret_optional: false,
    local_only: true,
    api_headers: &[],
    rate_limit: None,
    account_fields: ("account_id", "account_name"),
    settings: &[],
    // `GET /items`, page by page; no page size, so its own five a page show the cursor at work.
    listings: &[Listing {
        kind: "item",
        post: false,
        path: "/items",
        params: &[],
        page_size: None,
        cursor: Some("cursor"),
        results: "items",
        next: &["next_cursor"],
        more: None,
        children: None,
        normalise: |object, _, _| normalise(object),
        changes: None,
    }],
    names_parents: true,
};

/// A folder or document of `GET /sandbox/api/items`; anything else (or malformed) is left out.
pub fn normalise(object: &Value) -> Option<Item> {
    let kind = object["kind"]
        .as_str()
        .filter(|kind| matches!(*kind, "folder" | "document"))?;
    let text = |key: &str| match &object[key] {
        Value::Null => Some(None),
        Value::String(text) => Some(Some(text.clone())),
        _ => None,
    };
    let mut item = Item::new(object["id"].as_str()?, kind);
    item.name = text("name")?;
    item.directory = kind == "folder";
    item.parent_id = text("parent_id")?;
    item.creation_time = text("created_at")?;
    item.last_modified_time = text("updated_at")?;
    item.url = text("url")?;
    item.visibility = Some(true);
    Some(item)
}

/// A listing's objects as items, each named after its parent when the parent is listed too.
pub fn normalise_all(objects: &[Value]) -> Vec<Item> {
    let mut items: Vec<Item> = objects.iter().filter_map(normalise).collect();
    name_parents(&mut items);
    items
}

#[cfg(test)]
mod tests {
    use crate::providers::{Needs, Providers};

    #[test]
    fn the_sandbox_is_a_provider_only_with_sandbox_1() {
        let off = Providers::from_vars(&|_| None, true);
        let error = off.get("sandbox", Needs::NOTHING).unwrap_err();
        let deployable: Vec<&str> = crate::providers::deployable().map(|spec| spec.name).collect();
        assert_eq!(
            error.to_string(),
            format!(
                "Unknown provider 'sandbox'; expected one of {}",
                deployable.join(", ")
            )
        );
        let on = Providers::from_vars(&|name| (name == "SANDBOX").then(|| "1".to_owned()), true);
        assert!(on.get("sandbox", Needs::NOTHING).is_ok());
        // Deployed, it needs what every provider needs: its client and an explicit redirect URI.
        let missing = on.get("sandbox", Needs::CODE_GRANT).unwrap_err().to_string();
        assert!(
            missing.contains("SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_REDIRECT_URI"),
            "{missing}"
        );
    }
}
