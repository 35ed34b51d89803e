//! Metrics, readiness and quotas through real clients: a workload by the unmodified
//! `aws-sdk-kms`, then each node's `/metrics` scraped over HTTP and read by a Prometheus
//! text-format parser (`prometheus-parse`); `/readyz`; a tiny quota hammered without retries
//! (ThrottlingException, HTTP 400) and with the SDK's standard retry mode (every call succeeds,
//! the metrics show the throttled attempts).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use keyraft_testkit::check::{assert_code, OK};
use keyraft_testkit::Cluster;
use prometheus_parse::{Sample, Scrape, Value};

const R: &str = "us-east-1";
const PLAINTEXT: &[u8] = b"observability plaintext 5f1c";

async fn scrape(url: &str) -> Scrape {
    let r = reqwest::get(url).await.expect("GET /metrics");
    assert_eq!(r.status(), 200);
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "content type {ct}");
    let text = r.text().await.expect("body");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a valid Prometheus text exposition")
}

async fn scrape_text(url: &str) -> String {
    reqwest::get(url).await.expect("GET /metrics").text().await.expect("body")
}

fn value(s: &Sample) -> f64 {
    match &s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(b) => b.iter().find(|c| c.less_than.is_infinite()).map(|c| c.count).unwrap_or(0.0),
        Value::Summary(_) => f64::NAN,
    }
}

/// The value of `metric` whose labels include `labels` (0 when absent); panics on several.
fn get(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = s
        .samples
        .iter()
        .filter(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .collect();
    assert!(found.len() <= 1, "{metric} {labels:?} matches {found:?}");
    found.first().map(|x| value(x)).unwrap_or(0.0)
}

/// Requests by (operation, outcome) as the scrape counts them.
fn requests(s: &Scrape) -> HashMap<(String, String), f64> {
    s.samples
        .iter()
        .filter(|x| x.metric == "keyraft_requests_total")
        .map(|x| {
            let l = |k| x.labels.get(k).unwrap_or_default().to_owned();
            ((l("operation"), l("outcome")), value(x))
        })
        .collect()
}

fn metrics_url(c: &Cluster, node: u64) -> String {
    format!("{}/metrics", c.node(R, node).admin_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_scrape_readiness_and_no_secrets() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let client = c.client(R, 1);

    // The workload, all on node 1: 3 CreateKey, 3 Encrypt + 1 refused, 1 Decrypt, 1 DisableKey,
    // 1 ScheduleKeyDeletion, 1 DescribeKey of a key that does not exist.
    let mut ids = Vec::new();
    for d in ["a", "b", "c"] {
        let k = client.create_key().description(d).send().await.expect("create");
        ids.push(k.key_metadata().expect("metadata").key_id().to_owned());
    }
    let mut blob = None;
    for _ in 0..3 {
        let e = client.encrypt().key_id(&ids[0]).plaintext(Blob::new(PLAINTEXT)).send().await.expect("encrypt");
        blob = e.ciphertext_blob().cloned();
    }
    let d = client.decrypt().ciphertext_blob(blob.expect("ciphertext")).send().await.expect("decrypt");
    assert_eq!(d.plaintext().map(|p| p.as_ref()), Some(PLAINTEXT));
    assert_code(client.disable_key().key_id(&ids[1]).send().await, OK, "disable");
    assert_code(
        client.encrypt().key_id(&ids[1]).plaintext(Blob::new(PLAINTEXT)).send().await,
        "DisabledException",
        "encrypt under a disabled key",
    );
    assert_code(
        client.schedule_key_deletion().key_id(&ids[2]).pending_window_in_days(7).send().await,
        OK,
        "schedule deletion",
    );
    assert_code(
        client.describe_key().key_id("00000000-0000-0000-0000-000000000000").send().await,
        "NotFoundException",
        "describe a key that does not exist",
    );

    // Node 1 counted exactly what was sent to it.
    let s = scrape(&metrics_url(&c, 1)).await;
    let want: HashMap<(String, String), f64> = [
        ("CreateKey", "ok", 3.0),
        ("Encrypt", "ok", 3.0),
        ("Encrypt", "DisabledException", 1.0),
        ("Decrypt", "ok", 1.0),
        ("DisableKey", "ok", 1.0),
        ("ScheduleKeyDeletion", "ok", 1.0),
        ("DescribeKey", "NotFoundException", 1.0),
    ]
    .into_iter()
    .map(|(o, r, n)| ((o.to_owned(), r.to_owned()), n))
    .collect();
    assert_eq!(requests(&s), want);
    for x in s.samples.iter().filter(|x| x.metric.starts_with("keyraft_")) {
        assert_eq!((x.labels.get("region"), x.labels.get("node")), (Some(R), Some("1")), "{x:?}");
    }
    // One latency observation per request, in the histogram's +Inf bucket.
    assert_eq!(get(&s, "keyraft_request_duration_seconds", &[("operation", "Encrypt")]), 4.0);
    assert_eq!(get(&s, "keyraft_request_duration_seconds", &[("operation", "CreateKey")]), 3.0);

    // Raft gauges on every node: one leader, indexes in order; key counts by state once applied.
    let mut leaders = 0.0;
    for n in 1..=3 {
        let url = metrics_url(&c, n);
        let mut tries = 0;
        let s = loop {
            let s = scrape(&url).await;
            let states = [("Enabled", 1.0), ("Disabled", 1.0), ("PendingDeletion", 1.0)];
            if states.iter().all(|(st, v)| get(&s, "keyraft_keys", &[("state", st)]) == *v) || tries == 50 {
                break s;
            }
            tries += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(get(&s, "keyraft_keys", &[("state", "Enabled")]), 1.0, "node {n}");
        assert_eq!(get(&s, "keyraft_keys", &[("state", "Disabled")]), 1.0, "node {n}");
        assert_eq!(get(&s, "keyraft_keys", &[("state", "PendingDeletion")]), 1.0, "node {n}");
        assert_eq!(get(&s, "keyraft_keys", &[("state", "PendingImport")]), 0.0, "node {n}");
        let is_leader = get(&s, "keyraft_raft_is_leader", &[]);
        assert!(is_leader == 0.0 || is_leader == 1.0);
        leaders += is_leader;
        let leader_id = get(&s, "keyraft_raft_leader_id", &[]);
        assert_eq!(leader_id, c.leader(R).expect("leader") as f64, "node {n}");
        assert_eq!(is_leader == 1.0, leader_id == n as f64, "node {n}");
        assert!(get(&s, "keyraft_raft_term", &[]) >= 1.0);
        let (applied, committed, last) = (
            get(&s, "keyraft_raft_applied_index", &[]),
            get(&s, "keyraft_raft_committed_index", &[]),
            get(&s, "keyraft_raft_last_log_index", &[]),
        );
        // At least the 5 writes above (3 CreateKey, DisableKey, ScheduleKeyDeletion).
        assert!(applied >= 5.0 && applied <= committed && committed <= last, "node {n}: {applied} {committed} {last}");

        let r = reqwest::get(format!("{}/readyz", c.node(R, n).admin_url)).await.expect("readyz");
        assert_eq!(r.status(), 200, "node {n}");
        let body: serde_json::Value = r.json().await.expect("readyz JSON");
        assert_eq!(body["ready"], true);
        let r = reqwest::get(format!("{}/healthz", c.node(R, n).admin_url)).await.expect("healthz");
        assert_eq!(r.status(), 200);
    }
    assert_eq!(leaders, 1.0, "exactly one node reports is_leader 1");

    // No key id, access key, secret or plaintext anywhere in any scrape.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(PLAINTEXT);
    let plain = String::from_utf8_lossy(PLAINTEXT).into_owned();
    for n in 1..=3 {
        let text = scrape_text(&metrics_url(&c, n)).await;
        let mut secrets =
            vec![c.info.access_key_id.clone(), c.info.secret_access_key.clone(), b64.clone(), plain.clone()];
        secrets.extend(ids.iter().cloned());
        for x in &secrets {
            assert!(!text.contains(x.as_str()), "node {n}'s metrics contain {x}");
        }
    }

    // dev.json names every node's metrics URL.
    let urls = &c.info.regions[R].metrics;
    assert_eq!(urls, &(1..=3).map(|n| metrics_url(&c, n)).collect::<Vec<_>>());
    c.shutdown().await;
}

/// Test timings, quotas on, and a symmetric quota of 5 requests per second.
fn tiny_quota(cfg: &mut keyraft_server::NodeConfig) {
    (Cluster::test_timings())(cfg);
    cfg.quotas.enabled = true;
    cfg.quotas.symmetric = 5.0;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_without_and_with_sdk_retries() {
    let c = Cluster::ready_with(&[R], tiny_quota).await.expect("cluster");
    let client = c.client(R, 1); // retries disabled
    let key = client.create_key().send().await.expect("create").key_metadata().expect("m").key_id().to_owned();

    // 30 concurrent Encrypts at a bucket of 5: most are throttled, as AWS answers it.
    let calls = (0..30).map(|_| client.encrypt().key_id(&key).plaintext(Blob::new(PLAINTEXT)).send());
    let results = futures::future::join_all(calls).await;
    let mut throttled = 0;
    let mut ok = 0;
    for r in &results {
        match r {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.code(), Some("ThrottlingException"), "{e:?}");
                assert_eq!(
                    e.message(),
                    Some("You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")
                );
                assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
                throttled += 1;
            }
        }
    }
    assert!(throttled >= 10 && ok >= 5, "ok {ok}, throttled {throttled}");
    // Other operations and other families are not affected.
    assert_code(client.describe_key().key_id(&key).send().await, OK, "describe while Encrypt is throttled");

    // The SDK's standard retry mode, 4 callers × 4 Encrypts: every call succeeds, some after a
    // ThrottlingException the SDK retried.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let retrying = aws_sdk_kms::Client::from_conf(
        client.config().to_builder().retry_config(RetryConfig::standard().with_max_attempts(10)).build(),
    );
    let workers = (0..4).map(|_| {
        let (client, key) = (retrying.clone(), key.clone());
        async move {
            for _ in 0..4 {
                client
                    .encrypt()
                    .key_id(&key)
                    .plaintext(Blob::new(PLAINTEXT))
                    .send()
                    .await
                    .expect("encrypt with retries");
            }
        }
    });
    futures::future::join_all(workers).await;

    let s = scrape(&metrics_url(&c, 1)).await;
    let req = requests(&s);
    let count = |outcome: &str| req.get(&("Encrypt".to_owned(), outcome.to_owned())).copied().unwrap_or(0.0);
    assert_eq!(count("ok"), (ok + 16) as f64);
    assert!(
        count("ThrottlingException") > throttled as f64,
        "the retrying callers were throttled and retried: {} throttled in all, {throttled} before",
        count("ThrottlingException")
    );
    c.shutdown().await;
}
