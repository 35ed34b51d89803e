//! A rolling restart under load fails no request: every node of a region is stopped and started
//! again, one after the other (the leader included, whichever it is at the time), while clients
//! run Encrypt, Decrypt, GenerateDataKey and CreateKey against all three nodes.
//!
//! What makes it hold: a stopping node first stops accepting AWS API connections and lets its
//! requests in flight finish (they may need Raft: a forwarded write, a read barrier) before it
//! stops Raft (`RunningNode::shutdown`); writes and read barriers on the other nodes retry across
//! the leader change (idempotent by request id). The clients do what a load balancer in front of a
//! region, or the SDK's own retry, does: a request that got no HTTP response (connection refused,
//! or a kept-alive connection the stopping node closed as the request went out) goes to the next
//! node. SDK retries are off, so any error with a response, or a timeout, is a failed request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use keyraft_testkit::Cluster;

const REGION: &str = "us-east-1";
const WORKERS: usize = 4;

#[derive(Default)]
struct Tally {
    ok: BTreeMap<&'static str, u64>,
    failed: Vec<String>,
    /// Requests that went to another node because theirs refused the connection.
    failovers: u64,
    created: Vec<String>,
    max_latency: Duration,
}

/// Whether an SDK error is a dispatch failure: no HTTP response came back (the connection was
/// refused, or a kept-alive connection closed under the request as the node stopped). The SDK's
/// own retry treats these as transient; a load balancer tries the next node.
fn not_received<E, R>(e: &SdkError<E, R>) -> bool {
    matches!(e, SdkError::DispatchFailure(_))
}

/// Runs `call` against node `first`, then the next nodes while connections are refused, for at
/// most 20 s. `Err` is the first error that was not a refused connection, or the last one.
async fn with_failover<T, E: std::fmt::Debug, R: std::fmt::Debug, F, Fut>(
    clients: &[aws_sdk_kms::Client],
    first: usize,
    failovers: &mut u64,
    call: F,
) -> Result<T, String>
where
    F: Fn(aws_sdk_kms::Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = first;
    loop {
        match call(clients[i % clients.len()].clone()).await {
            Ok(v) => return Ok(v),
            Err(e) if not_received(&e) && Instant::now() < deadline => {
                *failovers += 1;
                i += 1;
                if (i - first).is_multiple_of(clients.len()) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Err(e) => return Err(format!("node {}: {e:?}", i % clients.len() + 1)),
        }
    }
}

async fn worker(
    w: usize,
    clients: Vec<aws_sdk_kms::Client>,
    key: String,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    let mut local = Tally::default();
    let mut blob: Option<Blob> = None;
    let plain = format!("worker {w}").into_bytes();
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let node = (w + i) % clients.len();
        let t = Instant::now();
        let (op, r): (&'static str, Result<(), String>) = match i % 8 {
            0 | 2 | 4 => {
                let (k, p) = (key.clone(), plain.clone());
                let r = with_failover(&clients, node, &mut local.failovers, |c| {
                    let (k, p) = (k.clone(), p.clone());
                    async move { c.encrypt().key_id(k).plaintext(Blob::new(p)).send().await }
                })
                .await;
                ("Encrypt", r.map(|out| blob = out.ciphertext_blob))
            }
            1 | 3 | 5 => match blob.clone() {
                Some(b) => {
                    let r = with_failover(&clients, node, &mut local.failovers, |c| {
                        let b = b.clone();
                        async move { c.decrypt().ciphertext_blob(b).send().await }
                    })
                    .await;
                    let r = r.and_then(|out| match out.plaintext {
                        Some(p) if p.as_ref() == plain.as_slice() => Ok(()),
                        other => Err(format!("Decrypt returned {other:?}")),
                    });
                    ("Decrypt", r)
                }
                None => ("Decrypt", Ok(())),
            },
            6 => {
                let k = key.clone();
                let r = with_failover(&clients, node, &mut local.failovers, |c| {
                    let k = k.clone();
                    async move { c.generate_data_key().key_id(k).key_spec(DataKeySpec::Aes256).send().await }
                })
                .await;
                ("GenerateDataKey", r.map(|_| ()))
            }
            _ => {
                let r = with_failover(&clients, node, &mut local.failovers, |c| async move {
                    c.create_key().description(format!("rolling restart worker {w}")).send().await
                })
                .await;
                let r = r.and_then(|out| {
                    let id = out.key_metadata.map(|m| m.key_id).ok_or("CreateKey without metadata")?;
                    local.created.push(id);
                    Ok(())
                });
                ("CreateKey", r)
            }
        };
        local.max_latency = local.max_latency.max(t.elapsed());
        match r {
            Ok(()) => *local.ok.entry(op).or_default() += 1,
            Err(e) => local.failed.push(format!("{op}: {e}")),
        }
        i += 1;
    }
    let mut t = tally.lock().expect("tally");
    for (op, n) in local.ok {
        *t.ok.entry(op).or_default() += n;
    }
    t.failed.extend(local.failed);
    t.failovers += local.failovers;
    t.created.extend(local.created);
    t.max_latency = t.max_latency.max(local.max_latency);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_restart_under_load_fails_no_request() {
    let mut c = Cluster::ready_with(&[REGION], Cluster::test_timings()).await.expect("cluster");
    let clients: Vec<aws_sdk_kms::Client> = (1..=3).map(|n| c.client(REGION, n)).collect();
    let key = clients[0].create_key().send().await.expect("CreateKey").key_metadata.expect("metadata").key_id;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(worker(w, clients.clone(), key.clone(), stop.clone(), tally.clone())))
        .collect();

    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The leader first (the hardest case), then the two others.
    let first = c.leader(REGION).expect("leader");
    let order: Vec<u64> = std::iter::once(first).chain((1..=3).filter(|n| *n != first)).collect();
    let mut leaders = Vec::new();
    for &n in &order {
        leaders.push(c.leader(REGION));
        let t = Instant::now();
        c.stop_node(REGION, n).await;
        let stopped = t.elapsed();
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.start_node(REGION, n).await.expect("restart");
        c.wait_leader(REGION, Duration::from_secs(20)).await.expect("leader after the restart");
        // Caught up: the restarted node has applied what the leader has.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let leader = c.leader(REGION).expect("leader");
            let lead = c.node(REGION, leader).region_node.status().await.applied_index;
            if c.node(REGION, n).region_node.status().await.applied_index >= lead {
                break;
            }
            assert!(Instant::now() < deadline, "node {n} did not catch up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("node {n}: stopped in {stopped:?}, back and caught up {:?} after the stop began", t.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("worker");
    }
    let t = std::mem::take(&mut *tally.lock().expect("tally"));
    let total: u64 = t.ok.values().sum();
    eprintln!(
        "rolling restart of nodes {order:?} in {:?} (leaders before each restart: {leaders:?}): {total} requests succeeded {:?}, {} failed, {} failovers to another node, slowest request {:?}",
        started.elapsed(),
        t.ok,
        t.failed.len(),
        t.failovers,
        t.max_latency
    );
    assert!(t.failed.is_empty(), "failed requests: {:#?}", t.failed);
    // The load ran throughout: every operation kind succeeded many times.
    for op in ["Encrypt", "Decrypt", "GenerateDataKey", "CreateKey"] {
        assert!(t.ok.get(op).copied().unwrap_or(0) >= 10, "{op}: {:?}", t.ok);
    }
    // The stops really took the nodes away: some requests found their node gone.
    assert!(t.failovers > 0, "no request ever found its node down");

    // Every acknowledged CreateKey is there, on every node.
    for (i, client) in clients.iter().enumerate() {
        let mut listed = std::collections::BTreeSet::new();
        let mut marker = None;
        loop {
            let page = client.list_keys().set_marker(marker).limit(1000).send().await.expect("ListKeys");
            listed.extend(page.keys().iter().filter_map(|k| k.key_id().map(str::to_owned)));
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        for id in &t.created {
            assert!(listed.contains(id), "node {}: acknowledged key {id} missing", i + 1);
        }
    }
    c.shutdown().await;
}
