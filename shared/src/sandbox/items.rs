//! The sandbox's items in the crate's [`Item`] shape, as a provider listing normalises its own.

use serde_json::Value;

use crate::item::Item;
use crate::providers::name_parents;

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
