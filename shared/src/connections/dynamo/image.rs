//! Items as the table's stream shows them: DynamoDB JSON (`{"S": "…"}`, `{"N": "…"}`, …) read
//! into the SDK's attribute values, then into a connection whose tokens stay sealed.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::item::{record, Attributes};
use crate::connections::{Connection, ConnectionStoreError};

/// The connection a stream image shows, tokens not opened.
pub fn connection_from_image(image: &Value) -> Result<Connection, ConnectionStoreError> {
    let malformed = || ConnectionStoreError::Corrupt("a stream image is malformed".into());
    let item = image.as_object().and_then(attributes).ok_or_else(malformed)?;
    let key = match item.get("pk") {
        Some(AttributeValue::S(key)) => key.clone(),
        _ => return Err(malformed()),
    };
    record(item)?.unopened(&key)
}

/// An item, or a map attribute's members.
fn attributes(object: &serde_json::Map<String, Value>) -> Option<Attributes> {
    object
        .iter()
        .map(|(name, value)| Some((name.clone(), attribute(value)?)))
        .collect()
}

fn attribute(value: &Value) -> Option<AttributeValue> {
    let (kind, inner) = value.as_object()?.iter().next()?;
    let strings = || -> Option<Vec<String>> {
        inner
            .as_array()?
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect()
    };
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(inner.as_str()?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings()?),
        "NS" => AttributeValue::Ns(strings()?),
        "L" => AttributeValue::L(inner.as_array()?.iter().map(attribute).collect::<Option<_>>()?),
        "M" => AttributeValue::M(attributes(inner.as_object()?)?),
        _ => return None,
    })
}
