//! A provider's token response, typed where we act on it and kept verbatim for the hand-off.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub token_type: String,
    /// Unix seconds, computed when the response arrived from its `expires_in`; `None` when the
    /// provider does not say (Notion's tokens do not expire on a schedule).
    pub expires_at: Option<i64>,
    pub scopes: Vec<String>,
    /// The response exactly as the provider sent it: clients of `/credentials` read fields we do
    /// not model (Notion's `workspace_id` and `owner`, Airtable's `refresh_expires_in`).
    pub raw: Map<String, Value>,
}

impl std::fmt::Debug for TokenSet {
    // Hand-written so that no token reaches a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl TokenSet {
    /// The bytes a connections backend seals. Serialising cannot fail: the fields are strings,
    /// numbers and a JSON object with string keys.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a TokenSet always serialises")
    }

    /// What [`TokenSet::to_bytes`] wrote; `None` for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// Reads a token endpoint's answer received at `now` (unix seconds); `None` without an
    /// `access_token`.
    pub fn from_response(raw: Map<String, Value>, now: i64) -> Option<Self> {
        let text = |name: &str| raw.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
        let access_token = text("access_token")?.to_owned();
        let expires_in = raw.get("expires_in").and_then(|value| match value {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        });
        // OAuth's space-separated `scope` (Airtable), or an array under `scopes` (HubSpot).
        let scopes = match (raw.get("scope"), raw.get("scopes")) {
            (Some(Value::String(scope)), _) => scope.split_whitespace().map(str::to_owned).collect(),
            (_, Some(Value::Array(scopes))) => scopes
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Some(TokenSet {
            access_token,
            refresh_token: text("refresh_token").map(str::to_owned),
            token_type: text("token_type").unwrap_or("bearer").to_owned(),
            expires_at: expires_in
                .filter(|seconds| *seconds > 0)
                .map(|seconds| now + seconds),
            scopes,
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Option<TokenSet> {
        TokenSet::from_response(value.as_object().unwrap().clone(), 1_000)
    }

    #[test]
    fn expiry_is_computed_at_receipt_and_scopes_read_in_either_shape() {
        let airtable = parse(
            json!({"access_token": "a", "refresh_token": "r", "token_type": "Bearer",
            "expires_in": 3600, "scope": "data.records:read schema.bases:read"}),
        )
        .unwrap();
        assert_eq!(airtable.expires_at, Some(4_600));
        assert_eq!(airtable.scopes, ["data.records:read", "schema.bases:read"]);
        assert_eq!(airtable.refresh_token.as_deref(), Some("r"));
        let hubspot =
            parse(json!({"access_token": "a", "expires_in": "1800", "scopes": ["oauth", "crm"]})).unwrap();
        assert_eq!((hubspot.expires_at, hubspot.scopes.len()), (Some(2_800), 2));
        assert_eq!(hubspot.token_type, "bearer");
    }

    #[test]
    fn no_expires_in_means_no_expiry_and_the_raw_answer_is_kept() {
        let notion =
            parse(json!({"access_token": "a", "workspace_id": "w", "owner": {"type": "user"}})).unwrap();
        assert_eq!(notion.expires_at, None);
        assert_eq!(notion.raw["workspace_id"], "w");
        assert!(parse(json!({"access_token": ""})).is_none());
        assert!(parse(json!({"token_type": "bearer"})).is_none());
    }

    #[test]
    fn debug_output_shows_no_token() {
        let tokens =
            parse(json!({"access_token": "secret-access", "refresh_token": "secret-refresh"})).unwrap();
        let debug = format!("{tokens:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
