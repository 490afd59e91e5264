//! Reading items: a query page after page, and items opened into connections.

use aws_sdk_dynamodb::types::AttributeValue;

use super::expr::Expr;
use super::item::{record, Attributes};
use super::{failed, DynamoStore};
use crate::connections::{Connection, ConnectionStoreError};

impl DynamoStore {
    /// Queries page after page until `want` items passed the filter or the index ends.
    pub(super) async fn query(
        &self,
        index: &str,
        key_condition: String,
        expr: Expr,
        mut start: Option<Attributes>,
        want: usize,
    ) -> Result<Vec<Attributes>, ConnectionStoreError> {
        let mut found = Vec::new();
        loop {
            let missing = want - found.len();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(&key_condition)
                .set_filter_expression((!expr.conditions.is_empty()).then(|| expr.conditions.join(" AND ")))
                .set_expression_attribute_names(Some(expr.names.clone()))
                .set_expression_attribute_values(Some(expr.values.clone()))
                .set_exclusive_start_key(start)
                .limit(i32::try_from(missing).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(failed)?;
            found.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if found.len() >= want || start.is_none() {
                found.truncate(want);
                return Ok(found);
            }
        }
    }

    /// The connections among index or scan results; an item that does not read as one is logged
    /// and left out rather than failing the whole page.
    pub(super) fn readable(&self, items: Vec<Attributes>) -> Vec<Connection> {
        items
            .into_iter()
            .filter_map(|item| {
                self.connection(item)
                    .inspect_err(|error| tracing::error!(%error, "skipped an unreadable connection item"))
                    .ok()
            })
            .collect()
    }

    pub(super) fn connection(&self, item: Attributes) -> Result<Connection, ConnectionStoreError> {
        let key = match item.get("pk") {
            Some(AttributeValue::S(key)) => key.clone(),
            _ => return Err(ConnectionStoreError::Corrupt("pk is missing".into())),
        };
        record(item)?.open(&key, &self.sealer)
    }
}
