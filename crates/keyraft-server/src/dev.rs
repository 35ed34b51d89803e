//! `keyraft dev`: the embedded default. Two regions (by default) of three nodes each in one
//! process, on real loopback TCP with the same code paths as a deployment, durable in a data dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use keyraft_aws::Credential;
use keyraft_core::{AccountId, Clock, Region};
use keyraft_raft::PeerConfig;
use keyraft_service::Entropy;
use serde::{Deserialize, Serialize};

use crate::config::{NodeConfig, RemoteRegion};
use crate::node::RunningNode;
use crate::secrets;

/// The dev account.
pub const DEV_ACCOUNT: &str = "111122223333";
pub const DEFAULT_REGIONS: &[&str] = &["us-east-1", "eu-west-1"];
pub const DEFAULT_BASE_PORT: u16 = 7000;
pub const NODES_PER_REGION: u64 = 3;

#[derive(Debug, Clone)]
pub struct DevOptions {
    pub data_dir: PathBuf,
    pub regions: Vec<Region>,
    /// Region i, node n (1-based) listens on base + 100·i + n (API), + 10 + n (Raft), + 20 + n
    /// (admin).
    pub base_port: u16,
    pub host: String,
    /// Extra settings applied to every node (tests use them to shorten timings).
    pub tweak: Option<fn(&mut NodeConfig)>,
    /// Explicit `[api, raft, admin]` ports per node, region by region (tests use free ports);
    /// `None` derives them from `base_port`.
    pub ports: Option<Vec<[u16; 3]>>,
    /// Wraps every node's cross-region link (tests inject faults through it).
    pub link_wrap: Option<crate::link::LinkWrap>,
    /// Run only these regions' nodes (the others stay configured: a region outage for DR
    /// drills). `None`: every region.
    pub run_regions: Option<Vec<Region>>,
    /// Every node's request quotas. Off by default in dev (a development loop and the test
    /// clusters are not to be throttled); `keyraft dev --quotas` turns AWS's defaults on.
    pub quotas: keyraft_aws::quota::QuotaConfig,
}

impl DevOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        DevOptions {
            data_dir: data_dir.into(),
            regions: DEFAULT_REGIONS.iter().filter_map(|r| Region::parse(r).ok()).collect(),
            base_port: DEFAULT_BASE_PORT,
            host: "127.0.0.1".into(),
            tweak: None,
            ports: None,
            link_wrap: None,
            run_regions: None,
            quotas: keyraft_aws::quota::QuotaConfig { enabled: false, ..Default::default() },
        }
    }
}

/// What `keyraft dev` prints and writes to `<data-dir>/dev.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevInfo {
    pub account_id: String,
    /// The account root's access key pair.
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Further principals of the dev account: IAM users with no identity policy, who may do
    /// only what key policies and grants allow them.
    #[serde(default)]
    pub users: Vec<DevUser>,
    pub regions: BTreeMap<String, RegionEndpoints>,
}

/// A dev IAM user (`arn:aws:iam::<account>:user/<name>`) and its access key pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevUser {
    pub name: String,
    pub arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The dev user's name.
pub const DEV_USER: &str = "dev-user";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionEndpoints {
    pub endpoints: Vec<String>,
    pub admin: Vec<String>,
    /// Each node's Prometheus scrape URL (`<admin>/metrics`).
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Each node's audit trail file (`keyraft audit verify|tail`).
    #[serde(default)]
    pub audit: Vec<PathBuf>,
}

pub struct DevCluster {
    pub info: DevInfo,
    pub nodes: Vec<RunningNode>,
}

/// The node configs of a dev deployment, creating root keys and credentials on first start.
pub fn configs(opts: &DevOptions) -> anyhow::Result<(Vec<NodeConfig>, (String, String), DevUser)> {
    std::fs::create_dir_all(&opts.data_dir).with_context(|| format!("creating {}", opts.data_dir.display()))?;
    let creds = stored_key_pair(&opts.data_dir.join("dev-credentials.json"))?;
    let user_pair = stored_key_pair(&opts.data_dir.join("dev-user-credentials.json"))?;
    let user = DevUser {
        name: DEV_USER.into(),
        arn: format!("arn:aws:iam::{DEV_ACCOUNT}:user/{DEV_USER}"),
        access_key_id: user_pair.0,
        secret_access_key: user_pair.1,
    };
    let account = AccountId::parse(DEV_ACCOUNT).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Per region: its root key, its transport key and its voters' Raft addresses; every node
    // then lists the other regions (transport public key, Raft addresses) for multi-region keys.
    struct RegionPlan {
        region: Region,
        root_key_file: PathBuf,
        transport_key_file: PathBuf,
        transport_public_key: String,
        peers: Vec<PeerConfig>,
        ports: Vec<[u16; 3]>,
    }
    let mut plans = Vec::new();
    for (i, region) in opts.regions.iter().enumerate() {
        let base = opts.base_port + 100 * i as u16;
        let port = |n: u64, kind: usize| -> u16 {
            match &opts.ports {
                Some(p) => p.get(i * NODES_PER_REGION as usize + n as usize - 1).map(|p| p[kind]).unwrap_or(0),
                None => base + 10 * kind as u16 + n as u16,
            }
        };
        let dir = opts.data_dir.join(region.as_str());
        let root_key_file = dir.join("root.key");
        secrets::ensure_root_key(&root_key_file)?;
        let transport_key_file = dir.join("transport.key");
        let transport = secrets::ensure_transport_key(&transport_key_file)?;
        let peers: Vec<PeerConfig> = (1..=NODES_PER_REGION)
            .map(|n| PeerConfig { id: n, raft_addr: format!("{}:{}", opts.host, port(n, 1)) })
            .collect();
        plans.push(RegionPlan {
            region: region.clone(),
            root_key_file,
            transport_key_file,
            transport_public_key: hex::encode(transport.public_key()),
            ports: (1..=NODES_PER_REGION).map(|n| [port(n, 0), port(n, 1), port(n, 2)]).collect(),
            peers,
        });
    }
    let mut out = Vec::new();
    for plan in &plans {
        let region = &plan.region;
        let others: Vec<RemoteRegion> = plans
            .iter()
            .filter(|p| &p.region != region)
            .map(|p| RemoteRegion {
                name: p.region.clone(),
                transport_public_key: p.transport_public_key.clone(),
                raft_addrs: p.peers.iter().map(|x| x.raft_addr.clone()).collect(),
            })
            .collect();
        for n in 1..=NODES_PER_REGION {
            let [api, raft, admin] = plan.ports[n as usize - 1];
            let mut cfg = NodeConfig {
                cluster_id: "keyraft-dev".into(),
                region: region.clone(),
                node_id: n,
                data_dir: opts.data_dir.join(region.as_str()).join(format!("node-{n}")),
                api_addr: format!("{}:{api}", opts.host),
                raft_addr: format!("{}:{raft}", opts.host),
                admin_addr: format!("{}:{admin}", opts.host),
                root_key_file: plan.root_key_file.clone(),
                peers: plan.peers.clone(),
                join: false,
                credentials: vec![
                    Credential {
                        access_key_id: creds.0.clone(),
                        secret_access_key: creds.1.clone(),
                        account_id: account.clone(),
                        principal: None,
                        policies: Vec::new(),
                    },
                    Credential {
                        access_key_id: user.access_key_id.clone(),
                        secret_access_key: user.secret_access_key.clone(),
                        account_id: account.clone(),
                        principal: Some(user.arn.clone()),
                        policies: Vec::new(),
                    },
                ],
                read_barrier: true,
                heartbeat_ms: None,
                snapshot_every: None,
                transport_key_file: Some(plan.transport_key_file.clone()),
                regions: others.clone(),
                quotas: opts.quotas.clone(),
                audit: Default::default(),
                tls: None,
                plaintext: true,
                // The gRPC KMS API needs mutual TLS; dev runs plaintext.
                grpc_addr: None,
                grpc_principals: Vec::new(),
            };
            if let Some(t) = opts.tweak {
                t(&mut cfg);
            }
            out.push(cfg);
        }
    }
    Ok((out, creds, user))
}

/// A dev access key pair: created once, then read back from `path`.
fn stored_key_pair(path: &Path) -> anyhow::Result<(String, String)> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        if let (Some(a), Some(s)) = (v["access_key_id"].as_str(), v["secret_access_key"].as_str()) {
            return Ok((a.to_owned(), s.to_owned()));
        }
    }
    let creds = (secrets::new_access_key_id(), secrets::new_secret_access_key());
    write_private(path, &serde_json::json!({"access_key_id": creds.0, "secret_access_key": creds.1}).to_string())?;
    Ok(creds)
}

/// Writes `text` to `path` (mode 0600) through a temporary file renamed over it, so a reader
/// (a script waiting for `dev.json`) never sees it half written.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// Starts every node, waits for a leader in each region and writes `dev.json`.
pub async fn start(opts: &DevOptions, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> anyhow::Result<DevCluster> {
    let (configs, creds, user) = configs(opts)?;
    // Every region's endpoints go to dev.json, also those not run now (`--run-regions`).
    let mut regions: BTreeMap<String, RegionEndpoints> = BTreeMap::new();
    for c in &configs {
        let e = regions.entry(c.region.to_string()).or_insert_with(|| RegionEndpoints {
            endpoints: vec![],
            admin: vec![],
            metrics: vec![],
            audit: vec![],
        });
        e.endpoints.push(format!("http://{}", c.api_addr));
        e.admin.push(format!("http://{}", c.admin_addr));
        e.metrics.push(format!("http://{}/metrics", c.admin_addr));
        if c.audit.enabled {
            e.audit.push(c.audit_path());
        }
    }
    let mut nodes: Vec<RunningNode> = Vec::new();
    for cfg in configs {
        if opts.run_regions.as_ref().is_some_and(|run| !run.contains(&cfg.region)) {
            continue;
        }
        match RunningNode::start_with_link(cfg, clock.clone(), entropy.clone(), opts.link_wrap.clone()).await {
            Ok(n) => nodes.push(n),
            Err(e) => {
                // Leave nothing running behind a failed start (a port taken meanwhile, …).
                for n in nodes {
                    n.shutdown().await;
                }
                return Err(e);
            }
        }
    }
    for n in &nodes {
        n.bootstrap().await?;
    }
    for n in &nodes {
        n.wait_for_leader(Duration::from_secs(30)).await?;
    }
    let info = DevInfo {
        account_id: DEV_ACCOUNT.into(),
        access_key_id: creds.0,
        secret_access_key: creds.1,
        users: vec![user],
        regions,
    };
    write_private(&opts.data_dir.join("dev.json"), &serde_json::to_string_pretty(&info)?)?;
    Ok(DevCluster { info, nodes })
}

impl DevCluster {
    pub async fn shutdown(self) {
        for n in self.nodes {
            n.shutdown().await;
        }
    }
}
