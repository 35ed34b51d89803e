//! Linearizable key state within a region: once DisableKey is acknowledged by one node, no
//! Encrypt that starts afterwards succeeds on any node; once EnableKey is acknowledged, no
//! Encrypt that starts afterwards is refused as disabled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use keyraft_testkit::Cluster;
use tokio::time::Instant;

const R: &str = "us-east-1";

/// One Encrypt: when it started, when it ended, and its outcome (`None` = success, else the
/// AWS error code).
type Op = (Instant, Instant, Option<String>);

async fn hammer(client: aws_sdk_kms::Client, key: String, stop: Arc<AtomicBool>) -> Vec<Op> {
    let mut ops = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let r = client.encrypt().key_id(&key).plaintext(Blob::new("x")).send().await;
        let outcome = match r {
            Ok(_) => None,
            Err(e) => Some(e.code().unwrap_or("transport").to_owned()),
        };
        ops.push((start, Instant::now(), outcome));
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_encrypt_succeeds_after_acknowledged_disable_and_none_is_refused_after_enable() {
    let c = Cluster::start(&[R]).await.expect("cluster");
    c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let admin = c.client(R, 1);
    let (mut checked_after_disable, mut checked_after_enable) = (0usize, 0usize);
    for round in 0..15 {
        let key = admin.create_key().send().await.expect("create").key_metadata().unwrap().key_id().to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for node in [2u64, 3, 2, 3] {
            tasks.push(tokio::spawn(hammer(c.client(R, node), key.clone(), stop.clone())));
        }
        tokio::time::sleep(Duration::from_millis(30 + 7 * round)).await;
        admin.disable_key().key_id(&key).send().await.expect("disable");
        let disabled_at = Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let enable_sent = Instant::now();
        admin.enable_key().key_id(&key).send().await.expect("enable");
        let enabled_at = Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            for (start, end, outcome) in t.await.expect("task") {
                // Started after the disable was acknowledged and ended before the enable was
                // sent: it must have been refused.
                if start > disabled_at && end < enable_sent {
                    checked_after_disable += 1;
                    assert_eq!(
                        outcome.as_deref(),
                        Some("DisabledException"),
                        "round {round}: an Encrypt that started {:?} after the acknowledged DisableKey did not fail as disabled",
                        start - disabled_at
                    );
                }
                if start > enabled_at {
                    checked_after_enable += 1;
                    assert_ne!(
                        outcome.as_deref(),
                        Some("DisabledException"),
                        "round {round}: an Encrypt that started after the acknowledged EnableKey was refused as disabled"
                    );
                }
            }
        }
    }
    eprintln!("checked {checked_after_disable} encrypts after disable, {checked_after_enable} after enable");
    assert!(checked_after_disable > 50 && checked_after_enable > 50, "too few operations to say anything");
    c.shutdown().await;
}
