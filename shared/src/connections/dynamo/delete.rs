//! The delete: what became of the grant is written first, so that the stream's last image of the
//! item (its `REMOVE` record's old image) tells it; then the item goes, both at the version read.

use aws_sdk_dynamodb::error::SdkError;

use super::expr::Expr;
use super::item::s;
use super::update::failed;
use super::DynamoStore;
use crate::connections::{ConnectionId, ConnectionStoreError};

impl DynamoStore {
    pub(super) async fn delete_noting(
        &self,
        id: &ConnectionId,
        version: u64,
        revocation: &str,
    ) -> Result<bool, ConnectionStoreError> {
        let key = id.key();
        let mut note = Expr::default();
        note.set("revocation", s(revocation));
        note.at_version(version);
        if !self.written(&key, note).await? {
            return Ok(false);
        }
        let mut condition = Expr::default();
        condition.at_version(version);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&key))
            .condition_expression(condition.conditions.join(" AND "))
            .set_expression_attribute_names(Some(condition.names))
            .set_expression_attribute_values(Some(condition.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(error)) if error.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(error) => Err(failed(error)),
        }
    }
}
