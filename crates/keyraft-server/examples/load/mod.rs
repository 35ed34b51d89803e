//! The closed-loop Encrypt load the cost examples share: `clients` tasks spread over a region's
//! nodes, each sending SigV4-signed Encrypt requests back to back for `secs` seconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use keyraft_aws::sigv4::{self, SigningParams};

pub const R: &str = "us-east-1";

/// Who sends the load, and what.
#[derive(Clone)]
pub struct Load {
    pub endpoints: Vec<String>,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The Encrypt request body.
    pub body: String,
}

pub struct Run {
    pub ops: usize,
    pub errors: usize,
    pub secs: f64,
    pub latencies_us: Vec<u64>,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }

    /// The `p` quantile of the latencies, in ms.
    pub fn pct(&self, p: f64) -> f64 {
        let v = &self.latencies_us;
        if v.is_empty() {
            return 0.0;
        }
        v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0
    }
}

async fn client_loop(
    http: reqwest::Client,
    endpoint: String,
    load: Load,
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
            access_key_id: &load.access_key_id,
            secret_access_key: &load.secret_access_key,
            region: R,
            service: "kms",
            now: time::OffsetDateTime::now_utc(),
        };
        if sigv4::sign("POST", "/", "", &mut h, load.body.as_bytes(), &params).is_err() {
            err += 1;
            continue;
        }
        let start = Instant::now();
        let r = http.post(&endpoint).headers(h).body(load.body.clone()).send().await;
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

/// Runs the load for `secs` seconds with `clients` clients over the endpoints in turn.
pub async fn run(load: &Load, secs: u64, clients: usize) -> anyhow::Result<Run> {
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let mut tasks = Vec::new();
    for i in 0..clients {
        let endpoint = load.endpoints[i % load.endpoints.len()].clone();
        tasks.push(tokio::spawn(client_loop(http.clone(), endpoint, load.clone(), stop.clone())));
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
    Ok(out)
}
