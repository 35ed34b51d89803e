//! What the linearizable read barrier costs: Encrypt (32 bytes) throughput and latency of one
//! three-node region with the barrier on and off, in the same run, clients spread over all three
//! nodes. Run with `scripts/bench-barrier` (release build).
//!
//! Usage: barrier_cost [seconds per run, default 10] [concurrent clients, default 32]

use std::time::Duration;

use base64::Engine;
use keyraft_testkit::Cluster;

mod load;
use load::{Load, Run, R};

fn with_barrier(cfg: &mut keyraft_server::NodeConfig) {
    cfg.read_barrier = true;
}

fn without_barrier(cfg: &mut keyraft_server::NodeConfig) {
    cfg.read_barrier = false;
}

async fn run(barrier: bool, secs: u64, clients: usize) -> anyhow::Result<Run> {
    let c = Cluster::start_with(&[R], if barrier { with_barrier } else { without_barrier }).await?;
    c.wait_leader(R, Duration::from_secs(20)).await?;
    let key =
        c.client(R, 1).create_key().send().await?.key_metadata().map(|m| m.key_id().to_owned()).unwrap_or_default();
    let plaintext = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let load = Load {
        endpoints: (1..=3).map(|n| c.endpoint(R, n)).collect(),
        access_key_id: c.info.access_key_id.clone(),
        secret_access_key: c.info.secret_access_key.clone(),
        body: serde_json::json!({ "KeyId": key, "Plaintext": plaintext }).to_string(),
    };
    let out = load::run(&load, secs, clients).await?;
    c.shutdown().await;
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    println!("Encrypt 32 B, one region of 3 nodes in-process, {clients} clients over all nodes, {secs} s per run");
    println!("| read barrier | ops/s | errors | p50 ms | p99 ms | p99.9 ms |");
    println!("|---|---|---|---|---|---|");
    let mut rates = Vec::new();
    for barrier in [true, false] {
        let r = run(barrier, secs, clients).await?;
        let rate = r.rate();
        rates.push(rate);
        println!(
            "| {} | {:.0} | {} | {:.2} | {:.2} | {:.2} |",
            if barrier { "on" } else { "off" },
            rate,
            r.errors,
            r.pct(0.5),
            r.pct(0.99),
            r.pct(0.999)
        );
    }
    println!("barrier on / off throughput: {:.2}", rates[0] / rates[1]);
    Ok(())
}
