//! The node configuration file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use keyraft_aws::quota::QuotaConfig;
use keyraft_aws::Credential;
use keyraft_core::Region;
use keyraft_raft::{PeerConfig, RegionConfig};
use serde::{Deserialize, Serialize};

/// `keyraft serve --config node.toml`. See `cluster-config/` for examples.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The deployment's id; Raft RPCs for another deployment are refused.
    pub cluster_id: String,
    pub region: Region,
    pub node_id: u64,
    pub data_dir: PathBuf,
    /// The AWS KMS API listener (`host:port`).
    pub api_addr: String,
    /// The Raft gRPC listener (`host:port`).
    pub raft_addr: String,
    /// The admin API listener (`host:port`): `/v1/status`, `/healthz`.
    pub admin_addr: String,
    /// The region's root key: 64 hex digits, mode 0600.
    pub root_key_file: PathBuf,
    /// Every voter of the region (this node included), with the address peers reach it at. For a
    /// node that joins (`join = true`): itself and the members it can reach first.
    pub peers: Vec<PeerConfig>,
    /// This node joins a region that runs already: it does not initialize the group and waits
    /// until an operator adds it (`keyraft cluster add-learner`, then `promote`).
    #[serde(default)]
    pub join: bool,
    /// Access key pairs accepted by the AWS API.
    #[serde(default)]
    pub credentials: Vec<Credential>,
    /// Pass reads through the linearizable read barrier (default true).
    #[serde(default = "yes")]
    pub read_barrier: bool,
    /// Raft heartbeat interval in milliseconds (default 100).
    #[serde(default)]
    pub heartbeat_ms: Option<u64>,
    /// Build a snapshot after this many log entries (default 10000).
    #[serde(default)]
    pub snapshot_every: Option<u64>,
    /// The region's X25519 transport key (64 hex digits, mode 0600, identical on the region's
    /// nodes): multi-region key material is sealed to it. Without it, multi-region keys stay in
    /// their region (ReplicateKey answers UnsupportedOperationException).
    #[serde(default)]
    pub transport_key_file: Option<PathBuf>,
    /// The other regions of the deployment, for multi-region keys.
    #[serde(default)]
    pub regions: Vec<RemoteRegion>,
    /// `[quotas]`: per-account request quotas (default: on, AWS's us-east-1 defaults), e.g.
    /// `symmetric = 50000.0`, `[quotas.operations] CreateKey = 50.0`, `enabled = false`.
    #[serde(default)]
    pub quotas: QuotaConfig,
    /// `[audit]`: the node's hash-chained audit trail (default: on, `<data_dir>/audit.jsonl`,
    /// fail-closed, no fsync per record).
    #[serde(default)]
    pub audit: AuditConfig,
    /// `[tls]`: the AWS API over HTTPS, and mutual TLS on the Raft listener (Raft between the
    /// region's nodes, shipments between regions). A node without it refuses to start unless
    /// `plaintext = true`.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Serve without TLS: the AWS API over plain HTTP and Raft over plain gRPC, with nothing
    /// but configuration keeping regions apart. For `keyraft dev` and tests on one machine.
    #[serde(default)]
    pub plaintext: bool,
    /// The gRPC KMS API listener (`host:port`; `keyraft.kms.v1`, `keyraft kms`): mutual TLS
    /// only, so it needs `[tls]`. Off when absent.
    #[serde(default)]
    pub grpc_addr: Option<String>,
    /// `[[grpc_principals]]`: the client-certificate identities (`keyraft://operator/<name>`)
    /// that may call the gRPC KMS API, each as an AWS principal (`identity`, `account_id`,
    /// `principal`, `policies`). None: every gRPC call is refused.
    #[serde(default)]
    pub grpc_principals: Vec<keyraft_grpc::GrpcPrincipal>,
}

/// `[tls]` of the node config (`keyraft pki init` writes the files). The AWS API serves HTTPS
/// (HTTP/1.1) with the node's certificate. The Raft listener serves and dials mutual TLS: a peer
/// must present a certificate of the deployment CA whose URI SAN `keyraft://<region>/<node>`
/// names a node of this region (Raft) or of a peer region (shipments), and the node's own
/// certificate must name this node. The admin API stays plain HTTP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The node's certificate (PEM; the chain, leaf first), e.g. `pki/us-east-1/node1.pem`.
    pub cert_file: PathBuf,
    /// Its private key (PEM, PKCS#8), mode 0600, e.g. `pki/us-east-1/node1-key.pem`.
    pub key_file: PathBuf,
    /// The deployment CA (PEM), e.g. `pki/ca.pem`: peers' certificates must chain to it.
    pub ca_file: PathBuf,
}

/// `[audit]` of the node config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The audit file (default `<data_dir>/audit.jsonl`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A record that cannot be written fails its request with KMSInternalException (default
    /// true); false: the request is answered and the record lost (logged).
    #[serde(default = "yes")]
    pub fail_closed: bool,
    /// fsync the file after every record (default false).
    #[serde(default)]
    pub fsync: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { enabled: true, path: None, fail_closed: true, fsync: false }
    }
}

/// Another region of the deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteRegion {
    pub name: Region,
    /// That region's transport public key (64 hex digits; `keyraft transport-key public FILE`).
    pub transport_public_key: String,
    /// The Raft gRPC addresses (`host:port`) of that region's nodes; shipments go to any of them.
    pub raft_addrs: Vec<String>,
}

impl RemoteRegion {
    pub fn public_key(&self) -> anyhow::Result<[u8; 32]> {
        let bytes = hex::decode(self.transport_public_key.trim())
            .map_err(|e| anyhow::anyhow!("transport_public_key of region {}: {e}", self.name))?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| anyhow::anyhow!("transport_public_key of region {} is not 32 bytes", self.name))
    }
}

fn yes() -> bool {
    true
}

impl NodeConfig {
    pub fn region_config(&self) -> RegionConfig {
        let peers: BTreeMap<u64, String> = self.peers.iter().map(|p| (p.id, p.raft_addr.clone())).collect();
        let mut rc = RegionConfig::new(&self.cluster_id, self.region.clone(), self.node_id, peers);
        rc.read_barrier = self.read_barrier;
        rc.join = self.join;
        if let Some(h) = self.heartbeat_ms {
            rc.heartbeat = std::time::Duration::from_millis(h);
            rc.election_timeout = (rc.heartbeat * 8, rc.heartbeat * 16);
        }
        if let Some(s) = self.snapshot_every {
            rc.snapshot_every = s;
            rc.keep_after_snapshot = s / 10;
        }
        rc
    }

    /// Where this node writes its audit trail.
    pub fn audit_path(&self) -> PathBuf {
        self.audit.path.clone().unwrap_or_else(|| self.data_dir.join("audit.jsonl"))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.join {
            anyhow::ensure!(
                self.peers.len() >= 2,
                "a joining node lists itself and at least one member of the region under [[peers]]"
            );
        } else {
            anyhow::ensure!(
                matches!(self.peers.len(), 1 | 3 | 5),
                "a region starts with 1 (testing only), 3 or 5 voters; {} are configured (a node added later sets join = true)",
                self.peers.len()
            );
        }
        anyhow::ensure!(
            self.peers.iter().any(|p| p.id == self.node_id),
            "node_id {} is not among the peers",
            self.node_id
        );
        match (&self.tls, self.plaintext) {
            (None, false) => anyhow::bail!(
                "no [tls] section: give the node its certificate, key and the deployment CA (`keyraft pki init`), or set `plaintext = true` to run without TLS (testing only)"
            ),
            (Some(_), true) => anyhow::bail!("[tls] and plaintext = true contradict each other"),
            _ => {}
        }
        anyhow::ensure!(
            self.grpc_addr.is_none() || self.tls.is_some(),
            "grpc_addr needs [tls]: the gRPC KMS API is served over mutual TLS only"
        );
        keyraft_grpc::Principals::new(&self.grpc_principals)?;
        for r in &self.regions {
            anyhow::ensure!(r.name != self.region, "region {} lists itself under [[regions]]", r.name);
            r.public_key()?;
            anyhow::ensure!(!r.raft_addrs.is_empty(), "region {} has no raft_addrs", r.name);
        }
        anyhow::ensure!(
            self.regions.is_empty() || self.transport_key_file.is_some(),
            "[[regions]] needs transport_key_file"
        );
        let bad = keyraft_aws::quota::Quotas::unknown_operations(&self.quotas);
        anyhow::ensure!(
            bad.is_empty(),
            "[quotas.operations] names {bad:?}: not KMS operations with their own quota (cryptographic operations take their family's: symmetric, rsa, ecc, post_quantum)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example deployment in `cluster-config/` parses and is consistent.
    #[test]
    fn example_configs_are_valid() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster-config");
        let mut seen = 0;
        for region in ["us-east-1", "eu-west-1"] {
            for n in 1..=3u64 {
                let path = format!("{root}/{region}/node{n}.toml");
                let text = std::fs::read_to_string(&path).unwrap();
                let cfg: NodeConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
                cfg.validate().unwrap();
                assert_eq!((cfg.region.as_str(), cfg.node_id), (region, n));
                assert_eq!(cfg.region_config().peers.len(), 3);
                // Principals and their identity policies parse too.
                let ids = keyraft_aws::Identities::new(&cfg.credentials).unwrap_or_else(|e| panic!("{path}: {e}"));
                let app = ids.caller("AKIAEXAMPLEKEYRAFT02").expect("the example user");
                assert_eq!(app.principal, "arn:aws:iam::111122223333:user/app");
                assert_eq!(app.identity.0.len(), 1);
                seen += 1;
            }
        }
        assert_eq!(seen, 6);
    }

    /// The examples run with `[tls]`; without it a node starts only with `plaintext = true`.
    #[test]
    fn tls_or_explicit_plaintext() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster-config/us-east-1/node1.toml");
        let text = std::fs::read_to_string(root).unwrap();
        let cfg: NodeConfig = toml::from_str(&text).unwrap();
        let tls = cfg.tls.clone().expect("[tls]");
        assert_eq!(tls.cert_file, PathBuf::from("/etc/keyraft/pki/us-east-1/node1.pem"));
        assert_eq!(tls.key_file, PathBuf::from("/etc/keyraft/pki/us-east-1/node1-key.pem"));
        assert_eq!(tls.ca_file, PathBuf::from("/etc/keyraft/pki/ca.pem"));
        assert!(!cfg.plaintext);
        let typo = text.replace("key_file", "keyfile");
        assert!(toml::from_str::<NodeConfig>(&typo).is_err());
        let no_ca = text.replace("ca_file = ", "# ca_file = ");
        assert!(toml::from_str::<NodeConfig>(&no_ca).is_err(), "ca_file is required");

        let mut plain = cfg.clone();
        plain.tls = None;
        let err = plain.validate().expect_err("no [tls] and no plaintext");
        assert!(err.to_string().contains("plaintext = true"), "{err}");
        plain.plaintext = true;
        let err = plain.validate().expect_err("the gRPC KMS API without TLS");
        assert!(err.to_string().contains("grpc_addr needs [tls]"), "{err}");
        plain.grpc_addr = None;
        plain.validate().expect("explicit plaintext");
        let mut both = cfg;
        both.plaintext = true;
        assert!(both.validate().is_err());
    }
}
