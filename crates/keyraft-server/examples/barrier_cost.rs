//! What the linearizable read barrier costs: Encrypt (32 bytes) throughput and latency of one
//! three-node region with the barrier on and off, in the same run, clients spread over all three
//! nodes. Run with `scripts/bench-barrier` (release build).
//!
//! Usage: barrier_cost [seconds per run, default 10] [concurrent clients, default 32]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use keyraft_aws::sigv4::{self, SigningParams};
use keyraft_testkit::Cluster;

const R: &str = "us-east-1";

fn with_barrier(cfg: &mut keyraft_server::NodeConfig) {
    cfg.read_barrier = true;
}

fn without_barrier(cfg: &mut keyraft_server::NodeConfig) {
    cfg.read_barrier = false;
}

struct Run {
    ops: usize,
    errors: usize,
    secs: f64,
    latencies_us: Vec<u64>,
}

async fn client_loop(
    http: reqwest::Client,
    endpoint: String,
    body: String,
    ak: String,
    sk: String,
    stop: Arc<AtomicBool>,
) -> (usize, usize, Vec<u64>) {
    let (mut ok, mut err, mut lat) = (0, 0, Vec::new());
    let host = endpoint.trim_start_matches("http://").to_owned();
    while !stop.load(Ordering::Relaxed) {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_str(&host).expect("host"));
        h.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
        h.insert("x-amz-target", HeaderValue::from_static("TrentService.Encrypt"));
        let params = SigningParams {
            access_key_id: &ak,
            secret_access_key: &sk,
            region: R,
            service: "kms",
            now: time::OffsetDateTime::now_utc(),
        };
        if sigv4::sign("POST", "/", "", &mut h, body.as_bytes(), &params).is_err() {
            err += 1;
            continue;
        }
        let start = Instant::now();
        let r = http.post(&endpoint).headers(h).body(body.clone()).send().await;
        match r {
            Ok(resp) if resp.status().is_success() => {
                let _ = resp.bytes().await;
                ok += 1;
                lat.push(start.elapsed().as_micros() as u64);
            }
            _ => err += 1,
        }
    }
    (ok, err, lat)
}

async fn run(barrier: bool, secs: u64, clients: usize) -> anyhow::Result<Run> {
    let c = Cluster::start_with(&[R], if barrier { with_barrier } else { without_barrier }).await?;
    c.wait_leader(R, Duration::from_secs(20)).await?;
    let key =
        c.client(R, 1).create_key().send().await?.key_metadata().map(|m| m.key_id().to_owned()).unwrap_or_default();
    let plaintext = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let body = serde_json::json!({ "KeyId": key, "Plaintext": plaintext }).to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let mut tasks = Vec::new();
    for i in 0..clients {
        let endpoint = c.endpoint(R, (i % 3) as u64 + 1);
        tasks.push(tokio::spawn(client_loop(
            http.clone(),
            endpoint,
            body.clone(),
            c.info.access_key_id.clone(),
            c.info.secret_access_key.clone(),
            stop.clone(),
        )));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut out = Run { ops: 0, errors: 0, secs: 0.0, latencies_us: Vec::new() };
    for t in tasks {
        let (ok, err, lat) = t.await?;
        out.ops += ok;
        out.errors += err;
        out.latencies_us.extend(lat);
    }
    out.secs = started.elapsed().as_secs_f64();
    out.latencies_us.sort_unstable();
    c.shutdown().await;
    Ok(out)
}

fn pct(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0
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
        let rate = r.ops as f64 / r.secs;
        rates.push(rate);
        println!(
            "| {} | {:.0} | {} | {:.2} | {:.2} | {:.2} |",
            if barrier { "on" } else { "off" },
            rate,
            r.errors,
            pct(&r.latencies_us, 0.5),
            pct(&r.latencies_us, 0.99),
            pct(&r.latencies_us, 0.999)
        );
    }
    println!("barrier on / off throughput: {:.2}", rates[0] / rates[1]);
    Ok(())
}
