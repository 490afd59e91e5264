//! The conditional `UpdateItem` every write but the delete is, and what DynamoDB answered.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::expr::Expr;
use super::item::{s, Attributes};
use super::DynamoStore;
use crate::connections::ConnectionStoreError;

impl DynamoStore {
    /// Whether a conditional update was applied.
    pub(super) async fn written(&self, key: &str, expr: Expr) -> Result<bool, ConnectionStoreError> {
        Ok(matches!(
            self.update(key, expr, ReturnValue::None).await?,
            Written::Done(_)
        ))
    }

    pub(super) async fn update(
        &self,
        key: &str,
        expr: Expr,
        returning: ReturnValue,
    ) -> Result<Written, ConnectionStoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression(expr.update_expression())
            .set_condition_expression((!expr.conditions.is_empty()).then(|| expr.conditions.join(" AND ")))
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values((!expr.values.is_empty()).then_some(expr.values))
            .return_values(returning)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Written::Done(output.attributes.unwrap_or_default())),
            Err(SdkError::ServiceError(error)) => match error.into_err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Written::Refused(failed.item.filter(|item| !item.is_empty())))
                }
                other => Err(ConnectionStoreError::Dynamo(
                    DisplayErrorContext(other).to_string(),
                )),
            },
            Err(error) => Err(failed(error)),
        }
    }
}

pub(super) enum Written {
    Done(Attributes),
    /// The condition failed; the item as it was, if it existed.
    Refused(Option<Attributes>),
}

pub(super) fn failed<E, R>(error: SdkError<E, R>) -> ConnectionStoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ConnectionStoreError::Dynamo(DisplayErrorContext(error).to_string())
}
