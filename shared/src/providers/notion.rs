//! Notion: pages and databases (data sources from API version 2025-09-03) through `/v1/search`.

use serde_json::{json, Value};

use super::{name_parents, BodyEncoding, ClientAuth, ProviderSpec};
use crate::error::Result;
use crate::item::Item;
use crate::upstream::{all_pages, Api, Page};

pub(super) static SPEC: ProviderSpec = ProviderSpec {
    name: "notion",
    env_prefix: "NOTION",
    display_name: "Notion",
    auth_url: "https://api.notion.com/v1/oauth/authorize?owner=user&response_type=code",
    token_url: "https://api.notion.com/v1/oauth/token",
    api_url: "https://api.notion.com",
    scopes: None,
    client_auth: ClientAuth::Basic,
    token_body: BodyEncoding::Json,
    pkce: false,
    secret_optional: false,
    settings: &[("VERSION", "2022-06-28")],
    list: |api| Box::pin(list(api)),
};

async fn list(api: &Api<'_>) -> Result<Vec<Item>> {
    let version = api.provider.setting("VERSION");
    let objects = all_pages(SPEC.display_name, |cursor| async move {
        let mut body = json!({ "page_size": 100 });
        if let Some(cursor) = cursor {
            body["start_cursor"] = Value::String(cursor);
        }
        let request = api.post("/v1/search").header("Notion-Version", version);
        let mut answer = api.send_json(request.json(&body)).await?;
        let next = (answer["has_more"] == true).then(|| answer["next_cursor"].clone());
        Ok(Page::new(&mut answer, "results", next.as_ref()))
    })
    .await?;
    let mut items: Vec<Item> = objects.iter().filter_map(normalise).collect();
    name_parents(&mut items);
    Ok(items)
}

/// A page, database or data source; other objects (and malformed ones) are left out.
pub fn normalise(object: &Value) -> Option<Item> {
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
