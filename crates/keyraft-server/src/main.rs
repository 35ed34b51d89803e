//! The `keyraft` binary.

/// mimalloc instead of glibc malloc (docs/bench/allocator.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use keyraft_core::Region;
use keyraft_raft::SystemClock;
use keyraft_server::admin_client::AdminClient;
use keyraft_server::dev::{self, DevOptions};
use keyraft_server::{NodeConfig, RunningNode};
use keyraft_service::OsEntropy;

#[derive(Parser)]
#[command(
    name = "keyraft",
    version,
    about = "A self-hosted, multi-region key management service speaking the AWS KMS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// For an https:// admin URL (a node with [tls]): the deployment CA, e.g. pki/ca.pem.
    #[arg(long, global = true, env = "KEYRAFT_CA")]
    ca: Option<PathBuf>,
    /// A client certificate (PEM): the operator's, for the admin operations that need one
    /// (backup, restore, membership changes, DR promotion, TLS reload) and for `keyraft kms`.
    #[arg(long = "client-cert", global = true, env = "KEYRAFT_CERT", requires = "key")]
    cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long = "client-key", global = true, env = "KEYRAFT_KEY", requires = "cert")]
    key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one node of a region: `keyraft serve --config node.toml`.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Log lines as text or as JSON objects (one a line).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Run the embedded default: regions of three nodes each in one process, on loopback.
    Dev {
        /// Where every node keeps its data (kept across restarts).
        #[arg(long, default_value = "./keyraft-data")]
        data_dir: PathBuf,
        /// Comma-separated region names.
        #[arg(long, value_delimiter = ',', default_value = "us-east-1,eu-west-1")]
        regions: Vec<String>,
        /// Region i, node n listens on base+100i+n (AWS API), +10+n (Raft), +20+n (admin).
        #[arg(long, default_value_t = dev::DEFAULT_BASE_PORT)]
        base_port: u16,
        /// Run only these of the regions (the others stay configured but down: a region
        /// outage, for DR drills with `keyraft dr`).
        #[arg(long, value_delimiter = ',')]
        run_regions: Option<Vec<String>>,
        /// Log lines as text or as JSON objects (one a line).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Enforce AWS's default request quotas per account (ThrottlingException when over).
        #[arg(long)]
        quotas: bool,
    },
    /// Show a region's nodes, leader, term and log indexes, asked from a node's admin URL.
    Status {
        /// A node's admin URL, e.g. http://127.0.0.1:7021.
        #[arg(long)]
        endpoint: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load generator: ops/s and latency percentiles of keyraft (or OpenBao transit).
    Bench(Box<keyraft_server::bench::BenchArgs>),
    /// The gRPC KMS API for operators (mutual TLS with the operator certificate); prints JSON.
    Kms(Box<keyraft_server::kms_cli::KmsArgs>),
    /// Multi-region keys in a region: roles, epochs, replication; forced DR promotion.
    Dr {
        #[command(subcommand)]
        cmd: DrCmd,
    },
    /// A region's membership: list it, add a node as a learner, promote a learner, remove a node.
    Cluster {
        #[command(subcommand)]
        cmd: ClusterCmd,
    },
    /// A node's audit trail: verify its hash chain, or follow it.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// A region's X25519 transport key (multi-region key material is sealed to it).
    TransportKey {
        #[command(subcommand)]
        cmd: TransportKeyCmd,
    },
    /// The deployment's PKI: a CA, a certificate per node, an operator client certificate.
    Pki {
        #[command(subcommand)]
        cmd: PkiCmd,
    },
    /// Container health check: GETs `<admin>/readyz` (or `/healthz` with --live); exit 0 when
    /// it answers 200, 1 otherwise.
    Health {
        /// The node's admin URL, e.g. http://127.0.0.1:7200.
        #[arg(long)]
        admin: String,
        /// Ask `/healthz` (the node knows a leader) instead of `/readyz` (and has caught up).
        #[arg(long)]
        live: bool,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Write an encrypted backup of a region (readable only with its root key) to a file.
    Backup {
        /// A node's admin URL, e.g. http://127.0.0.1:7021.
        #[arg(long)]
        admin: String,
        /// The backup file to write (mode 0600).
        #[arg(long)]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup into a fresh region (same region name and root key, no keys yet).
    Restore {
        /// A node's admin URL of the region to restore into.
        #[arg(long)]
        admin: String,
        /// The backup file.
        #[arg(long = "in")]
        input: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Checks each file's hash chain (each file is its own chain): exit 0 when every file is
    /// intact, 1 naming the first broken record otherwise.
    Verify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Prints the last records as short lines (time, event, principal, key, outcome, request id).
    Tail {
        file: PathBuf,
        /// Keep printing records as they are appended.
        #[arg(short, long)]
        follow: bool,
        /// How many of the last records to print first.
        #[arg(short = 'n', long = "lines", default_value_t = 10)]
        lines: usize,
    },
}

#[derive(Subcommand)]
enum PkiCmd {
    /// Creates `ca.pem`, `ca-key.pem`, `<region>/node<N>.pem`, `<region>/node<N>-key.pem`,
    /// `operator.pem` and `operator-key.pem` in --out (keys mode 0600). Node certificates name
    /// `localhost`, `127.0.0.1`, the compose host `keyraft-<use1>-<N>`, --hosts and the URI
    /// `keyraft://<region>/<N>`.
    Init {
        /// The directory to write to.
        #[arg(long)]
        out: PathBuf,
        /// Comma-separated region names.
        #[arg(long, value_delimiter = ',', default_value = "us-east-1,eu-west-1")]
        regions: Vec<String>,
        /// Nodes per region.
        #[arg(long, default_value_t = 3)]
        nodes: u64,
        /// More host names or IP addresses for every node certificate (comma-separated);
        /// `{region}`, `{short}` (e.g. use1) and `{node}` are replaced by the node's.
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
        /// The operator's name (URI SAN `keyraft://operator/<name>`).
        #[arg(long, default_value = "admin")]
        operator: String,
        /// Validity of node and operator certificates in days (the CA's: ten times as long).
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Issues a new certificate for one node with the CA in --out: to rotate it (--force
    /// replaces its files; then `kill -HUP` the node or POST its admin `/v1/tls/reload`), or for
    /// a node added to a region.
    Issue {
        /// The PKI directory (`ca.pem`, `ca-key.pem`).
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        region: String,
        #[arg(long)]
        node: u64,
        /// More host names or IP addresses (comma-separated), as for `init`.
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Replace the node's existing files.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum TransportKeyCmd {
    /// Creates a transport key file (mode 0600; refuses to overwrite) and prints its public key.
    New { file: PathBuf },
    /// Prints the public key (64 hex digits) of a transport key file, for other regions'
    /// `[[regions]] transport_public_key`.
    Public { file: PathBuf },
}

/// Where to reach a region's admin API: `--endpoint URL`, or `--region R` looked up in
/// `keyraft dev`'s `dev.json`.
#[derive(clap::Args)]
struct RegionTarget {
    /// The region to ask (its nodes are found in --dev-info).
    #[arg(long)]
    region: Option<String>,
    /// A node's admin URL instead, e.g. http://127.0.0.1:7121.
    #[arg(long)]
    endpoint: Option<String>,
    /// `keyraft dev`'s endpoint file.
    #[arg(long, default_value = "./keyraft-data/dev.json")]
    dev_info: PathBuf,
}

impl RegionTarget {
    /// Admin URLs to try, in order.
    fn endpoints(&self) -> anyhow::Result<Vec<String>> {
        if let Some(e) = &self.endpoint {
            return Ok(vec![e.clone()]);
        }
        let region = self.region.as_deref().context("name --region or --endpoint")?;
        let text = std::fs::read_to_string(&self.dev_info)
            .with_context(|| format!("reading {} (or pass --endpoint)", self.dev_info.display()))?;
        let info: dev::DevInfo = serde_json::from_str(&text)?;
        let r =
            info.regions.get(region).with_context(|| format!("{} has no region {region}", self.dev_info.display()))?;
        Ok(r.admin.clone())
    }
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// The region's voters and learners with their Raft addresses.
    Members {
        /// A node's admin URL, e.g. http://127.0.0.1:7021.
        #[arg(long)]
        admin: String,
        #[arg(long)]
        json: bool,
    },
    /// Adds a node (started with `join = true`) as a learner; returns once it has caught up.
    AddLearner {
        #[arg(long)]
        admin: String,
        /// The new node's id in the region.
        #[arg(long)]
        id: u64,
        /// Where the region's nodes reach its Raft listener, `host:port`.
        #[arg(long)]
        raft_addr: String,
    },
    /// Makes a learner a voter.
    Promote {
        #[arg(long)]
        admin: String,
        #[arg(long)]
        id: u64,
    },
    /// Removes a voter or learner from the region (stop the node afterwards).
    Remove {
        #[arg(long)]
        admin: String,
        #[arg(long)]
        id: u64,
    },
}

#[derive(Subcommand)]
enum DrCmd {
    /// Every multi-region key of the region: role, epoch, primary, shared version, replicas,
    /// pending destinations, fencing and changes not carried over.
    Status {
        #[command(flatten)]
        target: RegionTarget,
        #[arg(long)]
        json: bool,
    },
    /// Forced promotion: make the region's replicas primary (while their primary region is
    /// unreachable). The new epoch fences the old primary when it returns.
    Promote {
        #[command(flatten)]
        target: RegionTarget,
        /// A key to promote (repeatable).
        #[arg(long = "key")]
        keys: Vec<String>,
        /// Promote every replica key of the region.
        #[arg(long, conflicts_with = "keys")]
        all: bool,
    },
}

/// Runs `f` against each admin URL until one answers.
async fn first_answer<T, F, Fut>(urls: Vec<String>, f: F) -> anyhow::Result<T>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut last = anyhow::anyhow!("no admin endpoint");
    for u in urls {
        match f(u.clone()).await {
            Ok(v) => return Ok(v),
            Err(e) => last = e.context(u),
        }
    }
    Err(last)
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr; a request's lines carry its `request` span (`id`, `op`).
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn,sled=warn"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => fmt.init(),
        LogFormat::Json => fmt.json().with_current_span(true).with_span_list(false).init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (ca, cert, key) = (cli.ca, cli.cert, cli.key);
    // The admin API client of status, dr, cluster, backup, restore and health.
    AdminClient::set_global(AdminClient::from_args(ca.as_deref(), cert.as_deref(), key.as_deref())?);
    match cli.command {
        Cmd::Serve { config, log_format } => {
            init_tracing(log_format);
            let text = std::fs::read_to_string(&config).with_context(|| format!("reading {}", config.display()))?;
            let cfg: NodeConfig = toml::from_str(&text).with_context(|| format!("parsing {}", config.display()))?;
            let node = RunningNode::start(cfg, Arc::new(SystemClock), Arc::new(OsEntropy)).await?;
            node.bootstrap().await?;
            println!(
                "keyraft node {} of {}: API {} admin {}",
                node.config.node_id, node.config.region, node.api_url, node.admin_url
            );
            // SIGHUP reloads the TLS certificate (rotation); SIGINT stops the node.
            let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
            loop {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => { r?; break; }
                    _ = hup.recv() => match &node.tls_cert {
                        Some(cert) => match cert.reload() {
                            Ok(s) => tracing::info!(serial = %s.serial, "SIGHUP: certificate reloaded"),
                            Err(e) => tracing::error!(error = %e, "SIGHUP: certificate not reloaded"),
                        },
                        None => tracing::warn!("SIGHUP: this node runs without [tls]"),
                    },
                }
            }
            node.shutdown().await;
        }
        Cmd::Dev { data_dir, regions, base_port, run_regions, log_format, quotas } => {
            init_tracing(log_format);
            let mut opts = DevOptions::new(data_dir);
            opts.quotas.enabled = quotas;
            opts.base_port = base_port;
            let parse = |list: &[String]| -> anyhow::Result<Vec<Region>> {
                list.iter().map(|r| Region::parse(r).map_err(|e| anyhow::anyhow!("{e}"))).collect()
            };
            opts.regions = parse(&regions)?;
            if let Some(run) = &run_regions {
                let run = parse(run)?;
                if let Some(r) = run.iter().find(|r| !opts.regions.contains(r)) {
                    anyhow::bail!("--run-regions names {r}, which is not among --regions");
                }
                opts.run_regions = Some(run);
            }
            let cluster = dev::start(&opts, Arc::new(SystemClock), Arc::new(OsEntropy)).await?;
            let info = &cluster.info;
            println!(
                "keyraft dev is running ({} regions × {} nodes), data in {}",
                info.regions.len(),
                dev::NODES_PER_REGION,
                opts.data_dir.display()
            );
            println!("  account           {}", info.account_id);
            println!("  access key id     {}", info.access_key_id);
            println!("  secret access key {}", info.secret_access_key);
            for u in &info.users {
                println!(
                    "  user {} ({}): access key id {}, secret access key {} (no permissions until a key policy or grant names it)",
                    u.name, u.arn, u.access_key_id, u.secret_access_key
                );
            }
            for (region, e) in &info.regions {
                let down = opts.run_regions.as_ref().is_some_and(|run| !run.iter().any(|r| r.as_str() == region));
                println!("  {region}{}", if down { " (not running: --run-regions)" } else { "" });
                println!("    endpoints {}", e.endpoints.join(" "));
                println!("    admin     {}", e.admin.join(" "));
                println!("    metrics   {}", e.metrics.join(" "));
                println!(
                    "    audit     {}",
                    e.audit.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
                );
            }
            println!("  written to {}", opts.data_dir.join("dev.json").display());
            println!(
                "Try: AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY=… aws kms create-key --region {} --endpoint-url {}",
                info.access_key_id,
                info.regions.keys().next().cloned().unwrap_or_default(),
                info.regions.values().next().and_then(|e| e.endpoints.first().cloned()).unwrap_or_default()
            );
            tokio::signal::ctrl_c().await?;
            cluster.shutdown().await;
        }
        Cmd::Status { endpoint, json } => {
            let s = keyraft_server::status::fetch(&endpoint).await?;
            if json {
                // The region status only (scripts read it); replication: GET /v1/replication.
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                let r = keyraft_server::status::fetch_replication(&endpoint).await;
                print!("{}", keyraft_server::status::render(&s));
                match r {
                    Ok(r) => print!("{}", keyraft_server::status::render_replication(&r)),
                    Err(e) => println!("multi-region replication: {e}"),
                }
            }
        }
        Cmd::Bench(args) => {
            keyraft_server::bench::run(*args).await?;
        }
        Cmd::Kms(args) => keyraft_server::kms_cli::run(*args, ca.as_deref(), cert.as_deref(), key.as_deref()).await?,
        Cmd::Audit { cmd: AuditCmd::Verify { files } } => {
            if !keyraft_server::audit::verify_files(&files, &mut std::io::stdout().lock())? {
                std::process::exit(1);
            }
        }
        Cmd::Audit { cmd: AuditCmd::Tail { file, follow, lines } } => {
            keyraft_server::audit::tail(&file, lines, follow, &mut std::io::stdout().lock())?;
        }
        Cmd::TransportKey { cmd: TransportKeyCmd::New { file } } => {
            anyhow::ensure!(!file.exists(), "{} exists; not overwriting a transport key", file.display());
            let key = keyraft_server::secrets::ensure_transport_key(&file)?;
            println!("{}", hex::encode(key.public_key()));
        }
        Cmd::TransportKey { cmd: TransportKeyCmd::Public { file } } => {
            let key = keyraft_server::secrets::read_transport_key(&file)?;
            println!("{}", hex::encode(key.public_key()));
        }
        Cmd::Pki { cmd: PkiCmd::Init { out, regions, nodes, hosts, operator, days, force } } => {
            let regions = regions
                .iter()
                .map(|r| Region::parse(r).map_err(|e| anyhow::anyhow!("{e}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let opts = keyraft_server::pki::PkiOptions { out, regions, nodes, hosts, operator, days, force };
            let files = keyraft_server::pki::init(&opts)?;
            println!("deployment CA   {} (key {})", files.ca.display(), files.ca_key.display());
            for n in &files.nodes {
                println!("{} node {}  {}  {}", n.region, n.node, n.cert.display(), n.sans.join(" "));
            }
            println!(
                "operator        {} (key {})  {}",
                files.operator_cert.display(),
                files.operator_key.display(),
                keyraft_server::pki::operator_uri(&opts.operator)
            );
            for r in &files.secrets {
                println!(
                    "{} root key {}  transport key {} (public {})",
                    r.region,
                    r.root_key.display(),
                    r.transport_key.display(),
                    r.transport_public_key
                );
            }
            println!("Give each node [tls] cert_file/key_file; clients trust {} (AWS_CA_BUNDLE).", files.ca.display());
            println!("Give each node only its own region's root_key_file and transport_key_file.");
        }
        Cmd::Pki { cmd: PkiCmd::Issue { out, region, node, hosts, days, force } } => {
            let region = Region::parse(&region).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut opts = keyraft_server::pki::PkiOptions::new(out, vec![region.clone()]);
            (opts.hosts, opts.days, opts.force) = (hosts, days, force);
            let n = keyraft_server::pki::issue(&opts, &region, node)?;
            println!("{} node {}  {}  {}", n.region, n.node, n.cert.display(), n.sans.join(" "));
        }
        Cmd::Health { admin, live, timeout_ms } => {
            let url = format!("{}/{}", admin.trim_end_matches('/'), if live { "healthz" } else { "readyz" });
            let client = AdminClient::global().timeout(std::time::Duration::from_millis(timeout_ms));
            match client.get(&url).await {
                Ok(a) if a.status.is_success() => println!("{url}: {}", a.status),
                Ok(a) => {
                    println!("{url}: {} {}", a.status, String::from_utf8_lossy(&a.body).trim());
                    std::process::exit(1);
                }
                Err(e) => {
                    println!("{url}: {e}");
                    std::process::exit(1);
                }
            }
        }
        Cmd::Dr { cmd: DrCmd::Status { target, json } } => {
            let s = first_answer(target.endpoints()?, |u| async move { keyraft_server::dr::fetch_status(&u).await })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", keyraft_server::dr::render_status(&s));
            }
        }
        Cmd::Dr { cmd: DrCmd::Promote { target, keys, all } } => {
            anyhow::ensure!(all || !keys.is_empty(), "name --key mrk-… (repeatable) or --all");
            let req = keyraft_server::admin::PromoteRequest { keys, all };
            let req = &req;
            let p = first_answer(target.endpoints()?, |u| async move { keyraft_server::dr::promote(&u, req).await })
                .await?;
            print!("{}", keyraft_server::dr::render_promotions(&p));
            anyhow::ensure!(p.iter().all(|x| x.error.is_none()), "some keys were not promoted");
        }
        Cmd::Cluster { cmd } => {
            use keyraft_raft::membership::MembershipChange;
            let (admin, change) = match cmd {
                ClusterCmd::Members { admin, json } => {
                    let m = keyraft_server::cluster::members(&admin).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&m)?);
                    } else {
                        print!("{}", keyraft_server::cluster::render(&m));
                    }
                    return Ok(());
                }
                ClusterCmd::AddLearner { admin, id, raft_addr } => {
                    (admin, MembershipChange::AddLearner { id, raft_addr })
                }
                ClusterCmd::Promote { admin, id } => (admin, MembershipChange::Promote { id }),
                ClusterCmd::Remove { admin, id } => (admin, MembershipChange::Remove { id }),
            };
            print!("{}", keyraft_server::cluster::render(&keyraft_server::cluster::change(&admin, &change).await?));
        }
        Cmd::Backup { admin, out, force } => {
            print!("{}", keyraft_server::backup::backup(&admin, &out, force).await?.render());
        }
        Cmd::Restore { admin, input } => {
            let restored = keyraft_server::backup::restore(&admin, &input).await?;
            print!("{}", keyraft_server::backup::render_restore(&restored));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks over every subcommand (two arguments with one long name, a
    /// `requires` naming nothing, …), which otherwise fire only when that subcommand runs.
    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
