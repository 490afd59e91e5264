//! Notion: pages and databases (data sources from API version 2025-09-03) through `/v1/search`.

use serde_json::Value;

use super::{name_parents, BodyEncoding, Changes, ClientAuth, Listing, ProviderSpec};
use crate::item::Item;

pub(super) static SPEC: ProviderSpec = ProviderSpec {
    name: "notion",
    env_prefix: "NOTION",
    display_name: "Notion",
    registration: "https://www.notion.so/my-integrations, a public integration",
    auth_url: "https://api.notion.com/v1/oauth/authorize",
    // Public integrations are installed by a user, never by the workspace's bot.
    authorization_params: &[("owner", "user")],
    token_url: "https://api.notion.com/v1/oauth/token",
    revoke_url: Some("https://api.notion.com/v1/oauth/revoke"),
    api_url: "https://api.notion.com",
    scopes: None,
    client_auth: ClientAuth::Basic,
    token_body: BodyEncoding::Json,
    pkce: false,
    secret_optional: false,
    local_only: false,
    api_headers: &[("Notion-Version", "VERSION")],
    rate_limit: None,
    account_fields: ("workspace_id", "workspace_name"),
    settings: &[("VERSION", "2022-06-28")],
    listings: &[Listing {
        kind: "object",
        post: true,
        path: "/v1/search",
        params: &[],
        page_size: Some(("page_size", 100)),
        cursor: Some("start_cursor"),
        results: "results",
        next: &["next_cursor"],
        more: Some("has_more"),
        children: None,
        normalise: |object, _, _| normalise(object),
        changes: Some(Changes::NewestFirst(
            r#"{"sort": {"direction": "descending", "timestamp": "last_edited_time"}}"#,
        )),
    }],
    names_parents: true,
};

/// The items of the objects `/v1/search` listed, parents named. Public only for
/// `benches/perf.rs`, which times the normalisers without HTTP.
#[doc(hidden)]
pub fn items(objects: &[Value]) -> Vec<Item> {
    let mut items: Vec<Item> = objects.iter().filter_map(normalise).collect();
    name_parents(&mut items);
    items
}

/// A page, database or data source; other objects (and malformed ones) are left out.
fn normalise(object: &Value) -> Option<Item> {
    let kind = object["object"].as_str()?;
    let name = match kind {
        "page" => object["properties"]
            .as_object()?
            .values()
            .find(|property| property["type"] == "title")
            .and_then(|property| plain_text(&property["title"])),
        "database" | "data_source" => plain_text(&object["title"]),
        _ => return None,
    };
    let text = |key: &str| object[key].as_str().map(str::to_owned);
    let mut item = Item::new(object["id"].as_str()?, kind);
    item.name = name;
    item.directory = kind != "page";
    item.parent_id = parent_id(&object["parent"]);
    item.creation_time = text("created_time");
    item.last_modified_time = text("last_edited_time");
    item.url = text("url");
    item.visibility = Some(object["archived"] != true && object["in_trash"] != true);
    Some(item)
}

/// `{"type": "page_id", "page_id": "…"}` and its kin; a workspace parent has no id.
fn parent_id(parent: &Value) -> Option<String> {
    let kind = parent["type"].as_str()?;
    parent[kind].as_str().map(str::to_owned)
}

/// The plain text of a rich-text array, `None` when it is empty.
fn plain_text(rich_text: &Value) -> Option<String> {
    let text: String = rich_text
        .as_array()?
        .iter()
        .filter_map(|part| {
            part["plain_text"]
                .as_str()
                .or_else(|| part["text"]["content"].as_str())
        })
        .collect();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::providers::arbitrary::provider_json;

    #[test]
    fn a_page_becomes_an_item_named_by_its_title() {
        let page = json!({"object": "page", "id": "p1", "created_time": "2024-01-01T00:00:00.000Z",
            "parent": {"type": "database_id", "database_id": "d1"}, "archived": false,
            "properties": {"Name": {"type": "title", "title": [{"plain_text": "Road"}, {"plain_text": "map"}]}}});
        let item = normalise(&page).unwrap();
        assert_eq!(item.name.as_deref(), Some("Roadmap"));
        assert_eq!(
            (item.kind.as_deref(), item.parent_id.as_deref()),
            (Some("page"), Some("d1"))
        );
        assert_eq!((item.directory, item.visibility), (false, Some(true)));
        let workspace = json!({"object": "database", "id": "d1", "title": [], "parent": {"type": "workspace", "workspace": true}});
        let item = normalise(&workspace).unwrap();
        assert_eq!((item.name, item.parent_id, item.directory), (None, None, true));
        assert!(normalise(&json!({"object": "user", "id": "u"})).is_none());
    }

    proptest! {
        #[test]
        fn items_keep_the_objects_id_and_kind(object in provider_json()) {
            if let Some(item) = normalise(&object) {
                prop_assert_eq!(item.id.as_deref(), object["id"].as_str());
                prop_assert_eq!(item.kind.as_deref(), object["object"].as_str());
                prop_assert!(matches!(item.kind.as_deref(), Some("page" | "database" | "data_source")));
                prop_assert_eq!(item.directory, item.kind.as_deref() != Some("page"));
                prop_assert!(item.name.as_deref() != Some(""), "an empty title is no name");
            }
        }
    }
}
