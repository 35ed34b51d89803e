//! keyraft-testkit: what keyraft's integration tests share.
//!
//! - [`Cluster`]: `keyraft dev`'s regions started in-process on free loopback ports, real sled
//!   on disk in a temp dir, with nodes that can be stopped and restarted one by one; a region's
//!   root key can be taken from another cluster (`ready_with_root_keys`, for restore tests).
//! - [`RecordingEntropy`]: the OS RNG, remembering every 32-byte value it produced (key material
//!   and data keys), so tests can scan the disk for them.
//! - [`sdk_client`]: an unmodified `aws-sdk-kms` client for an endpoint.
//! - [`TestClock`]: wall-clock time plus an offset that tests move forward (days in a call), shared
//!   by the nodes and the SDK clients that sign their requests.
//! - [`free_ports`]: loopback ports nobody listens on.
//! - [`check`]: the AWS outcome of an SDK call, and assertions on it.
//! - [`disk`]: scanning a data dir for bytes that must (or must not) be there.

use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyraft_core::Clock;

use keyraft_raft::SystemClock;
use keyraft_server::dev::{DevInfo, DevOptions, NODES_PER_REGION};
use keyraft_server::{NodeConfig, RunningNode};
use keyraft_service::replication::{Link, ShipRequest};
use keyraft_service::{Entropy, OsEntropy};

/// `n` free loopback ports (bound once to learn them, then released).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n).filter_map(|_| TcpListener::bind("127.0.0.1:0").ok()).collect();
    listeners.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.port()).collect()
}

/// The OS RNG, recording every 32-byte fill (backing keys, 256-bit data keys).
#[derive(Default)]
pub struct RecordingEntropy {
    seen: Mutex<Vec<[u8; 32]>>,
}

impl RecordingEntropy {
    pub fn secrets(&self) -> Vec<[u8; 32]> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Entropy for RecordingEntropy {
    fn fill(&self, buf: &mut [u8]) {
        OsEntropy.fill(buf);
        if let (Ok(arr), Ok(mut seen)) = (<[u8; 32]>::try_from(&*buf), self.seen.lock()) {
            seen.push(arr);
        }
    }
}

/// The system clock plus an offset that only grows: tests fast-forward time (for rotation and
/// deletion schedules) by [`TestClock::advance`]. Clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct TestClock {
    offset_ms: Arc<AtomicU64>,
}

impl TestClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(u64::try_from(by.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    fn system_ms() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        Self::system_ms().saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }
}

/// SDK clients of a cluster on a test clock sign with that clock (SigV4 refuses skewed requests).
impl aws_smithy_async::time::TimeSource for TestClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_ms())
    }
}

/// Fast Raft timings for tests on a loaded 2-core machine.
fn test_timings(cfg: &mut NodeConfig) {
    cfg.heartbeat_ms = Some(50);
}

/// Regions of three nodes each, in this process, on real TCP and real sled.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub info: DevInfo,
    pub entropy: Arc<RecordingEntropy>,
    /// The cross-region links between regions: cut and heal them (`Links::cut`).
    pub links: Arc<Links>,
    configs: Vec<NodeConfig>,
    nodes: Vec<Option<RunningNode>>,
    clock: Arc<dyn Clock>,
    test_clock: Option<TestClock>,
}

impl Cluster {
    pub async fn start(regions: &[&str]) -> anyhow::Result<Self> {
        Self::start_with(regions, test_timings).await
    }

    /// Starts with `tweak` applied to every node's config.
    pub async fn start_with(regions: &[&str], tweak: fn(&mut NodeConfig)) -> anyhow::Result<Self> {
        Self::start_inner(regions, tweak, None, &[]).await
    }

    /// [`Cluster::ready_with`], with the root key of each region named in `root_keys` copied from
    /// that file (e.g. another cluster's [`Cluster::root_key_file`]) instead of generated.
    pub async fn ready_with_root_keys(
        regions: &[&str],
        tweak: fn(&mut NodeConfig),
        root_keys: &[(&str, &Path)],
    ) -> anyhow::Result<Self> {
        let c = Self::start_inner(regions, tweak, None, root_keys).await?;
        for r in regions {
            c.wait_leader(r, Duration::from_secs(20)).await?;
        }
        Ok(c)
    }

    /// The root key file of `region` (64 hex digits, shared by the region's nodes).
    pub fn root_key_file(&self, region: &str) -> std::path::PathBuf {
        self.dir.path().join("data").join(region).join("root.key")
    }

    /// The admin URL of a node.
    pub fn admin(&self, region: &str, node: u64) -> String {
        format!("http://{}", self.configs[self.index(region, node)].admin_addr)
    }

    /// Starts with the test timings and waits until every region has an agreed leader.
    pub async fn ready(regions: &[&str]) -> anyhow::Result<Self> {
        Self::ready_with(regions, test_timings).await
    }

    /// [`Cluster::start_with`], then waits until every region has an agreed leader.
    pub async fn ready_with(regions: &[&str], tweak: fn(&mut NodeConfig)) -> anyhow::Result<Self> {
        let c = Self::start_with(regions, tweak).await?;
        for r in regions {
            c.wait_leader(r, Duration::from_secs(20)).await?;
        }
        Ok(c)
    }

    /// Starts with `tweak` applied to every node's config, every node (also when restarted) and
    /// every [`Cluster::client`] on `clock`.
    pub async fn start_with_clock(
        regions: &[&str],
        tweak: fn(&mut NodeConfig),
        clock: TestClock,
    ) -> anyhow::Result<Self> {
        Self::start_inner(regions, tweak, Some(clock), &[]).await
    }

    /// The test kit's fast Raft timings, for [`Cluster::start_with_clock`].
    pub fn test_timings() -> fn(&mut NodeConfig) {
        test_timings
    }

    async fn start_inner(
        regions: &[&str],
        tweak: fn(&mut NodeConfig),
        test_clock: Option<TestClock>,
        root_keys: &[(&str, &Path)],
    ) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = match &test_clock {
            Some(c) => Arc::new(c.clone()),
            None => Arc::new(SystemClock),
        };
        let dir = tempfile::tempdir()?;
        // `dev` generates a region's root key only if its file is missing.
        for (region, from) in root_keys {
            let to = dir.path().join("data").join(region).join("root.key");
            std::fs::create_dir_all(dir.path().join("data").join(region))?;
            std::fs::copy(from, &to)?;
        }
        let mut opts = DevOptions::new(dir.path().join("data"));
        opts.regions = regions
            .iter()
            .map(|r| keyraft_core::Region::parse(r).map_err(|e| anyhow::anyhow!("{e}")))
            .collect::<Result<_, _>>()?;
        opts.tweak = Some(tweak);
        let links = Arc::new(Links::default());
        opts.link_wrap = Some(links.wrap());
        let entropy = Arc::new(RecordingEntropy::default());
        // Free ports are found by binding and releasing them, so a concurrent test can take one
        // before the node binds it: start again on other ports (the failed start stops what it
        // started).
        let mut attempt = 0;
        let cluster = loop {
            let ports = free_ports(regions.len() * NODES_PER_REGION as usize * 3);
            opts.ports = Some(ports.chunks(3).map(|c| [c[0], c[1], c[2]]).collect());
            match keyraft_server::dev::start(&opts, clock.clone(), entropy.clone()).await {
                Ok(c) => break c,
                Err(e) if attempt < 4 && format!("{e:#}").contains("Address already in use") => attempt += 1,
                Err(e) => return Err(e),
            }
        };
        let configs = cluster.nodes.iter().map(|n| n.config.clone()).collect();
        let info = cluster.info.clone();
        let nodes = cluster.nodes.into_iter().map(Some).collect();
        Ok(Cluster { dir, info, entropy, links, configs, nodes, clock, test_clock })
    }

    fn index(&self, region: &str, node: u64) -> usize {
        self.configs
            .iter()
            .position(|c| c.region.as_str() == region && c.node_id == node)
            .unwrap_or_else(|| panic!("no node {node} in region {region}"))
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn node(&self, region: &str, node: u64) -> &RunningNode {
        self.nodes[self.index(region, node)].as_ref().unwrap_or_else(|| panic!("node {node} of {region} is stopped"))
    }

    pub fn endpoint(&self, region: &str, node: u64) -> String {
        format!("http://{}", self.configs[self.index(region, node)].api_addr)
    }

    pub fn client(&self, region: &str, node: u64) -> aws_sdk_kms::Client {
        let client =
            sdk_client(&self.endpoint(region, node), region, &self.info.access_key_id, &self.info.secret_access_key);
        match &self.test_clock {
            Some(clock) => {
                aws_sdk_kms::Client::from_conf(client.config().to_builder().time_source(clock.clone()).build())
            }
            None => client,
        }
    }

    /// The leader of `region` as seen by any running node.
    pub fn leader(&self, region: &str) -> Option<u64> {
        self.nodes
            .iter()
            .flatten()
            .filter(|n| n.config.region.as_str() == region)
            .find_map(|n| n.region_node.raft().metrics().borrow().current_leader)
    }

    /// Waits until a running node of `region` is leader and every running node knows it.
    pub async fn wait_leader(&self, region: &str, timeout: Duration) -> anyhow::Result<u64> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let running: Vec<&RunningNode> =
                self.nodes.iter().flatten().filter(|n| n.config.region.as_str() == region).collect();
            let leaders: Vec<Option<u64>> =
                running.iter().map(|n| n.region_node.raft().metrics().borrow().current_leader).collect();
            if let Some(Some(l)) = leaders.first() {
                if leaders.iter().all(|x| x == &Some(*l)) && running.iter().any(|n| n.config.node_id == *l) {
                    return Ok(*l);
                }
            }
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "no agreed leader in {region}: {leaders:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops one node (its sled files stay on disk).
    pub async fn stop_node(&mut self, region: &str, node: u64) {
        let i = self.index(region, node);
        if let Some(n) = self.nodes[i].take() {
            n.shutdown().await;
        }
    }

    /// Starts a stopped node again from its data dir.
    pub async fn start_node(&mut self, region: &str, node: u64) -> anyhow::Result<()> {
        let i = self.index(region, node);
        anyhow::ensure!(self.nodes[i].is_none(), "node {node} of {region} is running");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        // The previous incarnation's sled lock and sockets are released asynchronously.
        let started = loop {
            let (cfg, clock, entropy) = (self.configs[i].clone(), self.clock.clone(), self.entropy.clone());
            match RunningNode::start_with_link(cfg, clock, entropy, Some(self.links.wrap())).await {
                Ok(n) => break n,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.nodes[i] = Some(started);
        Ok(())
    }

    pub async fn shutdown(mut self) {
        for n in self.nodes.iter_mut() {
            if let Some(n) = n.take() {
                n.shutdown().await;
            }
        }
    }
}

/// The fault-injection seam between regions: every node's cross-region link passes through
/// here, and a cut direction (from, to) fails every shipment as an unreachable region would.
#[derive(Default)]
pub struct Links {
    cut: Mutex<std::collections::BTreeSet<(String, String)>>,
    delivered: AtomicU64,
    refused: AtomicU64,
    duplicate: std::sync::atomic::AtomicBool,
    tamper: std::sync::atomic::AtomicBool,
}

impl Links {
    /// Cuts both directions between regions `a` and `b`.
    pub fn cut(&self, a: &str, b: &str) {
        if let Ok(mut c) = self.cut.lock() {
            c.insert((a.to_owned(), b.to_owned()));
            c.insert((b.to_owned(), a.to_owned()));
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        if let Ok(mut c) = self.cut.lock() {
            c.clear();
        }
    }

    /// Delivers every shipment twice from now on (`true`), as a retry after a lost answer does.
    pub fn duplicate(&self, on: bool) {
        self.duplicate.store(on, Ordering::SeqCst);
    }

    /// Flips one bit of every reply from now on (`true`), as an attacker on the path would.
    pub fn tamper_replies(&self, on: bool) {
        self.tamper.store(on, Ordering::SeqCst);
    }

    /// Shipments delivered and refused (cut) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.delivered.load(Ordering::SeqCst), self.refused.load(Ordering::SeqCst))
    }

    fn is_cut(&self, from: &str, to: &str) -> bool {
        self.cut.lock().map(|c| c.contains(&(from.to_owned(), to.to_owned()))).unwrap_or(false)
    }

    pub fn wrap(self: &Arc<Self>) -> keyraft_server::link::LinkWrap {
        let links = self.clone();
        keyraft_server::link::LinkWrap(Arc::new(move |region, inner| {
            Arc::new(FaultyLink { links: links.clone(), from: region.to_string(), inner })
        }))
    }
}

struct FaultyLink {
    links: Arc<Links>,
    from: String,
    inner: Arc<dyn Link>,
}

impl Link for FaultyLink {
    fn ship(
        &self,
        dest: &keyraft_core::Region,
        req: ShipRequest,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<u8>, String>> + Send + '_>> {
        let dest = dest.clone();
        Box::pin(async move {
            if self.links.is_cut(&self.from, dest.as_str()) {
                self.links.refused.fetch_add(1, Ordering::SeqCst);
                return Err(format!("link {} -> {dest} is cut (test)", self.from));
            }
            if self.links.duplicate.load(Ordering::SeqCst) {
                let _ = self.inner.ship(&dest, req.clone()).await;
                self.links.delivered.fetch_add(1, Ordering::SeqCst);
            }
            let r = self.inner.ship(&dest, req).await;
            // A cut that happened while the shipment was in flight loses the answer, as a real
            // partition would.
            if self.links.is_cut(&self.from, dest.as_str()) {
                self.links.refused.fetch_add(1, Ordering::SeqCst);
                return Err(format!("link {} -> {dest} was cut in flight (test)", self.from));
            }
            self.links.delivered.fetch_add(1, Ordering::SeqCst);
            match r {
                Ok(mut reply) if self.links.tamper.load(Ordering::SeqCst) => {
                    if let Some(b) = reply.last_mut() {
                        *b ^= 1;
                    }
                    Ok(reply)
                }
                other => other,
            }
        })
    }
}

/// Creates a key of `spec` (and `usage`, if given) and returns its id; panics on failure.
pub async fn create_key_spec(
    client: &aws_sdk_kms::Client,
    spec: &str,
    usage: Option<aws_sdk_kms::types::KeyUsageType>,
) -> String {
    let mut req = client.create_key().key_spec(aws_sdk_kms::types::KeySpec::from(spec)).description(spec);
    if let Some(u) = usage {
        req = req.key_usage(u);
    }
    let out = req.send().await.unwrap_or_else(|e| panic!("create {spec}: {e:?}"));
    out.key_metadata().expect("metadata").key_id().to_owned()
}

/// `aws-sdk-kms` over HTTPS whose trust store holds exactly the certificates of `ca_pem` (a
/// deployment CA, PEM), no system roots: as a user of a TLS deployment configures it.
pub fn https_sdk_client(
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret: &str,
    ca_pem: &[u8],
) -> aws_sdk_kms::Client {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty().with_native_roots(false).with_pem_certificate(ca_pem.to_vec());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(tls::TlsContext::builder().with_trust_store(trust).build().expect("TLS context"))
        .build_https();
    let base = sdk_client(endpoint, region, access_key_id, secret);
    aws_sdk_kms::Client::from_conf(base.config().to_builder().http_client(http).build())
}

/// Gives node `cfg` the `[tls]` of a `keyraft pki init` directory `pki` (its own certificate and
/// key, the CA) and turns plain text off.
pub fn use_pki(cfg: &mut NodeConfig, pki: &Path) {
    let region = pki.join(cfg.region.as_str());
    cfg.tls = Some(keyraft_server::config::TlsConfig {
        cert_file: region.join(format!("node{}.pem", cfg.node_id)),
        key_file: region.join(format!("node{}-key.pem", cfg.node_id)),
        ca_file: pki.join("ca.pem"),
    });
    cfg.plaintext = false;
}

impl Cluster {
    /// [`https_sdk_client`] for a node of a cluster running with `[tls]`, trusting `ca_pem`.
    pub fn https_client(&self, region: &str, node: u64, ca_pem: &[u8]) -> aws_sdk_kms::Client {
        let endpoint = &self.node(region, node).api_url;
        https_sdk_client(endpoint, region, &self.info.access_key_id, &self.info.secret_access_key, ca_pem)
    }
}

/// An unmodified `aws-sdk-kms` client, as a user would build one.
pub fn sdk_client(endpoint: &str, region: &str, access_key_id: &str, secret: &str) -> aws_sdk_kms::Client {
    let creds = aws_credential_types::Credentials::new(access_key_id, secret, None, None, "keyraft-test");
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

/// The AWS outcome of an SDK call: `OK` or the exception name.
pub mod check {
    use std::fmt::Debug;

    use aws_sdk_kms::error::ProvideErrorMetadata;

    /// The outcome of a call that succeeded.
    pub const OK: &str = "OK";

    /// `OK`, or the AWS exception name of the error (an error without one fails the test).
    pub fn outcome<T: Debug, E: ProvideErrorMetadata + Debug>(r: &Result<T, E>) -> String {
        match r {
            Ok(_) => OK.to_owned(),
            Err(e) => e.code().map(str::to_owned).unwrap_or_else(|| panic!("an error without an AWS code: {e:?}")),
        }
    }

    /// Asserts that `r` ended as `code` (`OK` or an AWS exception name).
    #[track_caller]
    pub fn assert_code<T: Debug, E: ProvideErrorMetadata + Debug>(r: Result<T, E>, code: &str, what: &str) {
        assert_eq!(outcome(&r), code, "{what}: {r:?}");
    }
}

/// Scanning a data dir: every file, and how often some bytes occur in one.
pub mod disk {
    use std::path::{Path, PathBuf};

    /// Every file below `dir`, appended to `out`.
    pub fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    /// How often `needle` occurs in `haystack`.
    pub fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack.windows(needle.len()).filter(|w| *w == needle).count()
    }
}
