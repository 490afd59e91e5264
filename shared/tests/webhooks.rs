//! Webhooks: each cause tells its event once, signed as Standard Webhooks says (verified here
//! with the `standardwebhooks` crate, as a receiver would), retried on the schedule, never
//! carrying a token.

mod support;

use std::sync::Arc;
use std::time::Duration;

use integrations::config::WebhookSettings;
use integrations::connections::{
    self, ConnectionChange, ConnectionId, ConnectionStore, DynamoStore, EmbeddedStore, LeaseOutcome,
    Reauthorization, SharedStore,
};
use integrations::tokens::TokenSet;
use integrations::webhooks::{
    connection_event, local, stream, Attempt, Endpoint, Envelope, LocalOutbox, Schedule, ATTEMPTS,
    EVENT_TYPES,
};
use serde_json::{json, Value};
use support::receiver::{Answer, Receiver, NEW_SECRET, SECRET};
use support::{sealer, unique};

fn settings(url: &str, secrets: &[&str], timeout_ms: u64) -> WebhookSettings {
    WebhookSettings {
        url: Some(url.to_owned()),
        secrets: secrets.iter().map(|secret| secret.to_string()).collect(),
        queue_url: None,
        dead_letter_url: None,
        retry_base: Duration::from_millis(40),
        timeout: Duration::from_millis(timeout_ms),
    }
}

fn endpoint(receiver: &Receiver, secrets: &[&str]) -> Arc<Endpoint> {
    let settings = settings(&receiver.url(), secrets, 300);
    Arc::new(
        Endpoint::new(&settings, reqwest::Client::new(), true)
            .unwrap()
            .unwrap(),
    )
}

fn tokens(access: &str, refresh: &str) -> TokenSet {
    let raw = json!({"access_token": access, "refresh_token": refresh, "token_type": "bearer",
        "expires_in": 3600, "scope": "items:read"});
    TokenSet::from_response(raw.as_object().unwrap().clone(), integrations::clock::now()).unwrap()
}

/// One write for every cause, and writes that mean nothing to the app in between.
async fn write_every_cause(store: &SharedStore, id: &ConnectionId) {
    let now = integrations::clock::now();
    let lease = |version: u64, owner: &'static str| async move {
        let taken = store.acquire_lease(id, version, owner, 60_000, integrations::clock::now_ms());
        assert_eq!(taken.await.unwrap(), LeaseOutcome::Acquired);
    };
    store
        .save_connected(id, &tokens("access-1", "refresh-1"), None, now)
        .await
        .unwrap();
    // Four refreshes fail for now (the provider down, the client secret wrong): told at the third.
    for _ in 0..4 {
        lease(1, "refresher").await;
        assert!(store.release_lease(id, "refresher", true).await.unwrap());
    }
    // One works: recovered. A lease given back without a failure means nothing.
    lease(1, "refresher").await;
    assert!(store
        .commit_refresh(id, 1, &tokens("access-2", "refresh-2"), now)
        .await
        .unwrap());
    lease(2, "reader").await;
    assert!(store.release_lease(id, "reader", false).await.unwrap());
    // The provider refuses a token it just gave: a new consent is needed; marking twice is once.
    let refused = Reauthorization::TokenRefused;
    assert!(store
        .mark_needs_reauthorization(id, 2, refused, now)
        .await
        .unwrap());
    assert!(!store
        .mark_needs_reauthorization(id, 2, refused, now)
        .await
        .unwrap());
    // A refresh of that version that was still in flight lands: its tokens are newer, recovered.
    let late = tokens("access-3", "refresh-3");
    assert!(store.commit_refresh(id, 2, &late, now).await.unwrap());
    let consent = tokens("access-4", "refresh-4");
    store.save_connected(id, &consent, None, now).await.unwrap();
    assert!(store.delete(id, 4, "revoked").await.unwrap());
}

/// The events of [`write_every_cause`]: each once, in order, with the connection's metadata and
/// what each adds, never a token.
fn assert_every_event(events: &[Envelope], id: &ConnectionId) {
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "connection.created",
            "connection.refresh_failed",
            "connection.refresh_recovered",
            "connection.needs_reauthorization",
            "connection.refresh_recovered",
            "connection.reconnected",
            "connection.deleted",
        ]
    );
    let bodies: Vec<Value> = events
        .iter()
        .map(|event| serde_json::from_str(&event.body).unwrap())
        .collect();
    for (event, body) in events.iter().zip(&bodies) {
        assert_eq!(body["type"], event.kind.as_str());
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'), "{body}");
        // The connection's metadata, as `GET …/connection` shows it.
        assert_eq!(
            (
                &body["data"]["provider"],
                &body["data"]["org_id"],
                &body["data"]["user_id"]
            ),
            (&json!(id.provider()), &json!(id.org_id()), &json!(id.user_id())),
            "{body}"
        );
        assert_eq!(body["data"]["scopes"], json!(["items:read"]), "{body}");
        for secret in ["access-", "refresh-", "tokens"] {
            assert!(
                !event.body.contains(secret),
                "{} carries {secret:?}: {}",
                event.kind,
                event.body
            );
        }
        assert!(event.id.starts_with("msg_"), "{}", event.id);
        assert!(
            EVENT_TYPES.iter().any(|(kind, _)| *kind == event.kind),
            "{} undocumented",
            event.kind
        );
    }
    assert_eq!(bodies[1]["data"]["failures"], 3);
    assert_eq!(bodies[3]["data"]["status"], "needs_reauthorization");
    assert_eq!(bodies[3]["data"]["reason"], "access_token_refused");
    assert_eq!(bodies[4]["data"]["status"], "active");
    assert_eq!(bodies[5]["data"]["status"], "active");
    let deleted = &bodies[6]["data"];
    assert_eq!(
        (&deleted["revoked"], &deleted["revocation"]),
        (&json!(true), &json!("revoked"))
    );
}

/// Locally: the embedded store's watcher, as `local-api` reads it.
#[tokio::test]
async fn each_connection_event_is_told_once_per_cause_and_never_a_token() {
    let (watcher, mut changes) = tokio::sync::mpsc::unbounded_channel::<ConnectionChange>();
    let path = std::env::temp_dir().join(unique("webhooks-store"));
    let store = connections::shared(EmbeddedStore::open(&path, sealer()).unwrap().watched(watcher));
    let id = ConnectionId::new("sandbox", &unique("org"), "user-1").unwrap();
    write_every_cause(&store, &id).await;
    let mut events = Vec::new();
    while let Ok(change) = changes.try_recv() {
        events.extend(connection_event(&change, None));
    }
    assert_every_event(&events, &id);
    // Each delivered, and verified by the receiver as sent.
    let receiver = Receiver::start(&[SECRET], vec![]).await;
    let endpoint = endpoint(&receiver, &[SECRET]);
    for event in &events {
        assert_eq!(endpoint.deliver(event).await, Attempt::Delivered(204));
    }
    let delivered = receiver.deliveries();
    assert_eq!(delivered.len(), events.len());
    for (delivery, event) in delivered.iter().zip(&events) {
        assert_eq!(
            (&delivery.id, &delivery.raw, &delivery.verified_by),
            (&event.id, &event.body, &vec![0])
        );
    }
    let _ = std::fs::remove_file(path);
}

/// Deployed: the same writes on DynamoDB (moto), read back from the table's stream as the
/// `webhooks` function reads it. A record handed over twice queues the same `webhook-id`.
#[tokio::test]
async fn the_connections_stream_tells_the_same_events() {
    let client = support::moto::client().await;
    let table = support::moto::create_table(&client).await;
    let store = connections::shared(DynamoStore::new(client.clone(), &table, sealer()));
    let id = ConnectionId::new("hubspot", &unique("org"), "user-1").unwrap();
    write_every_cause(&store, &id).await;
    let (outbox, mut queued) = LocalOutbox::channel();
    let records = support::moto::stream_records(&client, &table).await;
    for record in &records {
        assert_eq!(
            stream::connection_changed(&outbox, record.clone()).await,
            None,
            "{record}"
        );
    }
    let mut events = Vec::new();
    while let Ok(envelope) = queued.try_recv() {
        events.push(envelope);
    }
    assert_every_event(&events, &id);
    // moto (unlike DynamoDB) puts a key-only INSERT before an upsert's own: dropped, as no
    // connection. The upsert's own, handed over again, queues the same id.
    let inserted = records
        .iter()
        .find(|record| record["dynamodb"]["NewImage"]["status"].is_object());
    let inserted = inserted.unwrap();
    stream::connection_changed(&outbox, inserted.clone()).await;
    // Its time is the write's, as the stream recorded it.
    let written = inserted["dynamodb"]["ApproximateCreationDateTime"]
        .as_f64()
        .unwrap();
    let body: Value = serde_json::from_str(&events[0].body).unwrap();
    let at = integrations::clock::rfc3339_ms((written * 1000.0) as i64).unwrap();
    assert_eq!(body["timestamp"], at.as_str());
    assert_eq!(
        queued.try_recv().unwrap().id,
        events[0].id,
        "the same record, the same id"
    );
}

/// Standard Webhooks: the id, a timestamp, and during a rotation one signature per secret, so a
/// receiver holding either verifies it.
#[tokio::test]
async fn a_rotation_signs_with_the_new_secret_and_lists_both() {
    let old_only = Receiver::start(&[SECRET], vec![]).await;
    let new_only = Receiver::start(&[NEW_SECRET], vec![]).await;
    let envelope = Envelope::at(
        "connection.created",
        json!({"provider": "sandbox"}),
        Some("cause"),
        integrations::clock::now_ms(),
    );
    for receiver in [&old_only, &new_only] {
        let endpoint = endpoint(receiver, &[NEW_SECRET, SECRET]);
        assert_eq!(endpoint.deliver(&envelope).await, Attempt::Delivered(204));
        let delivery = &receiver.deliveries()[0];
        assert_eq!(delivery.verified_by, [0], "{delivery:?}");
        assert_eq!(delivery.id, envelope.id);
        assert_eq!(delivery.raw, envelope.body);
        let signatures: Vec<&str> = delivery.signature.split(' ').collect();
        assert_eq!(signatures.len(), 2, "{}", delivery.signature);
        assert!(signatures.iter().all(|signature| signature.starts_with("v1,")));
    }
    // The first signature is the new secret's.
    let endpoint = endpoint(&new_only, &[NEW_SECRET]);
    let timestamp = new_only.deliveries()[0].timestamp;
    assert!(new_only.deliveries()[0]
        .signature
        .starts_with(&endpoint.signature(&envelope, timestamp)));
}

/// Down for three tries (a 500, a 429 asking for a second, no answer in time): the fourth
/// delivers, with the same id, a fresh timestamp, and the wait the 429 asked for.
#[tokio::test]
async fn a_receiver_down_for_three_tries_gets_the_event_on_the_fourth() {
    let script = vec![
        Answer::Status(500),
        Answer::RetryAfter(1),
        Answer::Hang(Duration::from_secs(2)),
    ];
    let receiver = Receiver::start(&[SECRET], script).await;
    let envelope = Envelope::at(
        "sync.completed",
        json!({"items": 3}),
        None,
        integrations::clock::now_ms(),
    );
    let schedule = Schedule::new(Duration::from_millis(40));
    local::deliver(endpoint(&receiver, &[SECRET]), schedule, envelope.clone()).await;
    let deliveries = receiver.wait_for(4).await;
    assert_eq!(deliveries.len(), 4, "{deliveries:?}");
    for delivery in &deliveries {
        assert_eq!(delivery.id, envelope.id);
        assert_eq!(delivery.verified_by, [0]);
        assert_eq!(delivery.raw, envelope.body);
    }
    assert!(
        deliveries[2].at - deliveries[1].at >= Duration::from_secs(1),
        "Retry-After: 1 honoured"
    );
    assert!(
        deliveries[3].timestamp > deliveries[0].timestamp,
        "each try is signed afresh"
    );
}

/// A 410 (or any 4xx but 408 and 429) is tried three times, then given up.
#[tokio::test]
async fn a_refused_delivery_is_tried_three_times_then_dropped() {
    let receiver = Receiver::start(&[SECRET], vec![Answer::Status(410); 10]).await;
    let envelope = Envelope::at(
        "connection.deleted",
        json!({}),
        None,
        integrations::clock::now_ms(),
    );
    local::deliver(
        endpoint(&receiver, &[SECRET]),
        Schedule::new(Duration::from_millis(5)),
        envelope,
    )
    .await;
    assert_eq!(receiver.deliveries().len(), 3);
}

/// The deployed schedule: about a day of tries for a receiver that is down, never a wait SQS
/// cannot hide a message for, and a `Retry-After` honoured.
#[test]
fn the_schedule_retries_for_about_a_day() {
    let schedule = Schedule::new(Duration::from_secs(5));
    let down = Attempt::Failed {
        status: Some(503),
        retry_after: None,
        reason: String::new(),
    };
    let waits: Vec<Duration> = (1..).map_while(|tried| schedule.next(tried, &down)).collect();
    assert_eq!(waits.len() as u32, ATTEMPTS - 1);
    let total: Duration = waits.iter().sum();
    assert!(
        (Duration::from_secs(18 * 3600)..Duration::from_secs(27 * 3600)).contains(&total),
        "{total:?}"
    );
    assert!(
        waits.windows(2).all(|pair| pair[0] <= pair[1].mul_f64(1.5)),
        "{waits:?}"
    );
    assert!(waits.iter().all(|wait| *wait < Duration::from_secs(12 * 3600)));
    let throttled = Attempt::Failed {
        status: Some(429),
        retry_after: Some(Duration::from_secs(600)),
        reason: String::new(),
    };
    assert!(schedule.next(1, &throttled).unwrap() >= Duration::from_secs(600));
    assert_eq!(schedule.next(3, &Attempt::Refused(410)), None);
    assert_eq!(schedule.next(1, &Attempt::Delivered(200)), None);
}

/// Settings that cannot work stop the start, and never quote a secret.
#[test]
fn webhook_settings_are_checked() {
    let http = reqwest::Client::new;
    let check = |url: &str, secrets: &[&str], loopback: bool| {
        Endpoint::new(&settings(url, secrets, 1000), http(), loopback).map(|endpoint| endpoint.is_some())
    };
    assert!(check("https://app.example/hooks", &[SECRET], false).unwrap());
    assert!(check("http://127.0.0.1:9/hooks", &[SECRET], true).unwrap());
    let refused = [
        check("http://127.0.0.1:9/hooks", &[SECRET], false),
        check("http://app.example/hooks", &[SECRET], true),
        check("https://app.example/hooks", &[], false),
        check("https://app.example/hooks", &["not-a-whsec-secret"], false),
        check("https://app.example/hooks", &[SECRET, "whsec_!!!"], false),
    ];
    for refused in refused {
        let error = refused.unwrap_err().to_string();
        assert!(error.starts_with("WEBHOOK_"), "{error}");
        assert!(
            !error.contains("not-a-whsec") && !error.contains("!!!"),
            "{error}"
        );
    }
    let mut none = settings("https://app.example/hooks", &[SECRET], 1000);
    none.url = None;
    assert!(Endpoint::new(&none, http(), false).unwrap().is_none());
}

/// The README's receiver, in Python with the `standardwebhooks` PyPI package, verifies a
/// delivery as sent, and refuses it once its body is altered. The interpreter is
/// `STANDARDWEBHOOKS_PYTHON` (.ci/run's virtualenv), else `python3`.
#[tokio::test]
async fn the_readmes_python_receiver_verifies_a_delivery() {
    let receiver = Receiver::start(&[SECRET], vec![]).await;
    let envelope = Envelope::at(
        "connection.created",
        json!({"provider": "sandbox"}),
        Some("python"),
        integrations::clock::now_ms(),
    );
    endpoint(&receiver, &[NEW_SECRET, SECRET])
        .deliver(&envelope)
        .await;
    let delivery = receiver.deliveries().remove(0);
    let python = std::env::var("STANDARDWEBHOOKS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import json, sys\n\
        from standardwebhooks.webhooks import Webhook\n\
        d = json.load(sys.stdin)\n\
        wh = Webhook(d['secret'])\n\
        print(json.dumps(wh.verify(d['body'], d['headers'])))\n";
    let verify = |body: &str| {
        let input = json!({"secret": SECRET, "body": body, "headers": {
            "webhook-id": delivery.id, "webhook-timestamp": delivery.timestamp.to_string(),
            "webhook-signature": delivery.signature}});
        let mut child = std::process::Command::new(&python)
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{python} does not start ({e}): set STANDARDWEBHOOKS_PYTHON"));
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let verified = verify(&delivery.raw);
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(
        !stderr.contains("No module named"),
        "{python} lacks the standardwebhooks package: pip install standardwebhooks==1.0.0 (.ci/run installs it)"
    );
    assert!(verified.status.success(), "{stderr}");
    let body: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(body["type"], "connection.created");
    let altered = verify(&delivery.raw.replace("sandbox", "hubspot"));
    assert!(!altered.status.success(), "an altered body verifies");
}

/// The deployed delivery path on moto's SQS, in process (the `webhooks` binary cannot reach a
/// receiver here, which would have to be https): a 429 asking for 2 s hides the message that
/// long, the next receive delivers it, verified, with the same id, and reports nothing to keep.
#[tokio::test]
async fn off_sqs_a_throttled_delivery_waits_its_retry_after_then_lands() {
    use integrations::webhooks::sqs::{Deliveries, SqsOutbox};
    use integrations::webhooks::Outbox;
    use support::moto::{create_webhooks_queues, receive, sqs_client, sqs_record};
    let receiver = Receiver::start(&[SECRET], vec![Answer::RetryAfter(2)]).await;
    let sqs = sqs_client().await;
    let (queue, dead) = create_webhooks_queues(&sqs).await;
    let deliveries = Deliveries {
        endpoint: Some(endpoint(&receiver, &[SECRET])),
        schedule: Schedule::new(Duration::from_millis(10)),
        client: sqs.clone(),
        queue_url: queue.clone(),
        dead_letters: Some(SqsOutbox::new(sqs.clone(), &dead)),
    };
    let envelope = Envelope::at(
        "connection.created",
        json!({"provider": "hubspot"}),
        Some("sqs"),
        integrations::clock::now_ms(),
    );
    SqsOutbox::new(sqs.clone(), &queue).send(&envelope).await.unwrap();
    let lambda_message = |message: &aws_sdk_sqs::types::Message| {
        serde_json::from_value(sqs_record(message, "webhooks")).unwrap()
    };

    let first = receive(&sqs, &queue, 1).await.expect("queued");
    let kept = deliveries.deliver(lambda_message(&first)).await;
    assert_eq!(
        kept.as_deref(),
        first.message_id(),
        "kept on the queue for the next try"
    );
    let throttled = std::time::Instant::now();
    let second = loop {
        if let Some(message) = receive(&sqs, &queue, 1).await {
            break message;
        }
        assert!(throttled.elapsed() < Duration::from_secs(10), "never came back");
    };
    assert!(
        throttled.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        throttled.elapsed()
    );
    assert_eq!(
        deliveries.deliver(lambda_message(&second)).await,
        None,
        "delivered"
    );
    let delivered = receiver.deliveries();
    assert_eq!(delivered.len(), 2);
    assert!(delivered
        .iter()
        .all(|delivery| delivery.id == envelope.id && delivery.verified_by == [0]));
    assert!(receive(&sqs, &dead, 1).await.is_none(), "nothing dead-lettered");
}

/// The webhooks queue refusing an event: the stream record is reported, to be handed over again.
#[tokio::test]
async fn a_stream_record_whose_event_cannot_be_queued_is_handed_over_again() {
    use integrations::webhooks::{DynOutbox, Outbox, OutboxError};
    struct Refusing;
    impl Outbox for Refusing {
        async fn send(&self, _: &Envelope) -> Result<(), OutboxError> {
            Err(OutboxError("throttled".into()))
        }
    }
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(support::event_path("webhooks-connection-created")).unwrap(),
    )
    .unwrap();
    let record = record["Records"][0].clone();
    let sequence = record["dynamodb"]["SequenceNumber"].as_str().map(str::to_owned);
    let refusing = DynOutbox::new_arc(Refusing);
    assert_eq!(stream::connection_changed(&refusing, record).await, sequence);
}
