//! Background syncs through the API: `POST …/sync` starts one, its steps run off a queue the test
//! drains (as SQS would deliver them), `GET …/sync` reports it and `GET …/items` reads what it
//! kept, by page and by change. Against the changing HubSpot and Notion fakes, with the items in
//! redb and in DynamoDB (moto).

mod support;

use std::collections::HashSet;
use std::time::Duration;

use http::StatusCode;
use integrations::sync::{ItemStore, Outcome};
use integrations::Function;
use serde_json::{json, Value};
use support::changing::{HubSpotPortal, NotionWorkspace};
use support::syncs::{deployment, ids, Deployment, Items};
use support::*;

/// A deployment over `kind`, a HubSpot portal of `contacts` at its fake, and a user connected to it.
async fn hubspot(
    kind: Items,
    extra: &[(&str, &str)],
    contacts: usize,
) -> (Deployment, HubSpotPortal, (String, String)) {
    let deployment = deployment(kind, extra).await;
    let portal = HubSpotPortal::mount(&deployment.fake, contacts).await;
    let token = unique("hubspot-token");
    let who = connect(&deployment.app, &deployment.fake, "hubspot", &token).await;
    (deployment, portal, who)
}

async fn hubspot_full_then_incremental(kind: Items, contacts: usize) {
    let (deployment, portal, who) = hubspot(kind, &[], contacts).await;
    let total = contacts + 2 * (contacts / 10);

    let started = deployment.start("hubspot", &who, false).await;
    assert_eq!(started["sync"]["status"], "running", "{started}");
    assert_eq!(started["sync"]["full"], true, "the first sync reads everything");
    let outcomes = deployment.drain().await;
    assert_eq!(outcomes.last(), Some(&Outcome::Stepped { finished: true }));
    let full_requests = portal.requests();
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(
        (
            &status["status"],
            &status["items"],
            &status["added"],
            &status["changed"],
            &status["deleted"]
        ),
        (&json!("idle"), &json!(total), &json!(total), &json!(0), &json!(0)),
        "{status}"
    );
    let fields: HashSet<&str> = status.as_object().unwrap().keys().map(String::as_str).collect();
    let shown = [
        "status",
        "full",
        "started_at",
        "finished_at",
        "items",
        "added",
        "changed",
        "deleted",
        "error",
    ];
    assert_eq!(
        fields,
        shown.into_iter().collect(),
        "what a sync shows, and never a token"
    );

    // Every item, once, in feed order, without a provider request.
    let all = deployment.every_item("hubspot", &who, "", 1000).await;
    assert_eq!(
        portal.requests(),
        full_requests,
        "/items never calls the provider"
    );
    let unique: HashSet<String> = ids(&all).into_iter().collect();
    assert_eq!((all.len(), unique.len()), (total, total));
    assert!(all
        .iter()
        .all(|item| item["deleted"] == false && item["synced_at"].is_string()));
    let (_, page) = deployment.items("hubspot", &who, "&limit=1").await;
    let synced_at = page["synced_at"].as_str().unwrap().to_owned();

    let edited = portal.edit("contacts", 3);
    let archived = portal.archive("deals", 2);
    let started = deployment.start("hubspot", &who, false).await;
    assert_eq!(started["sync"]["full"], false, "{started}");
    deployment.drain().await;
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(
        (
            &status["status"],
            &status["changed"],
            &status["deleted"],
            &status["added"],
            &status["items"]
        ),
        (&json!("idle"), &json!(3), &json!(2), &json!(0), &json!(total - 2)),
        "{status}"
    );
    let incremental_requests = portal.requests() - full_requests;
    assert_eq!(
        incremental_requests, 6,
        "one search and one page of archived objects per object type (the full sync made {full_requests})"
    );

    // The change feed since the full sync: exactly the five changes.
    let changes = deployment
        .every_item("hubspot", &who, &format!("&modified_after={synced_at}"), 2)
        .await;
    let mut changed = ids(&changes);
    changed.sort();
    let mut expected: Vec<String> = edited.iter().chain(&archived).cloned().collect();
    expected.sort();
    assert_eq!(changed, expected);
    for item in &changes {
        let id = item["id"].as_str().unwrap();
        assert_eq!(item["deleted"], archived.iter().any(|gone| gone == id), "{item}");
        if edited.iter().any(|edit| edit == id) {
            assert!(item["name"].as_str().unwrap().contains("Edited"), "{item}");
        }
    }
}

#[tokio::test]
async fn a_full_then_an_incremental_hubspot_sync_on_redb() {
    hubspot_full_then_incremental(Items::Redb, 5_000).await;
}

#[tokio::test]
async fn a_full_then_an_incremental_hubspot_sync_on_dynamodb() {
    hubspot_full_then_incremental(Items::Dynamo, 600).await;
}

#[tokio::test]
async fn two_sync_requests_race_to_one_running_sync() {
    let (deployment, _portal, who) = hubspot(Items::Redb, &[], 50).await;
    let (first, second) = tokio::join!(
        deployment.start("hubspot", &who, false),
        deployment.start("hubspot", &who, true)
    );
    assert_eq!(first["sync"], second["sync"], "both answer the one running sync");
    assert_eq!(first["sync"]["status"], "running");
    assert_eq!(deployment.queue.len(), 1, "one sync, one first step");
    deployment.drain().await;
    assert_eq!(deployment.status("hubspot", &who).await["items"], 60);
}

#[tokio::test]
async fn a_step_killed_midway_is_run_again_without_duplicates() {
    let (deployment, _portal, who) = hubspot(
        Items::Redb,
        &[("SYNC_STEP_SECS", "1"), ("SYNC_STEP_PAGES", "20")],
        2_000,
    )
    .await;
    deployment.start("hubspot", &who, false).await;
    let (first, _) = deployment.queue.pop().unwrap();
    // HubSpot's pages are paced 100 ms apart: this step dies a few pages in, after writing them.
    let killed = tokio::time::timeout(
        Duration::from_millis(450),
        deployment.syncer.step(&first, false, None),
    )
    .await;
    assert!(killed.is_err(), "the step was cut short");
    let (_, partial) = deployment.items("hubspot", &who, "&limit=1000").await;
    assert_eq!(
        partial["items"],
        json!([]),
        "nothing of a step in flight is shown"
    );
    assert_eq!(deployment.queue.len(), 0, "a dead step sends nothing");

    // Delivered again at once, the lease of the dead step still holds it back.
    assert_eq!(
        deployment.syncer.step(&first, true, None).await.unwrap(),
        Outcome::Stale
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(matches!(
        deployment.syncer.step(&first, true, None).await.unwrap(),
        Outcome::Stepped { .. }
    ));
    deployment.drain().await;
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(
        (
            &status["status"],
            &status["items"],
            &status["added"],
            &status["changed"]
        ),
        (&json!("idle"), &json!(2_400), &json!(2_400), &json!(0)),
        "what the dead step wrote is counted once: {status}"
    );
    let all = deployment.every_item("hubspot", &who, "", 1000).await;
    let unique: HashSet<String> = ids(&all).into_iter().collect();
    assert_eq!((all.len(), unique.len()), (2_400, 2_400));
}

#[tokio::test]
async fn a_429_storm_slows_a_sync_but_fails_nothing() {
    let (deployment, portal, who) = hubspot(Items::Redb, &[], 600).await;
    // Far below HubSpot's documented 100 per 10 s, which the sync paces itself to.
    portal.throttle(2, Duration::from_secs(1), 1);
    deployment.start("hubspot", &who, false).await;
    let outcomes = deployment.drain().await;
    assert!(!outcomes.contains(&Outcome::Failed), "{outcomes:?}");
    assert!(portal.throttled() > 0, "the fake did throttle");
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(
        (&status["status"], &status["items"]),
        (&json!("idle"), &json!(720)),
        "{status}"
    );
    assert_eq!(status["error"], Value::Null);
}

#[tokio::test]
async fn notion_syncs_read_newest_first_and_a_full_one_finds_what_was_trashed() {
    let deployment = deployment(Items::Redb, &[]).await;
    let workspace = NotionWorkspace::mount(&deployment.fake, 1_000).await;
    let who = connect(&deployment.app, &deployment.fake, "notion", "notion-sync-token").await;
    deployment.start("notion", &who, false).await;
    deployment.drain().await;
    let full_requests = workspace.requests();
    assert_eq!(full_requests, 10, "a thousand pages, a hundred a request");
    assert_eq!(deployment.status("notion", &who).await["items"], 1_000);

    let edited = workspace.edit(3);
    let trashed = workspace.trash(2);
    deployment.start("notion", &who, false).await;
    deployment.drain().await;
    let status = deployment.status("notion", &who).await;
    assert_eq!(
        (&status["full"], &status["changed"], &status["deleted"]),
        (&json!(false), &json!(3), &json!(0)),
        "the edited pages come first; Notion's search lists a trashed page no more: {status}"
    );
    assert_eq!(workspace.requests() - full_requests, 1, "one page of the newest");

    let started = deployment.start("notion", &who, true).await;
    assert_eq!(started["sync"]["full"], true);
    deployment.drain().await;
    let status = deployment.status("notion", &who).await;
    assert_eq!(
        (&status["deleted"], &status["items"], &status["changed"]),
        (&json!(2), &json!(998), &json!(0)),
        "{status}"
    );
    let (_, page) = deployment.items("notion", &who, "&limit=1000").await;
    let gone: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["deleted"] == true)
        .collect();
    let mut gone = ids(&gone.into_iter().cloned().collect::<Vec<_>>());
    gone.sort();
    let mut expected = trashed.clone();
    expected.sort();
    assert_eq!(gone, expected);
    assert!(edited.iter().all(|id| !trashed.contains(id)));
}

#[tokio::test]
async fn disconnecting_forgets_the_items_and_the_sync() {
    let (deployment, _portal, who) = hubspot(Items::Redb, &[], 30).await;
    deployment.start("hubspot", &who, false).await;
    deployment.drain().await;
    let key = integrations::connections::ConnectionId::new("hubspot", &who.1, &who.0)
        .unwrap()
        .key();
    assert_eq!(
        deployment
            .syncer
            .items()
            .by_id(&key, None, 100)
            .await
            .unwrap()
            .len(),
        36
    );

    let query = format!("?org_id={}&user_id={}", who.1, who.0);
    let disconnect = request(
        http::Method::DELETE,
        "hubspot",
        Function::Disconnect,
        &query,
        None,
        lambda_http::Body::Empty,
    );
    let (status, body) = call(&deployment.app, Function::Disconnect, disconnect).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(deployment
        .syncer
        .items()
        .by_id(&key, None, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(deployment
        .syncer
        .items()
        .sync_record(&key)
        .await
        .unwrap()
        .is_none());
    let (status, body) = deployment.items("hubspot", &who, "").await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some("No connection found: connect first through /authorize")
        )
    );
}

#[tokio::test]
async fn bad_input_to_the_sync_routes_is_a_clear_422() {
    let (deployment, _portal, who) = hubspot(Items::Redb, &[], 5).await;
    for (extra, detail) in [
        ("&limit=0", "limit must be a number from 1 to 1000"),
        ("&limit=1001", "limit must be a number from 1 to 1000"),
        ("&cursor=%%%", "cursor is malformed"),
        (
            "&modified_after=yesterday",
            "modified_after must be an RFC 3339 time, such as 2026-12-01T00:00:00Z",
        ),
    ] {
        let (status, body) = deployment.items("hubspot", &who, extra).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(detail)),
            "{extra}"
        );
    }
    let request = form(
        "hubspot",
        Function::StartSync,
        &[("user_id", &who.0), ("org_id", &who.1), ("full", "yes")],
    );
    let (status, body) = call(&deployment.app, Function::StartSync, request).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("full must be true or false")
        )
    );
    let request = form(
        "hubspot",
        Function::StartSync,
        &[("user_id", "nobody"), ("org_id", &who.1)],
    );
    let (status, _) = call(&deployment.app, Function::StartSync, request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Never synced: idle, nothing counted.
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(
        (&status["status"], &status["items"], &status["started_at"]),
        (&json!("idle"), &json!(0), &Value::Null)
    );
}

#[tokio::test]
async fn a_step_throttled_past_its_retries_is_deferred_by_retry_after_and_loses_nothing() {
    let (deployment, portal, who) = hubspot(Items::Redb, &[], 50).await;
    // One request in 5 s: a page's four attempts (1 s apart, its Retry-After) are all refused.
    portal.throttle(1, Duration::from_secs(5), 1);
    deployment.start("hubspot", &who, false).await;
    let outcomes = deployment.drain().await;
    assert!(
        outcomes.contains(&Outcome::Deferred(Duration::from_secs(1))),
        "the step sent itself again after Retry-After: {outcomes:?}"
    );
    assert!(!outcomes.contains(&Outcome::Failed), "{outcomes:?}");
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(
        (
            &status["status"],
            &status["items"],
            &status["added"],
            &status["error"]
        ),
        (&json!("idle"), &json!(60), &json!(60), &Value::Null),
        "{status}"
    );
}

#[tokio::test]
async fn a_refusal_fails_the_sync_with_the_providers_reason_and_a_later_sync_recovers() {
    use support::receiver::{Receiver, SECRET};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let receiver = Receiver::start(&[SECRET], vec![]).await;
    let hooks = [
        ("WEBHOOK_URL", receiver.url()),
        ("WEBHOOK_SECRETS", SECRET.to_owned()),
    ];
    let hooks: Vec<(&str, &str)> = hooks
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let (mut deployment, _portal, who) = hubspot(Items::Redb, &hooks, 20).await;
    let webhooks = deployment.webhooks.take().expect("webhooks configured");
    tokio::spawn(integrations::webhooks::local::run(webhooks));
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/companies"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "status": "error", "message": "This app hasn't been granted all required scopes",
            "category": "MISSING_SCOPES"
        })))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&deployment.fake)
        .await;
    deployment.start("hubspot", &who, false).await;
    assert_eq!(deployment.drain().await.last(), Some(&Outcome::Failed));
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .starts_with("HubSpot refused access"),
        "{status}"
    );
    assert_eq!(
        status["added"], 20,
        "the contacts read before the refusal are kept"
    );

    // The refusal was once: the next sync (a full one: the first never finished) recovers.
    let started = deployment.start("hubspot", &who, false).await;
    assert_eq!(started["sync"]["full"], true);
    deployment.drain().await;
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(
        (
            &status["status"],
            &status["items"],
            &status["added"],
            &status["error"]
        ),
        (&json!("idle"), &json!(24), &json!(4), &Value::Null),
        "{status}"
    );
    // Each end told once, verified, as GET …/sync showed it.
    assert_eq!(receiver.types(2).await, ["sync.failed", "sync.completed"]);
    let told = receiver.deliveries();
    assert!(told.iter().all(|delivery| delivery.verified_by == [0]));
    let (failed, completed) = (&told[0].body["data"], &told[1].body["data"]);
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .starts_with("HubSpot refused access"),
        "{failed}"
    );
    assert_eq!(
        (&failed["status"], &failed["added"]),
        (&json!("failed"), &json!(20))
    );
    assert_eq!(
        (&completed["status"], &completed["items"], &completed["error"]),
        (&json!("idle"), &json!(24), &Value::Null)
    );
    assert_eq!(
        (&completed["provider"], &completed["user_id"]),
        (&json!("hubspot"), &json!(who.0))
    );
}

/// `local-api`'s syncs survive a restart: the queue is in memory, the position in items.redb,
/// and the new process's first finder pass resumes what was left running.
#[tokio::test]
async fn a_local_sync_cut_short_by_a_restart_resumes_where_it_was() {
    use integrations::connections::{self, EmbeddedStore};
    use integrations::resources::Resources;
    use integrations::single_use::{MemoryBackend, SingleUse};
    use integrations::sync::local::{run, Timing};
    use integrations::App;
    let fake = wiremock::MockServer::start().await;
    let portal = HubSpotPortal::mount(&fake, 2_000).await;
    let dir = std::env::temp_dir().join(unique("restart"));
    let dir_text = dir.display().to_string();
    let settings = [("DATA_DIR", dir_text.as_str()), ("SYNC_STEP_PAGES", "2")];
    let process = || async {
        std::fs::create_dir_all(&dir).unwrap();
        let kept = EmbeddedStore::open(dir.join("connections.redb"), sealer()).unwrap();
        let resources = Resources::with_stores(
            config(&fake.uri(), &settings),
            SingleUse::new(MemoryBackend::default(), sealer()),
            Some(connections::shared(kept)),
        );
        let app = App::build(&resources).await.unwrap();
        (resources, app)
    };
    let who = {
        let (resources, app) = process().await;
        let who = connect(&app, &fake, "hubspot", "hubspot-restart-token").await;
        let request = form(
            "hubspot",
            Function::StartSync,
            &[("user_id", &who.0), ("org_id", &who.1)],
        );
        assert_eq!(
            call(&app, Function::StartSync, request).await.0,
            StatusCode::ACCEPTED
        );
        // Two steps run, as the process's worker would run them; then the process stops, its
        // queue (the third step) with it.
        let syncer = resources.syncer().await.unwrap().unwrap();
        let mut steps = resources.take_local_sync().unwrap();
        for _ in 0..2 {
            let (message, _) = steps.recv().await.unwrap();
            syncer.step(&message, false, None).await.unwrap();
        }
        who
    };
    let read_before = portal.requests();
    let (resources, app) = process().await;
    let syncer = resources.syncer().await.unwrap().unwrap();
    let steps = resources.take_local_sync().unwrap();
    let timing = Timing {
        finder_every: Duration::from_millis(200),
        redelivery: Duration::from_millis(100),
    };
    tokio::spawn(run(syncer, steps, timing));
    let query = format!("?org_id={}&user_id={}", who.1, who.0);
    let status = loop {
        let request = request(
            http::Method::GET,
            "hubspot",
            Function::SyncStatus,
            &query,
            None,
            lambda_http::Body::Empty,
        );
        let (_, status) = call(&app, Function::SyncStatus, request).await;
        if status["status"] != "running" {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (&status["status"], &status["items"], &status["added"]),
        (&json!("idle"), &json!(2_400), &json!(2_400)),
        "{status}"
    );
    // 24 pages in all: the resumed sync read only the 20 the first process had not.
    assert_eq!(portal.requests() - read_before, 20);
}

/// Deployed, the connections table's stream drives the sync function: a new connection is
/// synced at once, a deleted one's items and sync record are forgotten.
#[tokio::test]
async fn the_connections_stream_syncs_new_connections_and_forgets_deleted_ones() {
    use integrations::connections::ConnectionId;
    use integrations::sync::events::handle;
    let (deployment, _portal, who) = hubspot(Items::Dynamo, &[], 40).await;
    let key = ConnectionId::new("hubspot", &who.1, &who.0).unwrap().key();
    let record = |name: &str| {
        json!({"Records": [{"eventID": "1", "eventName": name, "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {"Keys": {"pk": {"S": key}}, "SequenceNumber": "100", "StreamViewType": "KEYS_ONLY"}}]})
    };
    let answer = handle(&deployment.syncer, record("INSERT"), None).await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert_eq!(
        deployment.queue.len(),
        1,
        "the new connection's first step is queued"
    );
    deployment.drain().await;
    let items = deployment.syncer.items();
    assert_eq!(items.by_id(&key, None, 100).await.unwrap().len(), 48);

    let answer = handle(&deployment.syncer, record("REMOVE"), None).await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert!(items.by_id(&key, None, 100).await.unwrap().is_empty());
    assert!(items.sync_record(&key).await.unwrap().is_none());
    // A record of another table's shape, or a MODIFY, changes nothing and is not retried.
    let answer = handle(&deployment.syncer, record("MODIFY"), None).await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
}

/// A child listed pages after its parent still carries the parent's name, and naming it is no
/// change: the name is derived, not the provider's.
#[tokio::test]
async fn a_child_on_a_later_page_is_named_after_its_kept_parent() {
    use support::fakes::notion_page;
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, ResponseTemplate};
    let deployment = deployment(Items::Redb, &[]).await;
    let fake = &deployment.fake;
    let workspace = json!({"type": "workspace", "workspace": true});
    let parent = notion_page("p-parent", "Roadmap", workspace);
    let child = notion_page("p-child", "Q3", json!({"type": "page_id", "page_id": "p-parent"}));
    let answer = |results: Value, next: Option<&str>| {
        ResponseTemplate::new(200).set_body_json(json!({"object": "list", "results": results,
            "has_more": next.is_some(), "next_cursor": next}))
    };
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(body_partial_json(json!({"start_cursor": "second"})))
        .respond_with(answer(json!([child]), None))
        .with_priority(1)
        .mount(fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .respond_with(answer(json!([parent]), Some("second")))
        .mount(fake)
        .await;
    let token = unique("notion-token");
    let who = connect(&deployment.app, fake, "notion", &token).await;
    for full in [false, true] {
        deployment.start("notion", &who, full).await;
        deployment.drain().await;
    }
    let status = deployment.status("notion", &who).await;
    assert_eq!(
        (&status["items"], &status["changed"]),
        (&json!(2), &json!(0)),
        "{status}"
    );
    let (_, page) = deployment.items("notion", &who, "").await;
    let child = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == "p-child")
        .unwrap()
        .clone();
    assert_eq!(child["parent_path_or_name"], "Roadmap", "{child}");
}

/// HubSpot's ids are unique within an object type only: a contact and a company of one id are
/// two items, and archiving one leaves the other.
#[tokio::test]
async fn items_of_two_types_with_one_id_are_two_items() {
    use support::fakes::hubspot_object;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let deployment = deployment(Items::Redb, &[]).await;
    for (object, properties) in [
        ("contacts", json!({"firstname": "Ada", "lastname": "Lovelace"})),
        ("companies", json!({"name": "Analytical Engines"})),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/crm/v3/objects/{object}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"results": [hubspot_object("101", properties)]})),
            )
            .mount(&deployment.fake)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/deals"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .mount(&deployment.fake)
        .await;
    let who = connect(&deployment.app, &deployment.fake, "hubspot", &unique("token")).await;
    deployment.start("hubspot", &who, false).await;
    deployment.drain().await;
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(
        (&status["items"], &status["added"]),
        (&json!(2), &json!(2)),
        "{status}"
    );
    let (_, page) = deployment.items("hubspot", &who, "").await;
    let mut kinds: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["company", "contact"]);
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|item| item["id"] == "101"));
}
