//! Lambda's batches, as the `sync` and `webhooks` functions read them: SQS messages and the
//! connections table's stream records, and the partial batch response that has only what
//! failed handed over again.

use std::collections::HashMap;

use aws_lambda_events::sqs::SqsMessage;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// A record of a DynamoDB stream; each reader takes the fields it needs.
#[derive(Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID")]
    pub event_id: Option<String>,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Deserialize)]
pub struct StreamChange {
    #[serde(rename = "Keys", default)]
    pub keys: HashMap<String, HashMap<String, Value>>,
    #[serde(rename = "OldImage")]
    pub old_image: Option<Value>,
    #[serde(rename = "NewImage")]
    pub new_image: Option<Value>,
    /// What a failure reports: the stream hands the batch over again from there.
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: Option<String>,
    /// Unix seconds of the write.
    #[serde(rename = "ApproximateCreationDateTime")]
    pub written_at: Option<f64>,
}

/// A message's body as `T`, or `None` when it is no such message.
pub fn body<T: DeserializeOwned>(message: &SqsMessage) -> Option<T> {
    serde_json::from_str(message.body.as_deref()?).ok()
}

/// Times SQS has handed the message over, this one included.
pub fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse().ok())
        .unwrap_or(1)
}

/// SQS's and the stream's partial batch response alike (`SqsBatchResponse`'s shape): the ids of
/// what must be handed over again.
pub fn failures(ids: impl IntoIterator<Item = String>) -> Value {
    let failures: Vec<Value> = ids
        .into_iter()
        .map(|id| serde_json::json!({ "itemIdentifier": id }))
        .collect();
    serde_json::json!({ "batchItemFailures": failures })
}
