//! `keyraft bench`: a load generator for keyraft's AWS KMS API (it signs SigV4 itself) and, for
//! comparison, OpenBao's transit engine.
//!
//! N clients (tokio tasks sharing one keep-alive connection pool, spread round-robin over the
//! region's nodes) run one operation, or a weighted mix, for a duration or a count after a
//! warm-up. Setup (not measured) creates the keys and, for decrypt and re-encrypt, the
//! ciphertexts. The report (ops/s, errors by AWS exception name, HdrHistogram latency
//! percentiles) goes to stdout as Markdown and optionally to JSON, Markdown and PNG files.
//!
//! - [`target`]: keyraft vs OpenBao: setup and request building.
//! - [`report`]: histograms, the report, JSON and Markdown.
//! - [`plot`]: the PNG.

pub mod plot;
pub mod report;
pub mod target;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use self::report::{BenchReport, Latency, OpStats, RunReport, RunStatus};
use self::target::{Backend, Endpoint, Fixture, PeerRegion, Target};

/// Per-request timeout: a request that takes longer counts as a `Timeout` error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Resolution of the recorded throughput timeline.
const FINE_BUCKET: Duration = Duration::from_millis(100);

/// An operation the benchmark can issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
pub enum Op {
    /// Encrypt 32 bytes.
    #[value(name = "encrypt-32")]
    Encrypt32,
    /// Encrypt 4 KiB.
    #[value(name = "encrypt-4k")]
    Encrypt4k,
    /// Decrypt a 32-byte ciphertext made in setup.
    #[value(name = "decrypt")]
    Decrypt,
    /// GenerateDataKey, AES_256.
    #[value(name = "generate-data-key")]
    GenerateDataKey,
    /// ReEncrypt a ciphertext made in setup to a second key.
    #[value(name = "re-encrypt")]
    ReEncrypt,
    /// CreateKey (a durable Raft write).
    #[value(name = "create-key")]
    CreateKey,
    /// Sign (ECDSA_SHA_256, RAW 32-byte message) with an ECC NIST P-256 key.
    #[value(name = "sign-ecc-p256")]
    SignEccP256,
    /// Sign (RSASSA_PSS_SHA_256, RAW 32-byte message) with an RSA 2048 key.
    #[value(name = "sign-rsa-2048")]
    SignRsa2048,
    /// Decrypt, in the benchmarked region, a 32-byte ciphertext made in another region (the
    /// first other region of --dev-json) with a multi-region key replicated here; no
    /// cross-region call at decrypt time, so it should match `decrypt`. Needs --dev-json with a
    /// second region.
    #[value(name = "mrk-decrypt")]
    MrkDecrypt,
}

impl Op {
    pub const ALL: [Op; 9] = [
        Op::Encrypt32,
        Op::Encrypt4k,
        Op::Decrypt,
        Op::GenerateDataKey,
        Op::ReEncrypt,
        Op::CreateKey,
        Op::SignEccP256,
        Op::SignRsa2048,
        Op::MrkDecrypt,
    ];

    /// The CLI name, e.g. `encrypt-32`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Encrypt32 => "encrypt-32",
            Op::Encrypt4k => "encrypt-4k",
            Op::Decrypt => "decrypt",
            Op::GenerateDataKey => "generate-data-key",
            Op::ReEncrypt => "re-encrypt",
            Op::CreateKey => "create-key",
            Op::SignEccP256 => "sign-ecc-p256",
            Op::SignRsa2048 => "sign-rsa-2048",
            Op::MrkDecrypt => "mrk-decrypt",
        }
    }

    pub fn parse(s: &str) -> Result<Op, String> {
        let s = s.trim();
        Op::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| format!("unknown operation {s:?}; one of {}", Op::ALL.map(Op::name).join(", ")))
    }

    /// Why no target can run this operation yet: none at the moment (what a target lacks is
    /// [`Target::unsupported`]'s business).
    pub fn unavailable(self) -> Option<&'static str> {
        None
    }

    /// The KMS action (`X-Amz-Target: TrentService.<action>`).
    pub fn kms_action(self) -> Option<&'static str> {
        match self {
            Op::Encrypt32 | Op::Encrypt4k => Some("Encrypt"),
            Op::GenerateDataKey => Some("GenerateDataKey"),
            Op::ReEncrypt => Some("ReEncrypt"),
            Op::CreateKey => Some("CreateKey"),
            Op::SignEccP256 | Op::SignRsa2048 => Some("Sign"),
            Op::Decrypt | Op::MrkDecrypt => Some("Decrypt"),
        }
    }
}

/// A weighted operation mix: `encrypt-32=3,decrypt=1` (a bare name weighs 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(pub Vec<(Op, u32)>);

impl Mix {
    pub fn parse(s: &str) -> Result<Mix, String> {
        let mut out: Vec<(Op, u32)> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = match part.split_once('=') {
                Some((n, w)) => {
                    let w: u32 = w.trim().parse().map_err(|_| format!("weight of {n:?} is not a number: {w:?}"))?;
                    (n, w)
                }
                None => (part, 1),
            };
            let op = Op::parse(name)?;
            if out.iter().any(|(o, _)| *o == op) {
                return Err(format!("{} appears twice in the mix", op.name()));
            }
            if weight > 0 {
                out.push((op, weight));
            }
        }
        if out.is_empty() {
            return Err("the mix has no operation with a positive weight".into());
        }
        Ok(Mix(out))
    }

    /// `mix(encrypt-32=3,decrypt=1)`.
    pub fn label(&self) -> String {
        format!("mix({})", self.0.iter().map(|(op, w)| format!("{}={w}", op.name())).collect::<Vec<_>>().join(","))
    }
}

/// `10s`, `500ms`, `2m`, `1.5s`, `1h` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?} (e.g. 10s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        u => return Err(format!("unknown unit {u:?} in {s:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// What to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// keyraft's AWS KMS API (JSON 1.1, SigV4).
    Keyraft,
    /// OpenBao's transit engine (HTTP API, X-Vault-Token).
    Openbao,
}

/// `keyraft bench`: load generator for keyraft (AWS KMS API) and OpenBao transit.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "keyraft-bench",
    after_help = "Examples:\n  keyraft bench --dev-json keyraft-data/dev.json --op encrypt-32,decrypt --clients 32 --duration 10s\n  keyraft bench --dev-json keyraft-data/dev.json --mix encrypt-32=8,decrypt=4,create-key=1 --count 100000\n  keyraft bench --target openbao --bao-addr http://127.0.0.1:8200 --bao-token root --op encrypt-4k --png-out bao.png"
)]
pub struct BenchArgs {
    /// What to drive.
    #[arg(long, value_enum, default_value_t = TargetKind::Keyraft)]
    pub target: TargetKind,
    /// A `keyraft dev` dev.json (credentials and endpoints).
    #[arg(long, value_name = "PATH")]
    pub dev_json: Option<PathBuf>,
    /// The region (with --dev-json: default the first in the file; with --endpoint: default
    /// us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// keyraft AWS API endpoint(s), comma-separated, instead of --dev-json.
    #[arg(long, value_name = "URL", value_delimiter = ',', conflicts_with = "dev_json")]
    pub endpoint: Vec<String>,
    /// Access key id for --endpoint (default $AWS_ACCESS_KEY_ID).
    #[arg(long)]
    pub access_key: Option<String>,
    /// Secret access key for --endpoint (default $AWS_SECRET_ACCESS_KEY).
    #[arg(long)]
    pub secret_key: Option<String>,
    /// OpenBao address (default $BAO_ADDR, then $VAULT_ADDR).
    #[arg(long, value_name = "URL")]
    pub bao_addr: Option<String>,
    /// OpenBao token (default $BAO_TOKEN, then $VAULT_TOKEN).
    #[arg(long)]
    pub bao_token: Option<String>,
    /// Operation(s), comma-separated, each measured in its own run [default: encrypt-32].
    #[arg(long, value_enum, value_delimiter = ',', conflicts_with = "mix")]
    pub op: Vec<Op>,
    /// A weighted mix measured as one run, e.g. encrypt-32=3,decrypt=1.
    #[arg(long, value_parser = Mix::parse)]
    pub mix: Option<Mix>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Measured time per run (e.g. 10s, 500ms, 2m) [default: 10s unless --count is given].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Measured operations per run (successes and errors); with --duration, whichever comes first.
    #[arg(long)]
    pub count: Option<u64>,
    /// Warm-up before each run, excluded from the figures.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, short)]
    pub quiet: bool,
    /// Write the report as JSON.
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Write the report as Markdown.
    #[arg(long, value_name = "FILE")]
    pub md_out: Option<PathBuf>,
    /// Write a PNG plot: throughput over time and latency by percentile.
    #[arg(long, value_name = "FILE")]
    pub png_out: Option<PathBuf>,
}

fn env(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// The target named by the arguments.
fn backend(args: &BenchArgs) -> anyhow::Result<Backend> {
    match args.target {
        TargetKind::Openbao => {
            if args.dev_json.is_some() || !args.endpoint.is_empty() {
                bail!("--dev-json and --endpoint are for --target keyraft; OpenBao takes --bao-addr and --bao-token");
            }
            let addr = args
                .bao_addr
                .clone()
                .or_else(|| env(&["BAO_ADDR", "VAULT_ADDR"]))
                .ok_or_else(|| anyhow!("--target openbao needs --bao-addr (or $BAO_ADDR)"))?;
            let token = args
                .bao_token
                .clone()
                .or_else(|| env(&["BAO_TOKEN", "VAULT_TOKEN"]))
                .ok_or_else(|| anyhow!("--target openbao needs --bao-token (or $BAO_TOKEN)"))?;
            let addr = addr.trim_end_matches('/').to_owned();
            if !addr.starts_with("http://") {
                bail!("--bao-addr {addr}: only http:// is supported (this build has no TLS client)");
            }
            Ok(Backend::OpenBao { addr, token })
        }
        TargetKind::Keyraft => {
            if let Some(path) = &args.dev_json {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                let info: crate::dev::DevInfo =
                    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
                let region = match &args.region {
                    Some(r) => r.clone(),
                    None => info
                        .regions
                        .keys()
                        .next()
                        .cloned()
                        .ok_or_else(|| anyhow!("{} lists no region", path.display()))?,
                };
                let endpoints = info.regions.get(&region).ok_or_else(|| {
                    anyhow!(
                        "{} has no region {region} (it has {})",
                        path.display(),
                        info.regions.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                })?;
                let endpoints =
                    endpoints.endpoints.iter().map(|e| Endpoint::parse(e)).collect::<anyhow::Result<Vec<_>>>()?;
                if endpoints.is_empty() {
                    bail!("{}: region {region} has no endpoint", path.display());
                }
                let peer = peer_region(&info, &region, &path.display().to_string())?;
                Ok(Backend::Keyraft {
                    endpoints,
                    access_key_id: info.access_key_id,
                    secret_access_key: info.secret_access_key,
                    region,
                    peer,
                })
            } else if !args.endpoint.is_empty() {
                let endpoints = args.endpoint.iter().map(|e| Endpoint::parse(e)).collect::<anyhow::Result<Vec<_>>>()?;
                let access_key_id = args
                    .access_key
                    .clone()
                    .or_else(|| env(&["AWS_ACCESS_KEY_ID"]))
                    .ok_or_else(|| anyhow!("--endpoint needs --access-key (or $AWS_ACCESS_KEY_ID)"))?;
                let secret_access_key = args
                    .secret_key
                    .clone()
                    .or_else(|| env(&["AWS_SECRET_ACCESS_KEY"]))
                    .ok_or_else(|| anyhow!("--endpoint needs --secret-key (or $AWS_SECRET_ACCESS_KEY)"))?;
                let region = args.region.clone().unwrap_or_else(|| "us-east-1".to_owned());
                let peer = Err("needs --dev-json with a second region (--endpoint names one region only)".to_owned());
                Ok(Backend::Keyraft { endpoints, access_key_id, secret_access_key, region, peer })
            } else {
                bail!("--target keyraft needs --dev-json PATH or --endpoint URL (with --access-key and --secret-key)")
            }
        }
    }
}

/// The region where `mrk-decrypt` makes its ciphertexts: the first region of dev.json (`path`)
/// other than `region`, or why there is none (`Err` in the result's `Ok`: the run is skipped).
fn peer_region(info: &crate::dev::DevInfo, region: &str, path: &str) -> anyhow::Result<Result<PeerRegion, String>> {
    let Some((name, peer)) = info.regions.iter().find(|(name, _)| name.as_str() != region) else {
        return Ok(Err(format!("needs a second region to make the ciphertexts in; {path} lists only {region}")));
    };
    let endpoints = peer.endpoints.iter().map(|e| Endpoint::parse(e)).collect::<anyhow::Result<Vec<_>>>()?;
    if endpoints.is_empty() {
        return Ok(Err(format!("{path}: region {name} (where the ciphertexts would be made) has no endpoint")));
    }
    Ok(Ok(PeerRegion { region: name.clone(), endpoints }))
}

/// One run to measure: the operations with their weights, and what was left out and why.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    name: String,
    ops: Vec<(Op, u32)>,
    left_out: Vec<(Op, String)>,
}

fn plans(args: &BenchArgs, target: &Target) -> Vec<Plan> {
    let split = |name: String, weighted: &[(Op, u32)]| {
        let mut plan = Plan { name, ops: Vec::new(), left_out: Vec::new() };
        for &(op, w) in weighted {
            match target.unsupported(op) {
                Some(why) => plan.left_out.push((op, why)),
                None => plan.ops.push((op, w)),
            }
        }
        plan
    };
    match &args.mix {
        Some(mix) => vec![split(mix.label(), &mix.0)],
        None => {
            let ops = if args.op.is_empty() { vec![Op::Encrypt32] } else { args.op.clone() };
            let mut seen = Vec::new();
            ops.into_iter()
                .filter(|op| {
                    let new = !seen.contains(op);
                    seen.push(*op);
                    new
                })
                .map(|op| split(op.name().to_owned(), &[(op, 1)]))
                .collect()
        }
    }
}

/// When a run stops, shared by its clients and the progress bar.
struct Control {
    warm_end: Instant,
    deadline: Option<Instant>,
    count: Option<u64>,
    /// Measured requests started (for --count).
    issued: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
}

/// What one client measured.
struct ClientOut {
    hists: Vec<Histogram<u64>>,
    ok: Vec<u64>,
    errors: Vec<BTreeMap<String, u64>>,
    /// Successes per [`FINE_BUCKET`] since the warm-up ended.
    timeline: Vec<u64>,
    last_done: Option<Instant>,
}

/// A small PRNG for picking the mix (splitmix64).
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Index of the operation drawn from the weights (cumulative, total > 0).
fn pick(weights: &[(Op, u32)], total: u64, state: &mut u64) -> usize {
    if weights.len() == 1 || total == 0 {
        return 0;
    }
    let mut r = next_random(state) % total;
    for (i, (_, w)) in weights.iter().enumerate() {
        if r < u64::from(*w) {
            return i;
        }
        r -= u64::from(*w);
    }
    weights.len() - 1
}

async fn client_loop(
    id: usize,
    target: Arc<Target>,
    fixture: Arc<Fixture>,
    weights: Arc<Vec<(Op, u32)>>,
    ctl: Arc<Control>,
) -> anyhow::Result<ClientOut> {
    let n = weights.len();
    let mut out = ClientOut {
        hists: (0..n).map(|_| report::new_histogram()).collect::<anyhow::Result<_>>()?,
        ok: vec![0; n],
        errors: vec![BTreeMap::new(); n],
        timeline: Vec::new(),
        last_done: None,
    };
    let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut rng = (id as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut seq: u64 = 0;
    loop {
        let now = Instant::now();
        if ctl.deadline.is_some_and(|d| now >= d) {
            break;
        }
        let measured = now >= ctl.warm_end;
        if measured {
            if let Some(count) = ctl.count {
                if ctl.issued.fetch_add(1, Ordering::Relaxed) >= count {
                    break;
                }
            }
        }
        let k = pick(&weights, total, &mut rng);
        let op = weights[k].0;
        seq += 1;
        let result = match target.prepare(op, &fixture, id, seq) {
            Ok(rb) => {
                let t0 = Instant::now();
                target.send(rb).await.map(|()| t0.elapsed())
            }
            Err(_) => Err("ClientError".to_owned()),
        };
        if !measured {
            continue;
        }
        let done = Instant::now();
        out.last_done = Some(done);
        match result {
            Ok(latency) => {
                report::record_us(&mut out.hists[k], latency.as_micros().min(u128::from(u64::MAX)) as u64);
                out.ok[k] += 1;
                ctl.ok.fetch_add(1, Ordering::Relaxed);
                let bucket = (done.saturating_duration_since(ctl.warm_end).as_millis() / FINE_BUCKET.as_millis())
                    .min(10_000_000) as usize;
                if out.timeline.len() <= bucket {
                    out.timeline.resize(bucket + 1, 0);
                }
                out.timeline[bucket] += 1;
            }
            Err(name) => {
                *out.errors[k].entry(name).or_insert(0) += 1;
                ctl.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(out)
}

fn progress_bar(args: &BenchArgs, name: &str, index: usize, runs: usize) -> ProgressBar {
    if args.quiet {
        return ProgressBar::hidden();
    }
    let (len, template) = match (args.count, run_duration(args)) {
        (Some(c), None) => (c, "{prefix} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} {msg}"),
        (_, Some(d)) => {
            ((d + args.warmup).as_millis() as u64, "{prefix} [{elapsed_precise}] {wide_bar:.cyan/blue} {msg}")
        }
        (None, None) => (0, "{prefix} [{elapsed_precise}] {msg}"),
    };
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(format!("[{}/{runs}] {name}", index + 1));
    pb
}

/// The measured duration per run: --duration, else 10 s unless --count is given.
fn run_duration(args: &BenchArgs) -> Option<Duration> {
    match (args.duration, args.count) {
        (Some(d), _) => Some(d),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    }
}

async fn execute(
    args: &BenchArgs,
    target: &Arc<Target>,
    plan: &Plan,
    index: usize,
    runs: usize,
) -> anyhow::Result<RunReport> {
    let mut notes: Vec<String> =
        plan.left_out.iter().map(|(op, why)| format!("left out {}: {why}", op.name())).collect();
    notes.extend(plan.ops.iter().filter_map(|(op, _)| target.note(*op)));
    if plan.ops.is_empty() {
        let reason = match plan.left_out.as_slice() {
            [(_, why)] => why.clone(),
            _ => "no operation of the mix is supported".to_owned(),
        };
        let mut r = RunReport::skipped(&plan.name, reason);
        if plan.left_out.len() > 1 {
            r.notes = notes;
        }
        return Ok(r);
    }
    let ops: Vec<Op> = plan.ops.iter().map(|(op, _)| *op).collect();
    let pb = progress_bar(args, &plan.name, index, runs);
    pb.set_message("setting up");
    let fixture = Arc::new(target.setup(&ops).await.with_context(|| format!("setting up {}", plan.name))?);

    let duration = run_duration(args);
    let started = Instant::now();
    let warm_end = started + args.warmup;
    let ctl = Arc::new(Control {
        warm_end,
        deadline: duration.map(|d| warm_end + d),
        count: args.count,
        issued: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let weights = Arc::new(plan.ops.clone());
    let mut tasks = Vec::with_capacity(args.clients);
    for id in 0..args.clients {
        tasks.push(tokio::spawn(client_loop(id, target.clone(), fixture.clone(), weights.clone(), ctl.clone())));
    }

    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (pb, ctl, done) = (pb.clone(), ctl.clone(), done.clone());
        let by_time = duration.is_some();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                let now = Instant::now();
                if by_time {
                    pb.set_position(now.duration_since(started).as_millis() as u64);
                } else {
                    pb.set_position(ctl.issued.load(Ordering::Relaxed).min(ctl.count.unwrap_or(u64::MAX)));
                }
                if now < ctl.warm_end {
                    pb.set_message("warming up");
                } else {
                    let ok = ctl.ok.load(Ordering::Relaxed);
                    let secs = now.duration_since(ctl.warm_end).as_secs_f64().max(1e-3);
                    pb.set_message(format!(
                        "{ok} ops, {:.0} ops/s, {} errors",
                        ok as f64 / secs,
                        ctl.errors.load(Ordering::Relaxed)
                    ));
                }
            }
        })
    };

    let mut outs = Vec::with_capacity(tasks.len());
    let mut failure = None;
    for t in tasks {
        match t.await {
            Ok(Ok(out)) => outs.push(out),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(anyhow!("a client task failed: {e}")),
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = ticker.await;
    pb.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    let mut r = summarize(&plan.name, &plan.ops, warm_end, duration, outs)?;
    r.notes = notes;
    Ok(r)
}

/// Merges the clients' figures into the run's report.
fn summarize(
    name: &str,
    weights: &[(Op, u32)],
    warm_end: Instant,
    duration: Option<Duration>,
    outs: Vec<ClientOut>,
) -> anyhow::Result<RunReport> {
    let n = weights.len();
    let mut hists = (0..n).map(|_| report::new_histogram()).collect::<anyhow::Result<Vec<_>>>()?;
    let mut all = report::new_histogram()?;
    let mut ok = vec![0u64; n];
    let mut errors: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); n];
    let mut fine: Vec<u64> = Vec::new();
    let mut last_done: Option<Instant> = None;
    for out in outs {
        for k in 0..n {
            hists[k].add(&out.hists[k]).map_err(|e| anyhow!("merging histograms: {e:?}"))?;
            ok[k] += out.ok[k];
            for (name, c) in &out.errors[k] {
                *errors[k].entry(name.clone()).or_insert(0) += c;
            }
        }
        if fine.len() < out.timeline.len() {
            fine.resize(out.timeline.len(), 0);
        }
        for (i, c) in out.timeline.iter().enumerate() {
            fine[i] += c;
        }
        last_done = match (last_done, out.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    for h in &hists {
        all.add(h).map_err(|e| anyhow!("merging histograms: {e:?}"))?;
    }
    let elapsed = match last_done {
        Some(t) => t.saturating_duration_since(warm_end),
        None => duration.unwrap_or_default(),
    };
    let elapsed_s = elapsed.as_secs_f64();
    let rate = |ops: u64| if elapsed_s > 0.0 { ops as f64 / elapsed_s } else { 0.0 };
    let (bucket_s, timeline) = timeline(&fine, elapsed);
    let total_ok: u64 = ok.iter().sum();
    let mut total_errors: BTreeMap<String, u64> = BTreeMap::new();
    for e in &errors {
        for (name, c) in e {
            *total_errors.entry(name.clone()).or_insert(0) += c;
        }
    }
    let per_op = if n > 1 {
        weights
            .iter()
            .enumerate()
            .map(|(k, (op, w))| OpStats {
                op: op.name().to_owned(),
                weight: *w,
                ops: ok[k],
                errors: errors[k].values().sum(),
                errors_by_name: errors[k].clone(),
                ops_per_sec: rate(ok[k]),
                latency: Latency::from_histogram(&hists[k]),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(RunReport {
        name: name.to_owned(),
        status: RunStatus::Ok,
        skip_reason: None,
        notes: Vec::new(),
        ops: total_ok,
        errors: total_errors.values().sum(),
        errors_by_name: total_errors,
        elapsed_s,
        ops_per_sec: rate(total_ok),
        latency: Latency::from_histogram(&all),
        latency_curve: report::percentile_curve(&all),
        timeline_bucket_s: bucket_s,
        timeline_ops_per_sec: timeline,
        per_op,
    })
}

/// The throughput timeline from the fine buckets: whole seconds for runs of 10 s or more, else
/// the 100 ms buckets; only complete buckets; values in ops/s.
fn timeline(fine: &[u64], elapsed: Duration) -> (f64, Vec<f64>) {
    let fine_s = FINE_BUCKET.as_secs_f64();
    let per = if elapsed >= Duration::from_secs(10) { (1.0 / fine_s).round() as usize } else { 1 };
    let bucket_s = fine_s * per as f64;
    let complete = ((elapsed.as_secs_f64() / bucket_s).floor() as usize).max(1);
    let values = (0..complete)
        .map(|b| {
            let sum: u64 = (b * per..(b + 1) * per).filter_map(|i| fine.get(i)).sum();
            sum as f64 / bucket_s
        })
        .collect();
    (bucket_s, values)
}

/// Runs the benchmark: every run in turn, then the report to stdout and the requested files.
pub async fn run(args: BenchArgs) -> anyhow::Result<BenchReport> {
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    if args.count == Some(0) {
        bail!("--count must be at least 1");
    }
    if args.duration.is_some_and(|d| d.is_zero()) {
        bail!("--duration must be positive");
    }
    let target = Arc::new(Target::new(backend(&args)?, args.clients, REQUEST_TIMEOUT)?);
    let plans = plans(&args, &target);
    let started_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let mut report = BenchReport {
        tool: format!("keyraft bench {}", env!("CARGO_PKG_VERSION")),
        target: target.kind().to_owned(),
        target_detail: target.detail(),
        clients: args.clients,
        duration_s: run_duration(&args).map(|d| d.as_secs_f64()),
        count: args.count,
        warmup_s: args.warmup.as_secs_f64(),
        started_at,
        runs: Vec::new(),
    };
    for (i, plan) in plans.iter().enumerate() {
        let r = execute(&args, &target, plan, i, plans.len()).await?;
        if !args.quiet {
            match r.status {
                RunStatus::Ok => eprintln!(
                    "{}: {} ops, {:.0} ops/s, {} errors, p99 {:.3} ms",
                    r.name,
                    r.ops,
                    r.ops_per_sec,
                    r.errors,
                    r.latency.as_ref().map_or(0.0, |l| l.p99_us as f64 / 1000.0)
                ),
                RunStatus::Skipped => eprintln!("{}: skipped: {}", r.name, r.skip_reason.as_deref().unwrap_or("")),
            }
        }
        report.runs.push(r);
    }
    print!("{}", report::render_markdown(&report));
    if let Some(p) = &args.json_out {
        report.write_json(p)?;
    }
    if let Some(p) = &args.md_out {
        report.write_markdown(p)?;
    }
    if let Some(p) = &args.png_out {
        plot::write_png(&report, p)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parsing() {
        let m = Mix::parse("encrypt-32=3, decrypt=1,create-key").unwrap();
        assert_eq!(m.0, vec![(Op::Encrypt32, 3), (Op::Decrypt, 1), (Op::CreateKey, 1)]);
        assert_eq!(m.label(), "mix(encrypt-32=3,decrypt=1,create-key=1)");
        // Zero weights drop out; an all-zero mix, duplicates, unknown names and bad weights fail.
        assert_eq!(Mix::parse("encrypt-4k=0,generate-data-key=2").unwrap().0, vec![(Op::GenerateDataKey, 2)]);
        assert!(Mix::parse("encrypt-32=0").is_err());
        assert!(Mix::parse("encrypt-32=1,encrypt-32=2").is_err());
        assert!(Mix::parse("encrypt=1").unwrap_err().contains("unknown operation"));
        assert!(Mix::parse("decrypt=x").is_err());
        assert!(Mix::parse("").is_err());
    }

    #[test]
    fn mix_picks_follow_the_weights() {
        let w = vec![(Op::Encrypt32, 3), (Op::Decrypt, 1)];
        let mut state = 42;
        let mut counts = [0usize; 2];
        for _ in 0..40_000 {
            counts[pick(&w, 4, &mut state)] += 1;
        }
        let share = counts[0] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.02, "{counts:?}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn cli_accepts_every_op_and_the_unavailable_ones_are_skipped() {
        let args = BenchArgs::try_parse_from([
            "bench",
            "--endpoint",
            "http://127.0.0.1:1,http://127.0.0.1:2",
            "--access-key",
            "AK",
            "--secret-key",
            "SK",
            "--op",
            "encrypt-32,sign-ecc-p256,sign-rsa-2048,mrk-decrypt,re-encrypt",
        ])
        .unwrap();
        let target = Target::new(backend(&args).unwrap(), 1, REQUEST_TIMEOUT).unwrap();
        let p = plans(&args, &target);
        assert_eq!(p.len(), 5);
        assert_eq!(p[0].ops, vec![(Op::Encrypt32, 1)]);
        assert_eq!(p[1].ops, vec![(Op::SignEccP256, 1)]);
        assert_eq!(
            p[3].left_out,
            vec![(
                Op::MrkDecrypt,
                "needs --dev-json with a second region (--endpoint names one region only)".to_owned()
            )]
        );
        assert_eq!(p[4].ops, vec![(Op::ReEncrypt, 1)]);
        assert_eq!(run_duration(&args), Some(Duration::from_secs(10)));

        let bao = BenchArgs::try_parse_from([
            "bench",
            "--target",
            "openbao",
            "--bao-addr",
            "http://127.0.0.1:8200/",
            "--bao-token",
            "root",
            "--mix",
            "encrypt-32=2,re-encrypt=1",
            "--count",
            "100",
        ])
        .unwrap();
        let target = Target::new(backend(&bao).unwrap(), 1, REQUEST_TIMEOUT).unwrap();
        let p = plans(&bao, &target);
        assert_eq!(p[0].ops, vec![(Op::Encrypt32, 2)]);
        assert_eq!(p[0].left_out, vec![(Op::ReEncrypt, "not supported by this target".to_owned())]);
        assert_eq!(target.unsupported(Op::MrkDecrypt).as_deref(), Some("not supported by this target"));
        assert_eq!(run_duration(&bao), None);
        assert!(BenchArgs::try_parse_from(["bench", "--op", "encrypt-32", "--mix", "decrypt=1"]).is_err());
        assert!(BenchArgs::try_parse_from(["bench", "--op", "sign"]).is_err());
    }

    /// A dev.json with these regions (each with one endpoint, or none).
    fn dev_json(dir: &std::path::Path, regions: &[(&str, &[&str])]) -> PathBuf {
        let regions: serde_json::Map<String, serde_json::Value> = regions
            .iter()
            .map(|(name, eps)| ((*name).to_owned(), serde_json::json!({ "endpoints": eps, "admin": [] })))
            .collect();
        let path = dir.join(format!("dev-{}.json", regions.len()));
        let info = serde_json::json!({ "account_id": "111122223333", "access_key_id": "AK",
                                       "secret_access_key": "SK", "regions": regions });
        std::fs::write(&path, info.to_string()).unwrap();
        path
    }

    #[test]
    fn mrk_decrypt_makes_its_ciphertexts_in_the_first_other_region() {
        let dir = tempfile::tempdir().unwrap();
        let args = |path: &std::path::Path, region: &str| {
            BenchArgs::try_parse_from([
                "bench",
                "--dev-json",
                path.to_str().unwrap(),
                "--region",
                region,
                "--op",
                "decrypt,mrk-decrypt",
            ])
            .unwrap()
        };
        let three = dev_json(
            dir.path(),
            &[
                ("ap-south-1", &["http://127.0.0.1:3"]),
                ("eu-west-1", &["http://127.0.0.1:2"]),
                ("us-east-1", &["http://127.0.0.1:1"]),
            ],
        );
        let peer = |b: &Backend| match b {
            Backend::Keyraft { region, peer: Ok(p), .. } => {
                (region.clone(), p.region.clone(), p.endpoints[0].host.clone())
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            peer(&backend(&args(&three, "eu-west-1")).unwrap()),
            ("eu-west-1".into(), "ap-south-1".into(), "127.0.0.1:3".into())
        );
        assert_eq!(
            peer(&backend(&args(&three, "ap-south-1")).unwrap()),
            ("ap-south-1".into(), "eu-west-1".into(), "127.0.0.1:2".into())
        );
        let target = Target::new(backend(&args(&three, "eu-west-1")).unwrap(), 1, REQUEST_TIMEOUT).unwrap();
        let p = plans(&args(&three, "eu-west-1"), &target);
        assert_eq!(p[1].ops, vec![(Op::MrkDecrypt, 1)]);
        assert!(p[1].left_out.is_empty());
        let note = target.note(Op::MrkDecrypt).unwrap();
        assert!(note.contains("made in ap-south-1") && note.contains("Decrypt in eu-west-1"), "{note}");
        assert_eq!(Op::MrkDecrypt.kms_action(), Some("Decrypt"));

        // One region only: decrypt runs, mrk-decrypt is skipped with the reason.
        let one = dev_json(dir.path(), &[("us-east-1", &["http://127.0.0.1:1"])]);
        let target = Target::new(backend(&args(&one, "us-east-1")).unwrap(), 1, REQUEST_TIMEOUT).unwrap();
        let p = plans(&args(&one, "us-east-1"), &target);
        assert_eq!(p[0].ops, vec![(Op::Decrypt, 1)]);
        let why = format!("needs a second region to make the ciphertexts in; {} lists only us-east-1", one.display());
        assert_eq!(p[1].left_out, vec![(Op::MrkDecrypt, why)]);

        // The other region has no endpoint.
        let empty = dev_json(dir.path(), &[("eu-west-1", &[]), ("us-east-1", &["http://127.0.0.1:1"])]);
        let target = Target::new(backend(&args(&empty, "us-east-1")).unwrap(), 1, REQUEST_TIMEOUT).unwrap();
        assert!(target.unsupported(Op::MrkDecrypt).unwrap().contains("region eu-west-1"), "{empty:?}");
    }

    #[test]
    fn timeline_buckets() {
        // 2.5 s at 100 ms resolution: 25 complete buckets, values in ops/s.
        let fine = vec![10u64; 26];
        let (b, t) = timeline(&fine, Duration::from_millis(2_550));
        assert_eq!(b, 0.1);
        assert_eq!(t.len(), 25);
        assert!(t.iter().all(|v| (*v - 100.0).abs() < 1e-9));
        // 12.3 s: whole seconds.
        let (b, t) = timeline(&vec![5u64; 123], Duration::from_millis(12_300));
        assert_eq!(b, 1.0);
        assert_eq!(t.len(), 12);
        assert!((t[0] - 50.0).abs() < 1e-9);
    }
}
