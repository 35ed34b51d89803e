//! Multi-region key figures: ReplicateKey and shared-change latency as a client sees it, the
//! shipper's replication lag (change committed in the primary region → acknowledged by the
//! replica region), forced promotion time and how long a returning old primary takes to be
//! fenced and converge. Two in-process regions of three nodes on loopback (one machine: the
//! "cross-region" link has no WAN latency, so these are the protocol's own costs). Run with
//! `scripts/bench-mrk` (release build).
//!
//! Usage: mrk_lag [keys, default 200] [concurrent clients, default 8]

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use keyraft_testkit::Cluster;

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(name: &str, mut ms: Vec<f64>, wall: Duration) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "| {name} | {} | {:.1} | {:.2} | {:.2} | {:.2} |",
        ms.len(),
        ms.len() as f64 / wall.as_secs_f64(),
        pct(&ms, 0.5),
        pct(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    )
}

/// Runs `f` for every key with `clients` in flight; returns per-call latencies (ms) and wall time.
async fn timed<F, Fut>(keys: &[String], clients: usize, f: F) -> (Vec<f64>, Duration)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    let lat: Vec<f64> = stream::iter(keys.iter().cloned())
        .map(|k| {
            let fut = f(k);
            async move {
                let t = Instant::now();
                fut.await;
                t.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(clients)
        .collect()
        .await;
    (lat, start.elapsed())
}

/// The shared changes measured, in order.
#[derive(Debug, Clone, Copy)]
enum Op {
    Replicate,
    EnableRotation,
    Rotate,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let c = Cluster::ready(&[US, EU]).await?;
    let us = c.client(US, 1);
    let eu = c.client(EU, 1);

    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        let out = us.create_key().multi_region(true).send().await?;
        keys.push(out.key_metadata().map(|m| m.key_id().to_owned()).unwrap_or_default());
    }
    let mut rows = Vec::new();

    for (name, op) in [
        ("ReplicateKey (commit in us, ship, commit in eu, ack)", Op::Replicate),
        ("EnableKeyRotation (shared change, acknowledged by eu)", Op::EnableRotation),
        ("RotateKeyOnDemand (stage in eu, then activate)", Op::Rotate),
    ] {
        let (lat, wall) = timed(&keys, clients, |k| {
            let us = us.clone();
            async move {
                let r = match op {
                    Op::Replicate => {
                        us.replicate_key().key_id(k).replica_region(EU).send().await.err().map(|e| format!("{e:?}"))
                    }
                    Op::EnableRotation => {
                        us.enable_key_rotation().key_id(k).send().await.err().map(|e| format!("{e:?}"))
                    }
                    Op::Rotate => us.rotate_key_on_demand().key_id(k).send().await.err().map(|e| format!("{e:?}")),
                };
                if let Some(e) = r {
                    eprintln!("{op:?}: {e}");
                }
            }
        })
        .await;
        rows.push(summary(name, lat, wall));
    }

    let leader = c.leader(US).unwrap_or(1);
    let lag = c.node(US, leader).kms.replication_status();
    let eu_lag = lag.values().next().cloned().unwrap_or_default();

    // Forced promotion of every key with the primary region cut off, then the old primary's
    // return: time until it has learnt the new epoch for every key.
    c.links.cut(US, EU);
    let t = Instant::now();
    let promoted = c.node(EU, 1).kms.force_promote(None).await?;
    let promote = t.elapsed();
    let failed = promoted.iter().filter(|p| p.error.is_some()).count();
    let t = Instant::now();
    c.links.heal();
    let us_kms = c.node(US, leader).kms.clone();
    let converge = loop {
        let demoted = us_kms.multi_region_states().iter().filter(|(_, m)| m.epoch.primary.as_str() == EU).count();
        if demoted == n {
            break t.elapsed();
        }
        if t.elapsed() > Duration::from_secs(120) {
            anyhow::bail!("only {demoted} of {n} keys converged in 120 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Still decrypting across regions after all that.
    let blob = eu.encrypt().key_id(&keys[0]).plaintext(aws_sdk_kms::primitives::Blob::new(b"x")).send().await?;
    let back = us.decrypt().ciphertext_blob(blob.ciphertext_blob().cloned().unwrap_or_else(|| b"".as_ref().into()));
    back.send().await?;

    println!("## Multi-region keys: {n} keys, {clients} concurrent clients, two regions × 3 nodes on one host\n");
    println!("| operation | calls | calls/s | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
    println!();
    println!(
        "Replication lag us-east-1 → eu-west-1 (shipper: change committed → eu acknowledgement committed), last {} shipments: p50 {} ms, p99 {} ms, max {} ms; {} failed attempts.",
        eu_lag.shipped.min(keyraft_service::replication::LAG_SAMPLES as u64),
        eu_lag.lag_p50_ms.map_or("-".into(), |v| v.to_string()),
        eu_lag.lag_p99_ms.map_or("-".into(), |v| v.to_string()),
        eu_lag.lag_max_ms.map_or("-".into(), |v| v.to_string()),
        eu_lag.failures
    );
    println!(
        "Forced promotion of {n} keys in eu-west-1 (us-east-1 cut off): {:.0} ms ({:.2} ms per key, {failed} refused).",
        promote.as_secs_f64() * 1000.0,
        promote.as_secs_f64() * 1000.0 / n as f64
    );
    println!(
        "Old primary fenced and converged on all {n} keys after the link healed: {:.0} ms.",
        converge.as_secs_f64() * 1000.0
    );
    c.shutdown().await;
    Ok(())
}
