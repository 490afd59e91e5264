//! HubSpot: contacts, companies and deals through the CRM v3 objects API.

use std::time::Duration;

use serde_json::Value;

use super::{BodyEncoding, Changes, ClientAuth, Listing, ProviderSpec};
use crate::item::Item;

/// One CRM object type: its item `type`, its path, the properties its name is made from, and
/// the one its last modification is searched by.
macro_rules! objects {
    ($kind:literal, $path:literal, $properties:literal, $modified:literal) => {
        Listing {
            kind: $kind,
            post: false,
            path: $path,
            params: &[("properties", $properties), ("archived", "false")],
            page_size: Some(("limit", 100)),
            cursor: Some("after"),
            results: "results",
            next: &["paging", "next", "after"],
            more: None,
            children: None,
            normalise: |object, kind, _| normalise(kind, object),
            changes: Some(Changes::Search {
                path: concat!($path, "/search"),
                property: $modified,
                max_page: 200,
                archived: &[("properties", $properties), ("archived", "true")],
            }),
        }
    };
}

pub(super) static SPEC: ProviderSpec = ProviderSpec {
    name: "hubspot",
    env_prefix: "HUBSPOT",
    display_name: "HubSpot",
    registration: "a HubSpot developer account, Apps",
    auth_url: "https://app.hubspot.com/oauth/authorize",
    authorization_params: &[],
    // The date-versioned OAuth API; v1 is sunset on 2027-02-16 and v3 is filed as legacy.
    token_url: "https://api.hubapi.com/oauth/2026-03/token",
    revoke_url: Some("https://api.hubapi.com/oauth/2026-03/token/revoke"),
    api_url: "https://api.hubapi.com",
    scopes: Some("oauth crm.objects.contacts.read crm.objects.companies.read crm.objects.deals.read"),
    client_auth: ClientAuth::RequestBody,
    token_body: BodyEncoding::Form,
    pkce: false,
    secret_optional: false,
    local_only: false,
    api_headers: &[],
    // About 100 requests every 10 seconds per account for an OAuth app.
    rate_limit: Some((100, Duration::from_secs(10))),
    account_fields: ("hub_id", "hub_domain"),
    settings: &[],
    listings: &[
        objects!(
            "contact",
            "/crm/v3/objects/contacts",
            "firstname,lastname,email",
            "lastmodifieddate"
        ),
        objects!(
            "company",
            "/crm/v3/objects/companies",
            "name",
            "hs_lastmodifieddate"
        ),
        objects!("deal", "/crm/v3/objects/deals", "dealname", "hs_lastmodifieddate"),
    ],
    names_parents: false,
};

/// The items of the CRM objects of one `kind` (`contact`, `company`, `deal`). Public only for
/// `benches/perf.rs`, which times the normalisers without HTTP.
#[doc(hidden)]
pub fn items(kind: &str, objects: &[Value]) -> Vec<Item> {
    objects
        .iter()
        .filter_map(|object| normalise(kind, object))
        .collect()
}

fn normalise(kind: &str, object: &Value) -> Option<Item> {
    let id = object["id"].as_str().filter(|id| !id.is_empty())?;
    let property = |name: &str| {
        object["properties"][name]
            .as_str()
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let name = match kind {
        "contact" => {
            let full = [property("firstname"), property("lastname")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Some(if full.is_empty() {
                property("email").unwrap_or(id).to_owned()
            } else {
                full
            })
        }
        "company" => property("name").map(str::to_owned),
        _ => property("dealname").map(str::to_owned),
    };
    let mut item = Item::new(id, kind);
    item.name = name;
    item.creation_time = object["createdAt"].as_str().map(str::to_owned);
    item.last_modified_time = object["updatedAt"].as_str().map(str::to_owned);
    item.visibility = Some(object["archived"] != true);
    Some(item)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::providers::arbitrary::provider_json;

    #[test]
    fn a_contact_is_named_by_full_name_then_email_then_id() {
        let contact =
            |properties| normalise("contact", &json!({"id": "7", "properties": properties})).unwrap();
        assert_eq!(
            contact(json!({"firstname": " Ada ", "lastname": "Lovelace"}))
                .name
                .unwrap(),
            "Ada Lovelace"
        );
        assert_eq!(
            contact(json!({"firstname": "", "email": "ada@example.com"}))
                .name
                .unwrap(),
            "ada@example.com"
        );
        assert_eq!(contact(json!({})).name.unwrap(), "7");
        let deal = normalise(
            "deal",
            &json!({"id": "9", "archived": true, "properties": {"dealname": "Big"}}),
        )
        .unwrap();
        assert_eq!(
            (deal.name.as_deref(), deal.visibility),
            (Some("Big"), Some(false))
        );
        assert!(
            normalise("company", &json!({"id": 9})).is_none(),
            "ids are strings in the CRM API"
        );
    }

    proptest! {
        #[test]
        fn items_keep_the_objects_id_and_contacts_always_have_a_name(object in provider_json()) {
            for kind in ["contact", "company", "deal"] {
                if let Some(item) = normalise(kind, &object) {
                    prop_assert_eq!(item.id.as_deref(), object["id"].as_str());
                    prop_assert_eq!(item.kind.as_deref(), Some(kind));
                    prop_assert!(kind != "contact" || item.name.as_deref().is_some_and(|name| !name.is_empty()));
                }
            }
        }
    }
}
