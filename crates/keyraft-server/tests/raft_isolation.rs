//! A node refuses Raft RPCs meant for another region's group or another deployment, and from
//! nodes that are not members of its region.

use std::time::Duration;

use keyraft_raft::network::{Clients, Rpc};
use keyraft_raft::{NodeStatus, RaftNodeError};
use keyraft_testkit::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn raft_rpcs_for_another_group_are_refused() {
    let c = Cluster::start(&["us-east-1", "eu-west-1"]).await.expect("cluster");
    c.wait_leader("us-east-1", Duration::from_secs(20)).await.expect("leader");
    let target = c.node("us-east-1", 1).config.raft_addr.clone();
    let t = Duration::from_secs(3);

    // The right group gets an answer.
    let ok: Result<NodeStatus, _> =
        Clients::new("keyraft-dev", "us-east-1", 2).call(&target, Rpc::Status, &(), t).await;
    assert_eq!(ok.expect("same group").region, "us-east-1");

    // An eu-west-1 node, another deployment, and a non-member are all refused, for every RPC kind.
    for (cluster, region, from) in
        [("keyraft-dev", "eu-west-1", 1), ("other", "us-east-1", 1), ("keyraft-dev", "us-east-1", 9)]
    {
        let clients = Clients::new(cluster, region, from);
        for rpc in [Rpc::Status, Rpc::ReadIndex, Rpc::Vote, Rpc::AppendEntries, Rpc::ForwardWrite, Rpc::InstallSnapshot]
        {
            let r: Result<serde_json::Value, _> = clients.call(&target, rpc, &(), t).await;
            assert!(
                matches!(r, Err(RaftNodeError::Refused(_))),
                "{cluster}/{region}/node {from} {rpc:?}: expected a refusal, got {r:?}"
            );
        }
    }
    // The refused requests changed nothing: the group still has its three voters and leader.
    let status = c.node("us-east-1", 1).region_node.status().await;
    assert_eq!(status.voters, vec![1, 2, 3]);
    assert!(status.leader.is_some());
    c.shutdown().await;
}
