//! A three-node region on real TCP and real sled: election, replication, leader loss, and a
//! restarted follower catching up from the log and from a snapshot.

use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use keyraft_testkit::Cluster;

const R: &str = "us-east-1";

async fn create_keys(c: &Cluster, node: u64, n: usize) -> Vec<String> {
    let client = c.client(R, node);
    let mut ids = Vec::new();
    for i in 0..n {
        let out = client.create_key().description(format!("key {i}")).send().await.expect("create key");
        ids.push(out.key_metadata().expect("metadata").key_id().to_owned());
    }
    ids
}

async fn key_count(c: &Cluster, node: u64) -> usize {
    c.node(R, node).region_node.state().read(|s| s.keys.len())
}

async fn wait_applied_keys(c: &Cluster, node: u64, want: usize) {
    for _ in 0..200 {
        if key_count(c, node).await >= want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node {node} has {} keys, want {want}", key_count(c, node).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn election_replication_and_leader_loss() {
    let mut c = Cluster::start(&[R]).await.expect("cluster");
    let leader = c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");

    // Writes through every node (followers forward to the leader) reach every node.
    let mut ids = Vec::new();
    for node in 1..=3 {
        ids.extend(create_keys(&c, node, 3).await);
    }
    for node in 1..=3 {
        wait_applied_keys(&c, node, 9).await;
    }

    // Kill the leader: the other two elect a new one and writes continue, through either.
    c.stop_node(R, leader).await;
    let survivors: Vec<u64> = (1..=3).filter(|n| *n != leader).collect();
    let new_leader = c.wait_leader(R, Duration::from_secs(20)).await.expect("new leader");
    assert_ne!(new_leader, leader);
    for &node in &survivors {
        ids.extend(create_keys(&c, node, 2).await);
    }
    // Every acknowledged key is readable through a survivor.
    let client = c.client(R, survivors[0]);
    for id in &ids {
        let d = client.describe_key().key_id(id).send().await.expect("describe after failover");
        assert_eq!(d.key_metadata().unwrap().key_id(), id);
    }

    // The old leader comes back and catches up from the log.
    c.start_node(R, leader).await.expect("restart");
    wait_applied_keys(&c, leader, ids.len()).await;
    let ct = c
        .client(R, leader)
        .encrypt()
        .key_id(&ids[0])
        .plaintext(Blob::new("after restart"))
        .send()
        .await
        .expect("encrypt on restarted node");
    assert!(ct.ciphertext_blob().is_some());
    c.shutdown().await;
}

fn snapshot_often(cfg: &mut keyraft_server::NodeConfig) {
    cfg.heartbeat_ms = Some(50);
    cfg.snapshot_every = Some(20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarted_follower_catches_up_from_snapshot() {
    let mut c = Cluster::start_with(&[R], snapshot_often).await.expect("cluster");
    let leader = c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let follower = (1..=3).find(|n| *n != leader).expect("a follower");
    create_keys(&c, leader, 3).await;
    wait_applied_keys(&c, follower, 3).await;

    c.stop_node(R, follower).await;
    // Enough writes that the leader snapshots and purges the log the follower is missing.
    let ids = create_keys(&c, leader, 60).await;
    // Snapshots are built in the background; wait for the purge that follows one.
    let purged = c
        .node(R, leader)
        .region_node
        .raft()
        .wait(Some(Duration::from_secs(20)))
        .metrics(|m| m.purged.is_some_and(|p| p.index > 10), "log purged after a snapshot")
        .await
        .map(|m| m.purged);
    assert!(purged.is_ok(), "leader did not purge its log: {purged:?}");

    c.start_node(R, follower).await.expect("restart follower");
    wait_applied_keys(&c, follower, 63).await;
    let snap = c
        .node(R, follower)
        .region_node
        .raft()
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.snapshot.is_some(), "snapshot installed")
        .await;
    assert!(snap.is_ok(), "the follower caught up without a snapshot: {snap:?}");
    let leader_state = c.node(R, leader).region_node.state().read(|s| s.keys.clone());
    let follower_state = c.node(R, follower).region_node.state().read(|s| s.keys.clone());
    assert_eq!(leader_state, follower_state, "states differ after snapshot install");
    // And it serves the keys it learned from the snapshot.
    let d = c.client(R, follower).describe_key().key_id(&ids[0]).send().await.expect("describe");
    assert_eq!(d.key_metadata().unwrap().key_id(), ids[0]);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_retried_through_another_node_applies_once() {
    use keyraft_core::command::RequestId;
    use keyraft_core::{AliasName, Command, KeyId};
    let c = Cluster::start(&[R]).await.expect("cluster");
    c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let id = create_keys(&c, 1, 1).await.remove(0);
    let cmd = Command::CreateAlias { alias: AliasName::parse("alias/once").unwrap(), key: KeyId::parse(&id).unwrap() };
    let rid = RequestId([42; 16]);
    let first = c.node(R, 2).region_node.write(rid, cmd.clone()).await.expect("write");
    assert!(first.is_ok(), "{first:?}");
    // The same request, retried through another node (as after a lost reply or leader change).
    let second = c.node(R, 3).region_node.write(rid, cmd.clone()).await.expect("retry");
    assert_eq!(first, second, "a retried write must return the first result, not AlreadyExists");
    // A new request id is a new command.
    let third = c.node(R, 1).region_node.write(RequestId([43; 16]), cmd).await.expect("write");
    assert!(third.is_err(), "{third:?}");
    c.shutdown().await;
}
