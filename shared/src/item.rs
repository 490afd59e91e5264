//! The one item shape every provider's listing is normalised into (the original `IntegrationItem`).

use serde::{Deserialize, Serialize};

/// Fields are `null` where the provider does not say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Item {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub directory: bool,
    pub parent_id: Option<String>,
    pub parent_path_or_name: Option<String>,
    pub creation_time: Option<String>,
    pub last_modified_time: Option<String>,
    pub url: Option<String>,
    pub children: Option<Vec<String>>,
    pub mime_type: Option<String>,
    pub delta: Option<String>,
    pub drive_id: Option<String>,
    pub visibility: Option<bool>,
}

impl Item {
    pub fn new(id: impl Into<String>, kind: &str) -> Self {
        Item {
            id: Some(id.into()),
            kind: Some(kind.to_owned()),
            ..Item::default()
        }
    }
}
