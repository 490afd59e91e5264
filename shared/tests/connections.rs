//! The connections store on DynamoDB (moto) and on the embedded redb file, with the same test
//! bodies, and single-flight refresh across several store instances.

mod support;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integrations::clock::{now, now_ms};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use integrations::connections::refresh::{
    fresh_tokens, Due, Fresh, GrantFailure, RefreshError, RefreshOptions,
};
use integrations::connections::{
    self, Account, Connection, ConnectionId, ConnectionStore, ConnectionStoreError, DynamoStore,
    EmbeddedStore, LeaseOutcome, Reauthorization, SharedStore, Status,
};
use integrations::crypto::Sealer;
use integrations::keeper::Keeper;
use integrations::refresher::refresh_due;
use integrations::tokens::TokenSet;
use support::{moto, sealer, TEST_KEY};

#[derive(Clone, Copy)]
enum Kind {
    Dynamo,
    Embedded,
}

/// A store over a table (or file) of its own.
struct Fixture {
    store: SharedStore,
    /// DynamoDB: the table, to read and write raw items.
    dynamo: Option<(Client, String)>,
    /// Embedded: the redb file, in a directory removed on drop.
    dir: Option<TempDir>,
}

impl Fixture {
    async fn new(kind: Kind) -> Fixture {
        match kind {
            Kind::Dynamo => {
                let client = moto::client().await;
                let table = moto::create_table(&client).await;
                Fixture {
                    store: connections::shared(DynamoStore::new(client.clone(), &table, sealer())),
                    dynamo: Some((client, table)),
                    dir: None,
                }
            }
            Kind::Embedded => {
                let dir = TempDir::new();
                let store = EmbeddedStore::open(dir.file(), sealer()).unwrap();
                Fixture {
                    store: connections::shared(store),
                    dynamo: None,
                    dir: Some(dir),
                }
            }
        }
    }

    /// Another instance over the same data, as another process would hold: its own SDK client.
    /// (redb locks its file to one process, so the embedded store is shared instead.)
    async fn another(&self) -> SharedStore {
        match &self.dynamo {
            Some((_, table)) => connections::shared(DynamoStore::new(moto::client().await, table, sealer())),
            None => self.store.clone(),
        }
    }

    /// The same data through a store with other keys, as a deployment after a key change.
    fn reopen(mut self, sealer: Sealer) -> Fixture {
        self.store = match (&self.dynamo, &self.dir) {
            (Some((client, table)), _) => {
                connections::shared(DynamoStore::new(client.clone(), table, sealer))
            }
            (None, Some(dir)) => {
                // redb locks its file: the old instance must be gone first.
                drop(self.store);
                connections::shared(EmbeddedStore::open(dir.file(), sealer).unwrap())
            }
            (None, None) => unreachable!(),
        };
        self
    }

    /// Every byte stored: the raw items, or the database file.
    async fn raw(&self) -> Vec<u8> {
        match (&self.dynamo, &self.dir) {
            (Some((client, table)), _) => {
                let items = client
                    .scan()
                    .table_name(table)
                    .send()
                    .await
                    .unwrap()
                    .items
                    .unwrap();
                assert!(!items.is_empty());
                format!("{items:?}").into_bytes()
            }
            (None, Some(dir)) => std::fs::read(dir.file()).unwrap(),
            (None, None) => unreachable!(),
        }
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("connections-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn file(&self) -> PathBuf {
        self.0.join("connections.redb")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs each body on both backends as `dynamo::name` and `embedded::name`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::new(super::Kind::Dynamo).await).await;
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::new(super::Kind::Embedded).await).await;
                }
            )*
        }
    };
}

on_both!(
    save_and_get_keep_created_at,
    ids_with_separators_never_share_a_key,
    reconnect_revives_a_connection,
    list_pages_and_filters,
    malformed_cursors_and_limits_are_errors,
    delete_removes_the_connection,
    due_lists_active_expiring_connections,
    no_token_is_stored_in_plaintext,
    only_one_concurrent_lease_wins,
    an_expired_lease_is_taken_over,
    a_late_commit_revives_a_marked_connection,
    a_refusal_after_a_takeover_waits_for_the_lapsed_holder,
    a_refusal_after_a_takeover_marks_once_the_window_passed,
    a_refusal_after_a_takeover_without_time_to_wait_marks_nothing,
    keys_rotate_without_reconnects,
    single_flight_refresh,
    a_dead_holder_is_taken_over,
    a_refused_grant_needs_reauthorization,
    a_transient_failure_leaves_the_connection_active,
    tokens_not_due_are_returned_unless_forced,
    no_refresh_without_time_left,
    short_lived_tokens_are_refreshed_past_half_their_life,
);

fn id(provider: &str, org_id: &str, user_id: &str) -> ConnectionId {
    ConnectionId::new(provider, org_id, user_id).unwrap()
}

/// A token set named by its access token, expiring at `expires_at`.
fn tokens(access: &str, expires_at: Option<i64>) -> TokenSet {
    let raw = serde_json::json!({ "access_token": access, "refresh_token": format!("{access}-refresh") });
    TokenSet {
        expires_at,
        ..TokenSet::from_response(raw.as_object().unwrap().clone(), now()).unwrap()
    }
}

/// Which token set a connection holds: its access token.
fn access(tokens: Option<TokenSet>) -> String {
    tokens.expect("the tokens open").access_token
}

async fn save(store: &SharedStore, id: &ConnectionId, access: &str, expires_at: Option<i64>) -> Connection {
    store
        .save_connected(id, &tokens(access, expires_at), None, now())
        .await
        .unwrap()
}

fn options(owner: &str) -> RefreshOptions {
    RefreshOptions {
        due: Due::Within(Duration::from_secs(60)),
        force: false,
        lease: Duration::from_secs(5),
        commit_budget: Duration::from_secs(2),
        deadline: None,
        min_time_to_refresh: Duration::from_secs(1),
        owner: format!("{owner}-{:08x}", rand::random::<u32>()),
    }
}

type RefreshFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<TokenSet, GrantFailure>> + Send>>;

/// A refresh that counts its calls, takes `delay`, and answers `outcome`.
fn counting(
    calls: &Arc<AtomicUsize>,
    delay: Duration,
    outcome: Result<&str, GrantFailure>,
) -> impl FnOnce(TokenSet) -> RefreshFuture {
    let calls = Arc::clone(calls);
    let outcome = outcome.map(str::to_owned);
    move |current| {
        Box::pin(async move {
            assert_eq!(
                current.refresh_token,
                Some(format!("{}-refresh", current.access_token)),
                "the refresh gets the current token set"
            );
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            outcome.map(|access| tokens(&access, Some(now() + 3600)))
        })
    }
}

async fn save_and_get_keep_created_at(f: Fixture) {
    let id = id("notion", "org-1", "user-1");
    let account = Account {
        id: Some("acct-1".into()),
        name: Some("Ada's workspace".into()),
    };
    let scopes = vec!["read".to_owned(), "write".to_owned()];
    let first = now() - 100;
    let set = TokenSet {
        scopes: scopes.clone(),
        ..tokens("at-1", Some(first + 3600))
    };
    let saved = f
        .store
        .save_connected(&id, &set, Some(&account), first)
        .await
        .unwrap();
    let got = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(got, saved);
    assert_eq!(got.id, id);
    assert_eq!(got.status, Status::Active);
    assert_eq!(got.tokens, Some(set), "the whole token set comes back");
    assert_eq!(got.scopes, scopes);
    assert_eq!(got.account, Some(account));
    assert_eq!((got.created_at, got.updated_at), (first, first));
    assert_eq!(got.expires_at, Some(first + 3600));
    assert_eq!((got.last_refreshed_at, got.version), (None, 1));
    assert_eq!((got.lease_owner, got.lease_expires_at_ms), (None, None));

    let again = now();
    f.store
        .save_connected(&id, &tokens("at-2", None), None, again)
        .await
        .unwrap();
    let got = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!((got.created_at, got.updated_at), (first, again));
    assert_eq!(access(got.tokens), "at-2");
    assert_eq!((got.expires_at, got.account, got.version), (None, None, 2));
    assert!(got.scopes.is_empty());
    assert!(f
        .store
        .get(&self::id("notion", "org-1", "user-2"))
        .await
        .unwrap()
        .is_none());
}

async fn ids_with_separators_never_share_a_key(f: Fixture) {
    let ids = [
        id("notion", "o:x", "u"),
        id("notion", "o", "x:u"),
        id("notion", "o#x", "u"),
        id("notion", "o", "x#u"),
        id("notion#o", "x", "u"),
        id("nötion", "ørg 🦀", &"u".repeat(256)),
    ];
    for (n, id) in ids.iter().enumerate() {
        save(&f.store, id, &format!("at-{n}"), None).await;
    }
    for (n, id) in ids.iter().enumerate() {
        let got = f.store.get(id).await.unwrap().unwrap();
        assert_eq!(&got.id, id);
        assert_eq!(access(got.tokens), format!("at-{n}"));
    }
    assert!(matches!(
        ConnectionId::new("notion", "o", &"u".repeat(257)),
        Err(ConnectionStoreError::InvalidId(integrations::ids::InvalidId {
            name: "user_id",
            ..
        }))
    ));
    assert!(ConnectionId::new("", "o", "u").is_err());
}

async fn reconnect_revives_a_connection(f: Fixture) {
    let id = id("hubspot", "org", "user");
    save(&f.store, &id, "at-1", Some(now() - 10)).await;
    let outcome = f
        .store
        .acquire_lease(&id, 1, "refresher", 10_000, now_ms())
        .await
        .unwrap();
    assert_eq!(outcome, LeaseOutcome::Acquired);
    assert!(f
        .store
        .mark_needs_reauthorization(&id, 1, Reauthorization::RefreshRefused, now())
        .await
        .unwrap());
    let got = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.lease_owner),
        (Status::NeedsReauthorization, None)
    );
    let (due, _) = f.store.due(now() + 3600, 10, None).await.unwrap();
    assert!(due.is_empty(), "a connection needing reauthorization is not due");

    save(&f.store, &id, "at-2", Some(now() + 3600)).await;
    let got = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!((got.status, got.version), (Status::Active, 2));
    assert_eq!(access(got.tokens), "at-2");
}

async fn list_pages_and_filters(f: Fixture) {
    let org = "org#1:x";
    let mut all = Vec::new();
    for (provider, user) in [
        ("notion", "u1"),
        ("hubspot", "u1"),
        ("airtable", "u2"),
        ("notion", "u2"),
        ("notion", "u10"),
        ("hubspot", "u#3"),
        ("airtable", "u1"),
    ] {
        let id = id(provider, org, user);
        save(&f.store, &id, &format!("{provider}-{user}"), None).await;
        all.push(id);
    }
    save(&f.store, &id("notion", "org#1", "u1"), "other-org", None).await;
    save(&f.store, &id("notion", "org#1:xy", "u1"), "other-org", None).await;
    all.sort_by(|a, b| (a.provider(), a.user_id()).cmp(&(b.provider(), b.user_id())));

    let pages = list_all(&f.store, org, None, None, 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(pages.concat(), all);

    let pages = list_all(&f.store, org, Some("u1"), None, 2).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
    let expected: Vec<_> = all.iter().filter(|id| id.user_id() == "u1").cloned().collect();
    assert_eq!(pages.concat(), expected);

    let pages = list_all(&f.store, org, None, Some("notion"), 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3]);
    let expected: Vec<_> = all
        .iter()
        .filter(|id| id.provider() == "notion")
        .cloned()
        .collect();
    assert_eq!(pages.concat(), expected);

    let pages = list_all(&f.store, org, Some("u2"), Some("notion"), 1).await;
    assert_eq!(pages.concat(), [id("notion", org, "u2")]);

    let (page, next) = f.store.list("nobody", None, None, 10, None).await.unwrap();
    assert!(page.is_empty() && next.is_none());
    let (page, _) = f.store.list(org, None, None, 1, None).await.unwrap();
    // A listing reads an index that holds no tokens, so it never opens any.
    assert_eq!((page[0].tokens.as_ref(), page[0].version), (None, 1));
    assert_eq!(page[0].status, Status::Active);
}

/// Every page of a listing, checking that only the last one has no cursor.
async fn list_all(
    store: &SharedStore,
    org: &str,
    user: Option<&str>,
    provider: Option<&str>,
    limit: usize,
) -> Vec<Vec<ConnectionId>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = store
            .list(org, user, provider, limit, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.len() <= limit);
        pages.push(page.into_iter().map(|connection| connection.id).collect());
        match next {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 20, "the listing does not end");
    }
}

async fn malformed_cursors_and_limits_are_errors(f: Fixture) {
    for id in [
        id("notion", "org", "u1"),
        id("notion", "org", "u2"),
        id("hubspot", "org", "u1"),
    ] {
        save(&f.store, &id, "at", None).await;
    }
    let (_, hubspot_cursor) = f.store.list("org", None, None, 1, None).await.unwrap();
    let hubspot_cursor = hubspot_cursor.unwrap();
    for cursor in ["", "!!!", "Zm9v", "Zm9vLmJhcg", "%%", "AAAA", &"A".repeat(5000)] {
        let result = f.store.list("org", None, None, 10, Some(cursor)).await;
        assert!(
            matches!(result, Err(ConnectionStoreError::InvalidCursor)),
            "list cursor {cursor:?}: {result:?}"
        );
        let result = f.store.due(now(), 10, Some(cursor)).await;
        assert!(
            matches!(result, Err(ConnectionStoreError::InvalidCursor)),
            "due cursor {cursor:?}: {result:?}"
        );
    }
    let result = f
        .store
        .list("org", None, Some("notion"), 10, Some(&hubspot_cursor))
        .await;
    assert!(matches!(result, Err(ConnectionStoreError::InvalidCursor)));
    for limit in [0, 101] {
        let result = f.store.list("org", None, None, limit, None).await;
        assert!(matches!(result, Err(ConnectionStoreError::InvalidLimit)));
        let result = f.store.due(now(), limit, None).await;
        assert!(matches!(result, Err(ConnectionStoreError::InvalidLimit)));
    }
    let (page, next) = f
        .store
        .list("org", None, None, 100, Some(&hubspot_cursor))
        .await
        .unwrap();
    assert_eq!((page.len(), next), (2, None));
}

async fn delete_removes_the_connection(f: Fixture) {
    let id = id("airtable", "org", "user");
    save(&f.store, &id, "at", Some(now() + 10)).await;
    assert!(
        !f.store.delete(&id, 2, "revoked").await.unwrap(),
        "not at the version read"
    );
    assert!(f.store.get(&id).await.unwrap().is_some());
    assert!(f.store.delete(&id, 1, "revoked").await.unwrap());
    assert!(f.store.get(&id).await.unwrap().is_none());
    assert!(!f.store.delete(&id, 1, "revoked").await.unwrap());
    let (page, _) = f.store.list("org", None, None, 10, None).await.unwrap();
    assert!(page.is_empty());
    let (due, _) = f.store.due(now() + 100, 10, None).await.unwrap();
    assert!(due.is_empty());
}

async fn due_lists_active_expiring_connections(f: Fixture) {
    let t = now();
    for (user, expires_at) in [
        ("late", Some(t + 30)),
        ("soon", Some(t + 10)),
        ("never", None),
        ("mid", Some(t + 20)),
        ("later", Some(t + 40)),
    ] {
        save(&f.store, &id("notion", "org", user), "at", expires_at).await;
    }
    let dead = id("notion", "org", "dead");
    save(&f.store, &dead, "at", Some(t + 5)).await;
    f.store
        .acquire_lease(&dead, 1, "me", 1000, now_ms())
        .await
        .unwrap();
    assert!(f
        .store
        .mark_needs_reauthorization(&dead, 1, Reauthorization::RefreshRefused, t)
        .await
        .unwrap());

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = f.store.due(t + 35, 1, cursor.as_deref()).await.unwrap();
        assert_eq!(page.len(), 1);
        seen.extend(
            page.into_iter()
                .map(|due| (due.id.user_id().to_owned(), due.expires_at - t)),
        );
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    // Soonest first within each shard; every due connection exactly once across them.
    seen.sort();
    let expected = [("late", 30), ("mid", 20), ("soon", 10)].map(|(user, left)| (user.to_owned(), left));
    assert_eq!(seen, expected);
    let (page, next) = f.store.due(t + 10, 10, None).await.unwrap();
    assert!(
        page.is_empty() && next.is_none(),
        "expires_at must be before, not at"
    );
}

async fn no_token_is_stored_in_plaintext(f: Fixture) {
    let id = id("hubspot", "org", "user");
    let secret = serde_json::json!({"access_token": "AT-5ecret-d0-not-store",
        "refresh_token": "RT-5ecret-d0-not-store", "expires_in": 1});
    let secret = TokenSet::from_response(secret.as_object().unwrap().clone(), now() - 2).unwrap();
    f.store.save_connected(&id, &secret, None, now()).await.unwrap();
    let refreshed = fresh_tokens(&f.store, &id, options("p"), |_| async {
        let next = serde_json::json!({"access_token": "AT2-5ecret-d0-not-store", "expires_in": 3600});
        Ok(TokenSet::from_response(next.as_object().unwrap().clone(), now()).unwrap())
    })
    .await
    .unwrap();
    assert!(refreshed.refreshed);
    let raw = f.raw().await;
    for needle in ["5ecret", "AT2-", "RT-", "access_token"] {
        assert!(
            !raw.windows(needle.len())
                .any(|window| window == needle.as_bytes()),
            "{needle} is stored in plaintext"
        );
    }
    if f.dynamo.is_some() {
        assert!(
            String::from_utf8_lossy(&raw).contains("hubspot"),
            "the scan sees the item"
        );
    }
}

/// A connection's DynamoDB item as stored, read past the store.
async fn stored_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &ConnectionId,
) -> std::collections::HashMap<String, AttributeValue> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(id.key()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

#[tokio::test]
async fn a_sealed_blob_moved_to_another_item_does_not_open() {
    let f = Fixture::new(Kind::Dynamo).await;
    let (client, table) = f.dynamo.as_ref().unwrap();
    let (alice, bob) = (id("notion", "org", "alice"), id("notion", "org", "bob"));
    save(&f.store, &alice, "alice-token", None).await;
    save(&f.store, &bob, "bob-token", None).await;
    let item = stored_item(client, table, &alice).await;
    client
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(bob.key()))
        .update_expression("SET tokens = :t")
        .expression_attribute_values(":t", item["tokens"].clone())
        .send()
        .await
        .unwrap();
    let got = f.store.get(&bob).await.unwrap().unwrap();
    assert_eq!((got.status, got.tokens), (Status::Active, None));
    let result = fresh_tokens(&f.store, &bob, options("p"), |_| async { unreachable!() }).await;
    assert!(matches!(result, Err(RefreshError::Unreadable)), "{result:?}");
    assert!(f.store.get(&alice).await.unwrap().unwrap().tokens.is_some());
}

async fn only_one_concurrent_lease_wins(f: Fixture) {
    let id = id("notion", "org", "user");
    save(&f.store, &id, "at", Some(now() - 1)).await;
    let stores = [f.store.clone(), f.another().await, f.another().await];
    let now_ms = now_ms();
    let attempts = (0..20).map(|n| {
        let (store, id) = (stores[n % 3].clone(), id.clone());
        tokio::spawn(async move {
            store
                .acquire_lease(&id, 1, &format!("owner-{n}"), 10_000, now_ms)
                .await
        })
    });
    let outcomes: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|outcome| outcome.unwrap().unwrap())
        .collect();
    let won = outcomes
        .iter()
        .filter(|outcome| **outcome == LeaseOutcome::Acquired)
        .count();
    assert_eq!(won, 1, "{outcomes:?}");
    let busy = LeaseOutcome::Busy {
        until_ms: now_ms + 10_000,
    };
    assert_eq!(outcomes.iter().filter(|outcome| **outcome == busy).count(), 19);
    let holder = f.store.get(&id).await.unwrap().unwrap().lease_owner.unwrap();
    assert!(holder.starts_with("owner-"));

    assert_eq!(
        f.store
            .acquire_lease(&id, 2, "late", 10_000, now_ms + 20_000)
            .await
            .unwrap(),
        LeaseOutcome::Changed
    );
    let gone = self::id("notion", "org", "nobody");
    assert_eq!(
        f.store
            .acquire_lease(&gone, 1, "x", 10_000, now_ms)
            .await
            .unwrap(),
        LeaseOutcome::Gone
    );
    assert!(
        f.store.get(&gone).await.unwrap().is_none(),
        "a failed lease creates nothing"
    );
}

async fn an_expired_lease_is_taken_over(f: Fixture) {
    let id = id("notion", "org", "user");
    save(&f.store, &id, "at", Some(now() - 1)).await;
    let t = now_ms();
    assert_eq!(
        f.store.acquire_lease(&id, 1, "old", 1000, t).await.unwrap(),
        LeaseOutcome::Acquired
    );
    assert_eq!(
        f.store.acquire_lease(&id, 1, "new", 1000, t + 999).await.unwrap(),
        LeaseOutcome::Busy { until_ms: t + 1000 }
    );
    assert_eq!(
        f.store
            .acquire_lease(&id, 1, "new", 5000, t + 1000)
            .await
            .unwrap(),
        LeaseOutcome::TakenOver {
            lapsed_at_ms: t + 1000
        }
    );
    assert!(
        !f.store.release_lease(&id, "old", false).await.unwrap(),
        "no longer its lease"
    );
    // The old holder outlived its lease but commits first: its pair is the newest there is.
    assert!(f
        .store
        .commit_refresh(&id, 1, &tokens("old", Some(now() + 60)), now())
        .await
        .unwrap());
    // The taker's commit and mark of the same version are refused: a newer version exists.
    assert!(!f
        .store
        .commit_refresh(&id, 1, &tokens("new", Some(now() + 3600)), now())
        .await
        .unwrap());
    assert!(!f
        .store
        .mark_needs_reauthorization(&id, 1, Reauthorization::RefreshRefused, now())
        .await
        .unwrap());
    let got = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(access(got.tokens), "old");
    assert_eq!(
        (got.version, got.status, got.lease_owner),
        (2, Status::Active, None)
    );
    assert_eq!(got.last_refreshed_at, Some(got.updated_at));
    assert!(f
        .store
        .commit_refresh(&id, 2, &tokens("again", None), now())
        .await
        .unwrap());
}

/// A mark keeps the version, so a late commit of that version (newer tokens than the refused
/// ones) still lands and revives the connection.
async fn a_late_commit_revives_a_marked_connection(f: Fixture) {
    let id = id("airtable", "org", "user");
    save(&f.store, &id, "at", Some(now() - 1)).await;
    assert!(f
        .store
        .mark_needs_reauthorization(&id, 1, Reauthorization::RefreshRefused, now())
        .await
        .unwrap());
    assert!(
        !f.store
            .mark_needs_reauthorization(&id, 1, Reauthorization::RefreshRefused, now())
            .await
            .unwrap(),
        "already marked"
    );
    let (due, _) = f.store.due(now() + 3600, 10, None).await.unwrap();
    assert!(due.is_empty());
    assert!(f
        .store
        .commit_refresh(&id, 1, &tokens("late", Some(now() + 60)), now())
        .await
        .unwrap());
    let got = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!((got.status, got.version), (Status::Active, 2));
    assert_eq!(access(got.tokens), "late");
    let (due, _) = f.store.due(now() + 3600, 10, None).await.unwrap();
    assert_eq!(due.len(), 1, "due again");
}

async fn single_flight_refresh(f: Fixture) {
    let id = id("hubspot", "org", "user");
    save(&f.store, &id, "expired", Some(now() - 10)).await;
    let stores = [f.store.clone(), f.another().await, f.another().await];
    let calls = Arc::new(AtomicUsize::new(0));
    let requests = (0..30).map(|n| {
        let (store, id) = (stores[n % 3].clone(), id.clone());
        let refresh = counting(&calls, Duration::from_millis(200), Ok("refreshed"));
        tokio::spawn(async move { fresh_tokens(&store, &id, options(&format!("caller-{n}")), refresh).await })
    });
    let results: Vec<Fresh> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|result| result.unwrap().unwrap())
        .collect();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(results.iter().filter(|fresh| fresh.refreshed).count(), 1);
    let tokens_seen: HashSet<_> = results
        .iter()
        .map(|fresh| fresh.tokens.access_token.as_str())
        .collect();
    assert_eq!(tokens_seen, HashSet::from(["refreshed"]));
    assert!(results.iter().all(|fresh| fresh.version == 2));
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(access(stored.tokens), "refreshed");
    assert_eq!((stored.version, stored.lease_owner), (2, None));
    assert!(stored.expires_at.unwrap() > now());
}

async fn a_dead_holder_is_taken_over(f: Fixture) {
    let id = id("airtable", "org", "user");
    save(&f.store, &id, "expired", Some(now() - 10)).await;
    let acquired = f
        .store
        .acquire_lease(&id, 1, "dead", 1000, now_ms())
        .await
        .unwrap();
    assert_eq!(acquired, LeaseOutcome::Acquired);
    let calls = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut opts = options("alive");
    opts.lease = Duration::from_secs(1);
    let fresh = fresh_tokens(
        &f.another().await,
        &id,
        opts,
        counting(&calls, Duration::ZERO, Ok("alive")),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for the lease"
    );
    assert!(fresh.refreshed);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!f
        .store
        .commit_refresh(&id, 1, &tokens("zombie", None), now())
        .await
        .unwrap());
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(access(stored.tokens), "alive");
    assert_eq!(stored.version, 2);
}

async fn a_refused_grant_needs_reauthorization(f: Fixture) {
    let id = id("notion", "org", "user");
    save(&f.store, &id, "expired", Some(now() - 10)).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let refused = || {
        counting(
            &calls,
            Duration::ZERO,
            Err(GrantFailure::Refused("invalid_grant".into())),
        )
    };
    let result = fresh_tokens(&f.store, &id, options("a"), refused()).await;
    assert!(
        matches!(result, Err(RefreshError::NeedsReauthorization)),
        "{result:?}"
    );
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.lease_owner, stored.version),
        (Status::NeedsReauthorization, None, 1)
    );
    let mut forced = options("b");
    forced.force = true;
    let result = fresh_tokens(&f.store, &id, forced, refused()).await;
    assert!(
        matches!(result, Err(RefreshError::NeedsReauthorization)),
        "{result:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a refused grant is not retried");
    let result = fresh_tokens(
        &f.store,
        &self::id("notion", "org", "nobody"),
        options("c"),
        refused(),
    )
    .await;
    assert!(matches!(result, Err(RefreshError::NotFound)), "{result:?}");
}

async fn a_transient_failure_leaves_the_connection_active(f: Fixture) {
    let id = id("hubspot", "org", "user");
    save(&f.store, &id, "expired", Some(now() - 10)).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let failing = counting(&calls, Duration::ZERO, Err(GrantFailure::transient("503")));
    let result = fresh_tokens(&f.store, &id, options("a"), failing).await;
    assert!(
        matches!(&result, Err(RefreshError::Transient { reason, .. }) if reason == "503"),
        "{result:?}"
    );
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.lease_owner, stored.version),
        (Status::Active, None, 1)
    );
    assert_eq!(access(stored.tokens), "expired");
    let fresh = fresh_tokens(
        &f.store,
        &id,
        options("b"),
        counting(&calls, Duration::ZERO, Ok("ok")),
    )
    .await
    .unwrap();
    assert!(fresh.refreshed && fresh.version == 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

async fn tokens_not_due_are_returned_unless_forced(f: Fixture) {
    let calls = Arc::new(AtomicUsize::new(0));
    let never = id("notion", "org", "no-expiry");
    save(&f.store, &never, "forever", None).await;
    let fresh = fresh_tokens(
        &f.store,
        &never,
        options("a"),
        counting(&calls, Duration::ZERO, Ok("x")),
    )
    .await
    .unwrap();
    assert_eq!(
        (fresh.refreshed, fresh.tokens.access_token.as_str(), fresh.version),
        (false, "forever", 1)
    );

    let id = id("notion", "org", "user");
    save(&f.store, &id, "valid", Some(now() + 3600)).await;
    let fresh = fresh_tokens(
        &f.store,
        &id,
        options("a"),
        counting(&calls, Duration::ZERO, Ok("x")),
    )
    .await
    .unwrap();
    assert_eq!(
        (fresh.refreshed, fresh.tokens.access_token.as_str()),
        (false, "valid")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let mut within_margin = options("b");
    within_margin.due = Due::Within(Duration::from_secs(7200));
    let fresh = fresh_tokens(
        &f.store,
        &id,
        within_margin,
        counting(&calls, Duration::ZERO, Ok("early")),
    )
    .await
    .unwrap();
    assert_eq!(
        (fresh.refreshed, fresh.tokens.access_token.as_str(), fresh.version),
        (true, "early", 2)
    );

    let mut forced = options("c");
    forced.force = true;
    let fresh = fresh_tokens(
        &f.store,
        &id,
        forced,
        counting(&calls, Duration::ZERO, Ok("forced")),
    )
    .await
    .unwrap();
    assert_eq!(
        (fresh.refreshed, fresh.tokens.access_token.as_str(), fresh.version),
        (true, "forced", 3)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// `Due::Soon`: tokens living less than the margin are not refreshed on every call, only once
/// past half their life; `Due::Within` refreshes them whenever they expire within its window.
async fn short_lived_tokens_are_refreshed_past_half_their_life(f: Fixture) {
    let calls = Arc::new(AtomicUsize::new(0));
    let soon = |owner| RefreshOptions {
        due: Due::Soon(Duration::from_secs(300)),
        ..options(owner)
    };
    let young = id("sandbox", "org", "young");
    f.store
        .save_connected(&young, &tokens("young", Some(now() + 120)), None, now())
        .await
        .unwrap();
    let fresh = fresh_tokens(
        &f.store,
        &young,
        soon("a"),
        counting(&calls, Duration::ZERO, Ok("x")),
    )
    .await
    .unwrap();
    assert_eq!(
        (fresh.refreshed, fresh.tokens.access_token.as_str()),
        (false, "young")
    );
    let ahead = RefreshOptions {
        due: Due::Within(Duration::from_secs(300)),
        ..options("b")
    };
    let fresh = fresh_tokens(
        &f.store,
        &young,
        ahead,
        counting(&calls, Duration::ZERO, Ok("ahead")),
    )
    .await
    .unwrap();
    assert_eq!(
        (fresh.refreshed, fresh.tokens.access_token.as_str()),
        (true, "ahead")
    );

    // Written 100 s ago, 20 s left of 120: past half its life.
    let old = id("sandbox", "org", "old");
    f.store
        .save_connected(&old, &tokens("old", Some(now() + 20)), None, now() - 100)
        .await
        .unwrap();
    let fresh = fresh_tokens(
        &f.store,
        &old,
        soon("c"),
        counting(&calls, Duration::ZERO, Ok("renewed")),
    )
    .await
    .unwrap();
    assert_eq!(
        (fresh.refreshed, fresh.tokens.access_token.as_str()),
        (true, "renewed")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

async fn no_refresh_without_time_left(f: Fixture) {
    let id = id("notion", "org", "user");
    save(&f.store, &id, "expired", Some(now() - 10)).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let mut hurried = options("a");
    hurried.deadline = Some(Instant::now() + Duration::from_millis(100));
    let result = fresh_tokens(&f.store, &id, hurried, counting(&calls, Duration::ZERO, Ok("x"))).await;
    assert!(matches!(result, Err(RefreshError::NoTime)), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!((stored.lease_owner, stored.version), (None, 1));
}

#[tokio::test]
async fn the_embedded_store_survives_reopening() {
    let dir = TempDir::new();
    let id = id("notion", "org", "user");
    {
        let store = connections::shared(EmbeddedStore::open(dir.file(), sealer()).unwrap());
        save(&store, &id, "kept", Some(now() + 10)).await;
    }
    let store = connections::shared(EmbeddedStore::open(dir.file(), sealer()).unwrap());
    let got = store.get(&id).await.unwrap().unwrap();
    assert_eq!((access(got.tokens).as_str(), got.version), ("kept", 1));
    let (page, _) = store.list("org", None, None, 10, None).await.unwrap();
    assert_eq!(page.len(), 1);
    let (due, _) = store.due(now() + 60, 10, None).await.unwrap();
    assert_eq!(due.len(), 1);
}

#[test]
fn the_template_table_is_durable_and_encrypted() {
    let properties = moto::table_properties();
    assert_eq!(properties["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(properties["DeletionProtectionEnabled"].as_bool(), Some(true));
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(properties["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
}

/// Every attribute but the key replaced by another connection's: the item names Alice, but it
/// was read as Bob's, so it is Bob's and unreadable, never Alice's token handed to Bob.
#[tokio::test]
async fn an_item_whose_attributes_are_another_connections_is_unreadable() {
    let f = Fixture::new(Kind::Dynamo).await;
    let (client, table) = f.dynamo.as_ref().unwrap();
    let (alice, bob) = (id("hubspot", "org", "alice"), id("hubspot", "org", "bob"));
    save(&f.store, &alice, "alice-token", None).await;
    save(&f.store, &bob, "bob-token", None).await;
    let mut item = stored_item(client, table, &alice).await;
    item.insert("pk".into(), AttributeValue::S(bob.key()));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let got = f.store.get(&bob).await.unwrap().unwrap();
    assert_eq!((&got.id, got.tokens), (&bob, None));
    let result = fresh_tokens(&f.store, &bob, options("p"), |_| async { unreachable!() }).await;
    assert!(matches!(result, Err(RefreshError::Unreadable)), "{result:?}");
}

/// Takes the lease as a holder that will outlive it: it lapses `lease_ms` from now.
async fn lapsing_lease(store: &SharedStore, id: &ConnectionId, lease_ms: i64) {
    let outcome = store
        .acquire_lease(id, 1, "slow", lease_ms, now_ms())
        .await
        .unwrap();
    assert_eq!(outcome, LeaseOutcome::Acquired);
    tokio::time::sleep(Duration::from_millis(lease_ms as u64 + 50)).await;
}

fn refused(_: TokenSet) -> RefreshFuture {
    Box::pin(async {
        Err(GrantFailure::Refused(
            "invalid_grant: refresh token already used".into(),
        ))
    })
}

/// The slow holder rotated the refresh token and commits after its lease lapsed: the caller that
/// took over is refused the old token, and must hand out the slow holder's pair, not mark.
async fn a_refusal_after_a_takeover_waits_for_the_lapsed_holder(f: Fixture) {
    let id = id("airtable", "org", "user");
    save(&f.store, &id, "expired", Some(now() - 10)).await;
    lapsing_lease(&f.store, &id, 100).await;
    let (slow_store, slow_id) = (f.another().await, id.clone());
    let slow = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        slow_store
            .commit_refresh(&slow_id, 1, &tokens("slow", Some(now() + 3600)), now())
            .await
    });
    let mut opts = options("taker");
    opts.commit_budget = Duration::from_secs(1);
    let fresh = fresh_tokens(&f.store, &id, opts, refused).await.unwrap();
    assert_eq!(
        (fresh.refreshed, fresh.tokens.access_token.as_str(), fresh.version),
        (false, "slow", 2)
    );
    assert!(slow.await.unwrap().unwrap(), "the slow holder's commit landed");
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.version), (Status::Active, 2));
}

/// Nobody commits within the lapsed holder's window: the refusal stands, after that window.
async fn a_refusal_after_a_takeover_marks_once_the_window_passed(f: Fixture) {
    let id = id("airtable", "org", "user");
    save(&f.store, &id, "expired", Some(now() - 10)).await;
    lapsing_lease(&f.store, &id, 100).await;
    let started = Instant::now();
    let mut opts = options("taker");
    opts.commit_budget = Duration::from_millis(600);
    let result = fresh_tokens(&f.store, &id, opts, refused).await;
    assert!(
        matches!(result, Err(RefreshError::NeedsReauthorization)),
        "{result:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "marked before the lapsed holder's window passed: {:?}",
        started.elapsed()
    );
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.lease_owner),
        (Status::NeedsReauthorization, None)
    );
}

/// The window outlasts the caller's deadline: nothing is marked, the lease is given back, and
/// the caller hears it may retry.
async fn a_refusal_after_a_takeover_without_time_to_wait_marks_nothing(f: Fixture) {
    let id = id("airtable", "org", "user");
    save(&f.store, &id, "expired", Some(now() - 10)).await;
    lapsing_lease(&f.store, &id, 100).await;
    let mut opts = options("taker");
    opts.commit_budget = Duration::from_secs(10);
    opts.deadline = Some(Instant::now() + Duration::from_secs(2));
    let result = fresh_tokens(&f.store, &id, opts, refused).await;
    assert!(
        matches!(
            result,
            Err(RefreshError::Transient {
                retry_after: Some(_),
                ..
            })
        ),
        "{result:?}"
    );
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.lease_owner), (Status::Active, None));
}

/// Base64 of 32 bytes: the key rotated to.
const NEW_KEY: &str = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";

/// A key rotation end to end: values under the old key open through TOKEN_ENCRYPTION_KEYS_OLD,
/// one refresher run seals them all again, and once the old key is dropped everything opens.
async fn keys_rotate_without_reconnects(f: Fixture) {
    let ids: Vec<_> = (0..5)
        .map(|n| id("notion", "org", &format!("user-{n}")))
        .collect();
    for (n, id) in ids.iter().enumerate() {
        // Notion tokens never expire: only the re-seal ever rewrites them.
        save(&f.store, id, &format!("at-{n}"), None).await;
    }
    let f = f.reopen(Sealer::new(NEW_KEY, &[TEST_KEY.to_owned()]).unwrap());
    for id in &ids {
        let got = f.store.get(id).await.unwrap().unwrap();
        assert!(got.tokens.is_some() && !got.current_key, "{got:?}");
    }
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = f.store.under_old_keys(2, cursor.as_deref()).await.unwrap();
        listed.extend(page.into_iter().map(|connection| connection.id));
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(
        listed.len(),
        ids.len(),
        "paged through every connection under the old key"
    );

    let keeper = Keeper::new(
        f.store.clone(),
        reqwest::Client::new(),
        Duration::from_secs(300),
        Duration::from_secs(2),
    );
    let config = support::config("http://127.0.0.1:9", &[]);
    let summary = refresh_due(&keeper, &config.providers, Duration::from_secs(900), None).await;
    assert_eq!(
        (summary.resealed, summary.under_old_keys),
        (ids.len(), 0),
        "{summary:?}"
    );
    for id in &ids {
        let got = f.store.get(id).await.unwrap().unwrap();
        assert!(got.current_key, "{got:?}");
        assert_eq!(got.version, 1, "a re-seal keeps the version");
    }
    let again = refresh_due(&keeper, &config.providers, Duration::from_secs(900), None).await;
    assert_eq!((again.resealed, again.under_old_keys), (0, 0), "{again:?}");

    drop(keeper);
    let f = f.reopen(Sealer::new(NEW_KEY, &[]).unwrap());
    for (n, id) in ids.iter().enumerate() {
        let got = f.store.get(id).await.unwrap().unwrap();
        assert_eq!(access(got.tokens), format!("at-{n}"));
    }
}
