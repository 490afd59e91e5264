//! A real DynamoDB API for tests: moto in server mode, and tables made from template.yaml.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex,
    Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use integrations::connections::{self, ConnectionId, ConnectionStore, DynamoStore, SharedStore};
use integrations::tokens::TokenSet;
use serde_json::json;
use serde_yaml::Value;

use super::{redis_url, sealer, unique, vars};

/// The moto release the tests are known to pass with.
pub const MOTO_VERSION: &str = "5.2.1";

/// `AWS_ENDPOINT_URL_DYNAMODB` when set; otherwise a private `moto_server` on a free loopback
/// port, shared by the tests of this binary and stopped when the binary exits. Either is reached
/// through a proxy that passes one request at a time: moto does not make a conditional write
/// atomic, and single-flight refresh relies on that.
pub fn endpoint() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| super::proxy::one_at_a_time(emulator()))
        .clone()
}

fn emulator() -> String {
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        return url;
    }
    let port = super::free_port();
    let mut watcher = spawn_moto(port);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = watcher.try_wait() {
            panic!("moto_server exited at start ({status}); {}", install_hint());
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::mem::forget(watcher); // lives as long as the test binary (it ends moto after)
    format!("http://127.0.0.1:{port}")
}

fn install_hint() -> String {
    format!(
        "the DynamoDB tests need moto's server: `pip install 'moto[server]=={MOTO_VERSION}'` \
         (or set AWS_ENDPOINT_URL_DYNAMODB to a running DynamoDB emulator)"
    )
}

/// Runs moto_server under a shell that kills it when our stdin pipe closes (the test exited).
fn spawn_moto(port: u16) -> Child {
    let server = super::which("moto_server")
        .unwrap_or_else(|| panic!("moto_server is not on PATH: {}", install_hint()));
    let script = format!(
        "'{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        server.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh is available")
}

/// A new client configured as the functions configure theirs, pointed at the emulator with
/// dummy credentials: as another process would have.
pub async fn client() -> Client {
    let config = integrations::connections::dynamo::config_builder(reqwest::Client::new())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .build();
    Client::from_conf(config)
}

/// template.yaml, parsed.
pub fn template() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

/// `Resources.ConnectionsTable.Properties` of template.yaml.
pub fn table_properties() -> &'static Value {
    &template()["Resources"]["ConnectionsTable"]["Properties"]
}

/// A new connections table with a random name, keyed and indexed exactly as template.yaml says.
pub async fn create_table(client: &Client) -> String {
    create_template_table(client, "ConnectionsTable", "connections").await
}

/// A new items table, as template.yaml's `ItemsTable`.
pub async fn create_items_table(client: &Client) -> String {
    create_template_table(client, "ItemsTable", "items").await
}

fn projection(index: &Value) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(text(&index["Projection"]["ProjectionType"])))
        .set_non_key_attributes(
            index["Projection"]["NonKeyAttributes"]
                .as_sequence()
                .map(|names| names.iter().map(|name| text(name).to_owned()).collect()),
        )
        .build()
}

async fn create_template_table(client: &Client, resource: &str, prefix: &str) -> String {
    let properties = &template()["Resources"][resource]["Properties"];
    let name = format!("{prefix}-{:016x}", rand::random::<u64>());
    let attributes = sequence(&properties["AttributeDefinitions"])
        .iter()
        .map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(text(&attribute["AttributeName"]))
                .attribute_type(ScalarAttributeType::from(text(&attribute["AttributeType"])))
                .build()
                .unwrap()
        })
        .collect();
    let indexes = |key: &str| {
        properties[key]
            .as_sequence()
            .map(|indexes| indexes.iter().collect::<Vec<_>>())
    };
    // Each kind of index has its own builder type.
    macro_rules! indexes {
        ($key:literal, $builder:ident) => {
            indexes($key).map(|indexes| {
                indexes
                    .into_iter()
                    .map(|index| {
                        $builder::builder()
                            .index_name(text(&index["IndexName"]))
                            .set_key_schema(Some(key_schema(&index["KeySchema"])))
                            .projection(projection(index))
                            .build()
                            .unwrap()
                    })
                    .collect()
            })
        };
    }
    let global = indexes!("GlobalSecondaryIndexes", GlobalSecondaryIndex);
    let local = indexes!("LocalSecondaryIndexes", LocalSecondaryIndex);
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::from(text(&properties["BillingMode"])))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&properties["KeySchema"])))
        .set_global_secondary_indexes(global)
        .set_local_secondary_indexes(local)
        .set_stream_specification(
            properties["StreamSpecification"]["StreamViewType"]
                .as_str()
                .map(|view| {
                    aws_sdk_dynamodb::types::StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(view))
                        .build()
                        .unwrap()
                }),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)));
    name
}

fn key_schema(value: &Value) -> Vec<KeySchemaElement> {
    sequence(value)
        .iter()
        .map(|key| {
            KeySchemaElement::builder()
                .attribute_name(text(&key["AttributeName"]))
                .key_type(KeyType::from(text(&key["KeyType"])))
                .build()
                .unwrap()
        })
        .collect()
}

fn sequence(value: &Value) -> &Vec<Value> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("template.yaml: expected a list, found {value:?}"))
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("template.yaml: expected a string, found {value:?}"))
}

/// An SQS client on the same moto server (moto serves every service on one port).
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    use aws_sdk_sqs::config::{Credentials, Region};
    let config = integrations::sync::sqs::config_builder(reqwest::Client::new())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// The sync queue and its dead-letter queue, with the attributes template.yaml gives them; the
/// queue's URL.
pub async fn create_sync_queue(client: &aws_sdk_sqs::Client) -> String {
    create_queues(client, "SyncQueue", "SyncDeadLetterQueue").await.0
}

/// The webhooks queue and its dead-letter queue, as template.yaml makes them; their URLs.
pub async fn create_webhooks_queues(client: &aws_sdk_sqs::Client) -> (String, String) {
    create_queues(client, "WebhooksQueue", "WebhooksDeadLetterQueue").await
}

/// Template resource `queue` and its dead-letter queue `dead`, with the attributes the template
/// gives them; their URLs.
async fn create_queues(client: &aws_sdk_sqs::Client, queue: &str, dead: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let resources = &template()["Resources"];
    let attributes = |properties: &Value| {
        ["VisibilityTimeout", "MessageRetentionPeriod"]
            .into_iter()
            .filter_map(|name| {
                let value = properties[name].as_u64()?;
                Some((QueueAttributeName::from(name), value.to_string()))
            })
            .collect::<HashMap<_, _>>()
    };
    let suffix = format!("{:016x}", rand::random::<u64>());
    let dead = client
        .create_queue()
        .queue_name(format!("{dead}-{suffix}"))
        .set_attributes(Some(attributes(&resources[dead]["Properties"])))
        .send()
        .await
        .unwrap();
    let dead_arn = client
        .get_queue_attributes()
        .queue_url(dead.queue_url().unwrap())
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let properties = &resources[queue]["Properties"];
    let receives = properties["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap();
    let mut attributes = attributes(properties);
    attributes.insert(
        QueueAttributeName::RedrivePolicy,
        json!({"deadLetterTargetArn": dead_arn, "maxReceiveCount": receives}).to_string(),
    );
    let created = client
        .create_queue()
        .queue_name(format!("{queue}-{suffix}"))
        .set_attributes(Some(attributes))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateQueue: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
    let dead = dead.queue_url().unwrap().to_owned();
    (created.queue_url().unwrap().to_owned(), dead)
}

/// A deployment whose connections and synced items live in fresh tables of moto's DynamoDB,
/// its sync steps on a fresh queue of moto's SQS, and a store client of the test's own on the
/// connections table.
pub async fn kept_env(fake: &str) -> (HashMap<String, String>, SharedStore) {
    let client = client().await;
    let table = create_table(&client).await;
    let items = create_items_table(&client).await;
    let queue = create_sync_queue(&sqs_client().await).await;
    let (webhooks, dead_webhooks) = create_webhooks_queues(&sqs_client().await).await;
    let env = vars(
        fake,
        &[
            ("REDIS_URL", &redis_url()),
            ("CONNECTIONS_TABLE", &table),
            ("ITEMS_TABLE", &items),
            ("SYNC_QUEUE_URL", &queue),
            ("WEBHOOK_QUEUE_URL", &webhooks),
            ("WEBHOOK_DLQ_URL", &dead_webhooks),
            ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint()),
            ("AWS_ENDPOINT_URL_SQS", &endpoint()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("HTTP_TIMEOUT_SECS", "1"),
        ],
    );
    (
        env,
        connections::shared(DynamoStore::new(client, table, sealer())),
    )
}

/// A kept connection whose access token expires `expires_in` seconds from now (a second: due).
pub async fn seed(store: &SharedStore, provider: &str, refresh_token: &str, expires_in: i64) -> ConnectionId {
    let id = ConnectionId::new(provider, &unique("org"), &unique("user")).unwrap();
    let now = integrations::clock::now();
    let raw = json!({"access_token": format!("{provider}-access-0"), "refresh_token": refresh_token,
        "token_type": "bearer", "expires_in": expires_in});
    let tokens = TokenSet::from_response(raw.as_object().unwrap().clone(), now).unwrap();
    store.save_connected(&id, &tokens, None, now).await.unwrap();
    id
}

/// Every record of `table`'s stream so far, as DynamoDB Streams' `GetRecords` answers them (and
/// Lambda hands them over): moto's, through its JSON protocol (the SDK has no streams client here).
pub async fn stream_records(client: &Client, table: &str) -> Vec<serde_json::Value> {
    let described = client.describe_table().table_name(table).send().await.unwrap();
    let arn = described
        .table()
        .unwrap()
        .latest_stream_arn()
        .expect("the table has a stream")
        .to_owned();
    let http = reqwest::Client::new();
    let call = |action: &'static str, body: serde_json::Value| {
        let request = http
            .post(endpoint())
            .header("X-Amz-Target", format!("DynamoDBStreams_20120810.{action}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string());
        async move {
            let answer = request.send().await.unwrap();
            assert!(answer.status().is_success(), "{action}: {}", answer.status());
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let stream = call("DescribeStream", json!({"StreamArn": arn})).await;
    let mut records = Vec::new();
    for shard in stream["StreamDescription"]["Shards"].as_array().unwrap() {
        let iterator = call(
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"],
            "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let got = call("GetRecords", json!({"ShardIterator": iterator["ShardIterator"]})).await;
        records.extend(got["Records"].as_array().unwrap().iter().cloned());
    }
    records
}

/// An SQS message as Lambda's event source mapping hands it over, from queue `name`.
pub fn sqs_record(message: &aws_sdk_sqs::types::Message, name: &str) -> serde_json::Value {
    let attributes: serde_json::Map<String, serde_json::Value> = message
        .attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "messageId": message.message_id(), "receiptHandle": message.receipt_handle(),
        "body": message.body(), "attributes": attributes, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
        "awsRegion": "us-east-1",
    })
}

/// The next message of `queue`, with its receive count, if one shows within `wait` seconds.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    wait: i32,
) -> Option<aws_sdk_sqs::types::Message> {
    let received = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(1)
        .wait_time_seconds(wait)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    received.messages().first().cloned()
}
