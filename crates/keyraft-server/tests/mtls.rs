//! Mutual TLS between nodes with the deployment PKI of `keyraft pki init`: two regions elect
//! leaders and ship a multi-region key over it, and region isolation holds by certificate. A
//! node of region B (or an operator, a node claiming another node's id, another deployment's
//! certificate, or no certificate) is refused by region A's Raft group whatever the request
//! claims; a node dials only peers whose certificate names the region it expects.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::KeySpec;
use keyraft_core::Region;
use keyraft_raft::network::{Clients, Rpc};
use keyraft_raft::replication::RegionLinks;
use keyraft_raft::tls::PeerTls;
use keyraft_raft::{NodeStatus, RaftNodeError};
use keyraft_server::pki::{self, PkiOptions};
use keyraft_server::NodeConfig;
use keyraft_testkit::{use_pki, Cluster};

const USE1: &str = "us-east-1";
const EUW1: &str = "eu-west-1";

/// This deployment's PKI and another deployment's, made once per test binary (a `fn` tweak
/// cannot capture them).
fn pki_dirs() -> (&'static Path, &'static Path) {
    static DIRS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    let d = DIRS.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tmp");
        let ours = tmp.path().join("pki");
        let theirs = tmp.path().join("other");
        let regions = vec![Region::parse(USE1).expect("region"), Region::parse(EUW1).expect("region")];
        pki::init(&PkiOptions::new(&ours, regions.clone())).expect("pki init");
        pki::init(&PkiOptions::new(&theirs, regions)).expect("other pki init");
        (tmp, ours, theirs)
    });
    (&d.1, &d.2)
}

fn with_tls(cfg: &mut NodeConfig) {
    cfg.heartbeat_ms = Some(50);
    use_pki(cfg, pki_dirs().0);
}

/// A node's (or the operator's) certificate and key from `dir`, as a peer would present them.
fn peer(dir: &Path, cert: &str, key: &str) -> Arc<PeerTls> {
    Arc::new(PeerTls::load(&dir.join(cert), &dir.join(key), &dir.join("ca.pem")).expect("PeerTls"))
}

fn node_peer(dir: &Path, region: &str, n: u64) -> Arc<PeerTls> {
    peer(dir, &format!("{region}/node{n}.pem"), &format!("{region}/node{n}-key.pem"))
}

fn r(s: &str) -> Region {
    Region::parse(s).expect("region")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn regions_run_and_replicate_over_mutual_tls_and_refuse_other_certificates() {
    let (ours, theirs) = pki_dirs();
    let c = Cluster::ready_with(&[USE1, EUW1], with_tls).await.expect("two regions over mutual TLS");
    let ca = std::fs::read(ours.join("ca.pem")).expect("ca.pem");
    let client = |region: &str, n: u64| c.https_client(region, n, &ca);

    // Raft works over mutual TLS (leaders were elected; a write goes through the leader from any
    // node), and so do shipments: a multi-region key made in us-east-1 decrypts in eu-west-1.
    let use1 = client(USE1, 2);
    let key = use1
        .create_key()
        .multi_region(true)
        .key_spec(KeySpec::SymmetricDefault)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata")
        .key_id;
    use1.replicate_key().key_id(&key).replica_region(EUW1).send().await.expect("ReplicateKey to eu-west-1");
    let blob = use1
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"sealed to eu-west-1 over mutual TLS".to_vec()))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("blob");
    let euw1 = client(EUW1, 3);
    let mut plain = None;
    for _ in 0..100 {
        match euw1.decrypt().ciphertext_blob(blob.clone()).send().await {
            Ok(out) => {
                plain = out.plaintext;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(plain.expect("the replica decrypts").as_ref(), b"sealed to eu-west-1 over mutual TLS");

    // Region isolation by certificate, against node 1 of us-east-1.
    let target = c.node(USE1, 1).config.raft_addr.clone();
    let t = Duration::from_secs(3);
    let status = |clients: Clients| {
        let target = target.clone();
        async move { clients.call::<(), NodeStatus>(&target, Rpc::Status, &(), t).await }
    };
    // The right certificate for the node the request claims: answered.
    let ok = status(Clients::new("keyraft-dev", USE1, 2).with_tls(node_peer(ours, USE1, 2), r(USE1))).await;
    assert_eq!(ok.expect("us-east-1 node 2 with its own certificate").region, USE1);

    // Refused by the server, for every RPC kind: an eu-west-1 node claiming to be us-east-1 node 2,
    // us-east-1 node 3 claiming to be node 2, the operator.
    for (what, tls) in [
        ("an eu-west-1 node's certificate", node_peer(ours, EUW1, 2)),
        ("node 3's certificate claiming node 2", node_peer(ours, USE1, 3)),
        ("the operator's certificate", peer(ours, "operator.pem", "operator-key.pem")),
    ] {
        let clients = Clients::new("keyraft-dev", USE1, 2).with_tls(tls, r(USE1));
        for rpc in [Rpc::Status, Rpc::ReadIndex, Rpc::Vote, Rpc::AppendEntries, Rpc::ForwardWrite, Rpc::InstallSnapshot]
        {
            let got: Result<serde_json::Value, _> = clients.call(&target, rpc, &(), t).await;
            match got {
                Err(RaftNodeError::Refused(msg)) => {
                    assert!(msg.contains("not node 2 of region us-east-1"), "{what} {rpc:?}: {msg}")
                }
                other => panic!("{what} {rpc:?}: expected a refusal, got {other:?}"),
            }
        }
    }
    // No TLS handshake at all: another deployment's CA (a certificate naming us-east-1 node 2),
    // and a plain gRPC client.
    let other = status(Clients::new("keyraft-dev", USE1, 2).with_tls(node_peer(theirs, USE1, 2), r(USE1))).await;
    assert!(matches!(other, Err(RaftNodeError::Transport(_))), "another deployment's certificate: {other:?}");
    let plain = status(Clients::new("keyraft-dev", USE1, 2)).await;
    assert!(matches!(plain, Err(RaftNodeError::Transport(_))), "plain gRPC: {plain:?}");

    // The client side: a us-east-1 node does not talk to a server whose certificate names eu-west-1.
    let euw1_addr = c.node(EUW1, 1).config.raft_addr.clone();
    let wrong = Clients::new("keyraft-dev", USE1, 2)
        .with_tls(node_peer(ours, USE1, 2), r(USE1))
        .call::<(), NodeStatus>(&euw1_addr, Rpc::Status, &(), t)
        .await;
    match wrong {
        Err(RaftNodeError::Transport(msg)) => {
            assert!(msg.contains("not a node of region us-east-1"), "{msg}")
        }
        other => panic!("dialing eu-west-1 as us-east-1: {other:?}"),
    }

    // Shipments: us-east-1 accepts them only from certificates naming eu-west-1, whatever the
    // request claims.
    let endpoints = [(r(USE1), vec![target.clone()])].into_iter().collect();
    let forged = RegionLinks::new("keyraft-dev", r(EUW1), endpoints).with_tls(node_peer(ours, USE1, 3));
    let err =
        forged.ship(&r(USE1), b"{}".to_vec(), t).await.expect_err("a us-east-1 certificate shipping as eu-west-1");
    assert!(err.contains("not a node of region eu-west-1"), "{err}");

    // None of it changed anything: three voters, a leader, the key still decrypts in us-east-1.
    let s = c.node(USE1, 1).region_node.status().await;
    assert_eq!(s.voters, vec![1, 2, 3]);
    assert!(s.leader.is_some());
    let out = client(USE1, 1).decrypt().ciphertext_blob(blob).send().await.expect("Decrypt in us-east-1");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"sealed to eu-west-1 over mutual TLS");
    c.shutdown().await;
}
