//! Membership changes of a region (`keyraft cluster`, admin `/v1/membership`): a fourth node
//! started with `join = true` waits, is added as a learner through a follower, catches up and
//! serves, is promoted to voter; then the leader is removed and stopped, and the region goes on
//! with the new voter set. Changes that cannot be made are refused and change nothing.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use keyraft_raft::membership::MembershipChange;
use keyraft_raft::{PeerConfig, SystemClock};
use keyraft_server::{cluster, NodeConfig, RunningNode};
use keyraft_service::entropy::OsEntropy;
use keyraft_testkit::{free_ports, sdk_client, Cluster};

const R: &str = "us-east-1";

async fn start(cfg: &NodeConfig) -> RunningNode {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        // A restart may find the previous incarnation's sled lock not yet released.
        match RunningNode::start(cfg.clone(), Arc::new(SystemClock), Arc::new(OsEntropy)).await {
            Ok(n) => return n,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("node 4: {e:#}"),
        }
    }
}

async fn decrypts(client: &aws_sdk_kms::Client, blob: &Blob, plain: &[u8]) {
    let out = client.decrypt().ciphertext_blob(blob.clone()).send().await.expect("Decrypt");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), plain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_joins_is_promoted_and_the_leader_is_removed() {
    let mut c = Cluster::ready_with(&[R], Cluster::test_timings()).await.expect("cluster");
    let key = c.client(R, 1).create_key().send().await.expect("CreateKey").key_metadata.expect("meta").key_id;
    let blob = c
        .client(R, 2)
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"before the change".to_vec()))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("blob");

    // Node 4: node 1's configuration with its own id, ports and data, joining.
    let ports = free_ports(3);
    let mut cfg = c.node(R, 1).config.clone();
    cfg.node_id = 4;
    cfg.api_addr = format!("127.0.0.1:{}", ports[0]);
    cfg.raft_addr = format!("127.0.0.1:{}", ports[1]);
    cfg.admin_addr = format!("127.0.0.1:{}", ports[2]);
    cfg.data_dir = c.data_dir().join("joined-node-4");
    cfg.audit.path = None;
    cfg.join = true;
    cfg.peers.push(PeerConfig { id: 4, raft_addr: cfg.raft_addr.clone() });
    let mut n4 = start(&cfg).await;
    n4.bootstrap().await.expect("bootstrap is a no-op for a joining node");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(n4.region_node.membership_view().voters.is_empty(), "a joining node initializes nothing");
    let via = c.admin(R, if c.leader(R) == Some(2) { 3 } else { 2 });

    // Refused, changing nothing: promoting a node that is not a learner, removing a stranger.
    for (change, why) in
        [(MembershipChange::Promote { id: 4 }, "not a learner"), (MembershipChange::Remove { id: 9 }, "not a member")]
    {
        let err = cluster::change(&via, &change).await.expect_err("refused");
        assert!(err.to_string().contains("409") && err.to_string().contains(why), "{err:#}");
    }

    // Added as a learner through a follower: answered once it has caught up.
    let m = cluster::change(&via, &MembershipChange::AddLearner { id: 4, raft_addr: cfg.raft_addr.clone() })
        .await
        .expect("add-learner");
    assert_eq!((m.voters.clone(), m.learners.clone()), (vec![1, 2, 3], vec![4]));
    assert_eq!(m.nodes.get(&4), Some(&cfg.raft_addr));
    let c4 = sdk_client(&n4.api_url, R, &c.info.access_key_id, &c.info.secret_access_key);
    decrypts(&c4, &blob, b"before the change").await;

    let m = cluster::change(&via, &MembershipChange::Promote { id: 4 }).await.expect("promote");
    assert_eq!((m.voters.clone(), m.learners.clone()), (vec![1, 2, 3, 4], vec![]));
    let err = cluster::change(&via, &MembershipChange::Promote { id: 4 }).await.expect_err("promote twice");
    assert!(err.to_string().contains("already a voter"), "{err:#}");

    // `keyraft cluster members` shows it, from node 4's own admin API.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyraft"))
        .args(["cluster", "members", "--admin", &n4.admin_url])
        .output()
        .expect("keyraft cluster members");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("node 4   voter    {}", cfg.raft_addr)), "{text}");

    // Remove the leader, through node 4, and stop it: the region goes on with 2, 3 (or the two
    // others) and 4.
    let leader = c.wait_leader(R, Duration::from_secs(10)).await.expect("leader");
    let m = cluster::change(&n4.admin_url, &MembershipChange::Remove { id: leader }).await.expect("remove leader");
    let mut rest: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|n| *n != leader).collect();
    rest.sort();
    assert_eq!(m.voters, rest);
    c.stop_node(R, leader).await;
    let new_key = c4.create_key().send().await.expect("CreateKey on node 4 after the removal").key_metadata;
    let new_key = new_key.expect("meta").key_id;
    decrypts(&c4, &blob, b"before the change").await;
    let status = n4.region_node.status().await;
    assert!(status.leader.is_some_and(|l| l != leader), "{status:?}");
    assert_eq!(status.voters, rest);

    // The removed node is refused by the group if it comes back with its old configuration: it
    // is no longer a member, whatever its config file says.
    c.start_node(R, leader).await.expect("restart the removed node");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = n4.region_node.status().await;
    assert_eq!(s.voters, rest, "the removed node did not get back in");
    assert!(s.leader.is_some_and(|l| l != leader), "{s:?}");
    c.stop_node(R, leader).await;

    // Node 4 restarts from its data as a voter.
    n4.shutdown().await;
    n4 = start(&cfg).await;
    let c4 = sdk_client(&n4.api_url, R, &c.info.access_key_id, &c.info.secret_access_key);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while n4.region_node.status().await.leader.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "restarted node 4 found no leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(n4.region_node.membership_view().voters, rest);
    let d = c4.describe_key().key_id(&new_key).send().await.expect("DescribeKey on restarted node 4");
    assert_eq!(d.key_metadata.expect("meta").key_id, new_key);
    n4.shutdown().await;
    c.shutdown().await;
}
