//! The app's webhook receiver: verifies every delivery with `standardwebhooks` against each
//! secret it knows, keeps it, and answers as scripted (a status, a 429 with `Retry-After`, no
//! answer in time); 204 once the script runs out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use standardwebhooks::Webhook;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const NEW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    RetryAfter(u64),
    /// No answer for this long.
    Hang(Duration),
}

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: Value,
    pub raw: String,
    /// Which of the receiver's secrets verify it (by index).
    pub verified_by: Vec<usize>,
    pub at: Instant,
}

pub struct Receiver {
    pub server: MockServer,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

struct Scripted {
    secrets: Vec<String>,
    script: Mutex<VecDeque<Answer>>,
    /// Answers 503 to everything until then: an outage.
    down_until: Option<Instant>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl Respond for Scripted {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let verified_by = self
            .secrets
            .iter()
            .enumerate()
            .filter(|(_, secret)| {
                Webhook::new(secret)
                    .unwrap()
                    .verify(&request.body, &request.headers)
                    .is_ok()
            })
            .map(|(index, _)| index)
            .collect();
        let raw = String::from_utf8_lossy(&request.body).into_owned();
        self.deliveries.lock().unwrap().push(Delivery {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp").parse().unwrap_or_default(),
            signature: header("webhook-signature"),
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
            verified_by,
            at: Instant::now(),
        });
        if self.down_until.is_some_and(|until| Instant::now() < until) {
            return ResponseTemplate::new(503);
        }
        match self.script.lock().unwrap().pop_front() {
            None => ResponseTemplate::new(204),
            Some(Answer::Status(status)) => ResponseTemplate::new(status),
            Some(Answer::RetryAfter(seconds)) => {
                ResponseTemplate::new(429).insert_header("retry-after", seconds.to_string().as_str())
            }
            Some(Answer::Hang(wait)) => ResponseTemplate::new(204).set_delay(wait),
        }
    }
}

impl Receiver {
    /// A receiver knowing `secrets`, answering `script` first.
    pub async fn start(secrets: &[&str], script: Vec<Answer>) -> Self {
        Self::serve(secrets, script, None).await
    }

    /// A receiver that is down (503) until `until`.
    pub async fn down_until(secrets: &[&str], until: Instant) -> Self {
        Self::serve(secrets, Vec::new(), Some(until)).await
    }

    async fn serve(secrets: &[&str], script: Vec<Answer>, down_until: Option<Instant>) -> Self {
        let server = MockServer::start().await;
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path("/hooks"))
            .respond_with(Scripted {
                secrets: secrets.iter().map(|secret| secret.to_string()).collect(),
                script: Mutex::new(script.into()),
                down_until,
                deliveries: deliveries.clone(),
            })
            .mount(&server)
            .await;
        Receiver { server, deliveries }
    }

    pub fn url(&self) -> String {
        format!("{}/hooks", self.server.uri())
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// The deliveries once at least `count` arrived (10 s at most).
    pub async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let deliveries = self.deliveries();
            if deliveries.len() >= count || Instant::now() > deadline {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The types delivered, in order, once `count` arrived.
    pub async fn types(&self, count: usize) -> Vec<String> {
        self.wait_for(count)
            .await
            .iter()
            .map(|delivery| delivery.body["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}
