//! Connections as DynamoDB items: attribute values written, and items read back (a malformed
//! one is an error, never a panic).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::connections::{Account, ConnectionId, ConnectionStoreError, DueConnection, Record, Status};

/// An item's attributes by name.
pub(super) type Attributes = HashMap<String, AttributeValue>;

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn account_value(account: &Account) -> AttributeValue {
    let fields = [("id", &account.id), ("name", &account.name)]
        .into_iter()
        .filter_map(|(field, value)| Some((field.to_owned(), s(value.as_ref()?))))
        .collect();
    AttributeValue::M(fields)
}

/// A `due` index item: its key and expiry are all that index projects.
pub(super) fn due_connection(item: Attributes) -> Option<DueConnection> {
    let id = match item.get("pk") {
        Some(AttributeValue::S(key)) => ConnectionId::from_key(key),
        _ => None,
    };
    let expires_at = match item.get("expires_at") {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    };
    match (id, expires_at) {
        (Some(id), Some(expires_at)) => Some(DueConnection { id, expires_at }),
        _ => {
            tracing::error!("skipped a malformed due index item");
            None
        }
    }
}

pub(super) fn record(item: Attributes) -> Result<Record, ConnectionStoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        None => Ok(None),
        Some(_) => Err(ConnectionStoreError::Corrupt(format!("{name} is not a string"))),
    };
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ConnectionStoreError::Corrupt(format!("{name} is not an integer"))),
        None => Ok(None),
        Some(_) => Err(ConnectionStoreError::Corrupt(format!("{name} is not a number"))),
    };
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| ConnectionStoreError::Corrupt(format!("{name} is missing")))
    };
    let scopes = match item.get("scopes") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|value| value.as_s().cloned())
            .collect::<Result<_, _>>()
            .map_err(|_| ConnectionStoreError::Corrupt("scopes are not strings".into()))?,
        _ => Vec::new(),
    };
    let account = match item.get("account") {
        Some(AttributeValue::M(fields)) => Some(Account {
            id: fields.get("id").and_then(|value| value.as_s().ok()).cloned(),
            name: fields.get("name").and_then(|value| value.as_s().ok()).cloned(),
        }),
        _ => None,
    };
    let status = required(text("status")?, "status")?;
    Ok(Record {
        provider: required(text("provider")?, "provider")?,
        org_id: required(text("org_id")?, "org_id")?,
        user_id: required(text("user_id")?, "user_id")?,
        status: Status::parse(&status)
            .ok_or_else(|| ConnectionStoreError::Corrupt(format!("unknown status {status:?}")))?,
        tokens: text("tokens")?,
        scopes,
        account,
        created_at: number("created_at")?.unwrap_or_default(),
        updated_at: number("updated_at")?.unwrap_or_default(),
        expires_at: number("expires_at")?,
        last_refreshed_at: number("last_refreshed_at")?,
        version: count(number("version")?),
        lease_owner: text("lease_owner")?,
        lease_expires_at_ms: number("lease_expires_at_ms")?,
        consents: count(number("consents")?),
        refresh_failures: count(number("refresh_failures")?),
        reauthorization: text("reauthorization")?,
        revocation: text("revocation")?,
    })
}

/// A counter as stored: absent (or out of range) is none yet.
fn count<T: TryFrom<i64> + Default>(value: Option<i64>) -> T {
    value
        .and_then(|value| T::try_from(value).ok())
        .unwrap_or_default()
}
