//! Membership changes of a region's group (`keyraft cluster …`): add a node as a learner, promote
//! a learner to voter, remove a node. Any node takes the request and runs it on the leader
//! (forwarded like a write); openraft's joint consensus makes each change safe.
//!
//! A change that cannot be made (promoting a node that is not a learner, removing the last
//! voter, …) is refused with a reason and not retried; a leader change or an unreachable leader
//! is retried until the write timeout like any write.

use std::collections::{BTreeMap, BTreeSet};

use keyraft_store::NodeId;
use openraft::error::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};
use serde::{Deserialize, Serialize};

use crate::error::RaftNodeError;
use crate::network::Rpc;
use crate::node::{LeaderReply, RegionNode};

/// One membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum MembershipChange {
    /// Adds a node that replicates the log but does not vote; answered once it has caught up.
    AddLearner { id: NodeId, raft_addr: String },
    /// Makes a learner a voter.
    Promote { id: NodeId },
    /// Removes a voter or a learner from the group.
    Remove { id: NodeId },
}

impl MembershipChange {
    /// The node the change is about.
    pub fn node(&self) -> NodeId {
        match self {
            MembershipChange::AddLearner { id, .. }
            | MembershipChange::Promote { id }
            | MembershipChange::Remove { id } => *id,
        }
    }
}

/// The group's membership, as the leader sees it after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipView {
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    /// Every member's Raft address.
    pub nodes: BTreeMap<NodeId, String>,
    /// The leader that made the change.
    pub leader: NodeId,
}

/// The leader's answer: the new membership, or why the change was refused.
pub type MembershipResult = Result<MembershipView, String>;

impl RegionNode {
    /// Makes `change` on the region's leader (this node or, forwarded, another).
    pub async fn change_membership(&self, change: MembershipChange) -> Result<MembershipView, RaftNodeError> {
        let result: MembershipResult = self
            .on_leader(Rpc::ChangeMembership, &change, self.config().write_timeout, RaftNodeError::NoLeader, || {
                self.change_membership_local(change.clone())
            })
            .await?;
        result.map_err(RaftNodeError::Refused)
    }

    /// Leader side of [`RegionNode::change_membership`].
    pub async fn change_membership_local(&self, change: MembershipChange) -> LeaderReply<MembershipResult> {
        let raft = self.raft();
        let current = raft.metrics().borrow().membership_config.membership().clone();
        let voters: BTreeSet<NodeId> = current.voter_ids().collect();
        let is_member = current.get_node(&change.node());
        let outcome = match &change {
            MembershipChange::AddLearner { id, raft_addr } => {
                if voters.contains(id) {
                    return LeaderReply::Ok(Err(format!("node {id} is already a voter")));
                }
                if let Some(n) = is_member {
                    if n.addr != *raft_addr {
                        return LeaderReply::Ok(Err(format!(
                            "node {id} is already a learner at {}; remove it first to change its address",
                            n.addr
                        )));
                    }
                }
                raft.add_learner(*id, BasicNode { addr: raft_addr.clone() }, true).await.map(|_| ())
            }
            MembershipChange::Promote { id } => {
                if voters.contains(id) {
                    return LeaderReply::Ok(Err(format!("node {id} is already a voter")));
                }
                if is_member.is_none() {
                    return LeaderReply::Ok(Err(format!("node {id} is not a learner of the region: add it first")));
                }
                raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([*id])), false).await.map(|_| ())
            }
            MembershipChange::Remove { id } => {
                if is_member.is_none() {
                    return LeaderReply::Ok(Err(format!("node {id} is not a member of the region")));
                }
                if voters.contains(id) {
                    if voters.len() == 1 {
                        return LeaderReply::Ok(Err(format!("node {id} is the region's last voter")));
                    }
                    raft.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([*id])), false).await.map(|_| ())
                } else {
                    raft.change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([*id])), false).await.map(|_| ())
                }
            }
        };
        match outcome {
            Ok(()) => {
                tracing::info!(?change, "membership changed");
                LeaderReply::Ok(Ok(self.membership_view()))
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => LeaderReply::NotLeader(f.leader_id),
            Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e))) => match e {
                // Another change is still being committed: try again shortly.
                ChangeMembershipError::InProgress(e) => LeaderReply::Failed(e.to_string()),
                other => LeaderReply::Ok(Err(other.to_string())),
            },
            Err(e) => LeaderReply::Failed(e.to_string()),
        }
    }

    /// The membership this node knows (the leader's after a change it made).
    pub fn membership_view(&self) -> MembershipView {
        let m = self.raft().metrics().borrow().clone();
        let membership = m.membership_config.membership();
        MembershipView {
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            nodes: membership.nodes().map(|(id, n)| (*id, n.addr.clone())).collect(),
            leader: m.current_leader.unwrap_or(self.config().node_id),
        }
    }

    /// Every member (voters and learners) with its Raft address: the group's membership once
    /// known, else the configured peers.
    pub fn members(&self) -> BTreeMap<NodeId, String> {
        let m = self.raft().metrics().borrow().membership_config.clone();
        let nodes: BTreeMap<NodeId, String> = m.membership().nodes().map(|(id, n)| (*id, n.addr.clone())).collect();
        if nodes.is_empty() {
            self.config().peers.clone()
        } else {
            nodes
        }
    }

    /// Whether `id` may talk Raft to this node: a member of the group (voter or learner) once
    /// the group's membership is known, a configured peer before. A node removed from the group
    /// is refused even though its id may still be in the configuration files.
    ///
    /// Asked on every Raft RPC (heartbeats included): it reads the membership in place rather
    /// than copying it as [`RegionNode::members`] does.
    pub fn is_member(&self, id: NodeId) -> bool {
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        let known = membership.nodes().next().is_some();
        let member = if known { membership.get_node(&id).is_some() } else { self.config().peers.contains_key(&id) };
        member
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_the_admin_api_takes_them() {
        let c: MembershipChange =
            serde_json::from_str(r#"{"action":"add-learner","id":4,"raft_addr":"10.0.0.4:7100"}"#).unwrap();
        assert_eq!(c, MembershipChange::AddLearner { id: 4, raft_addr: "10.0.0.4:7100".into() });
        let c: MembershipChange = serde_json::from_str(r#"{"action":"promote","id":4}"#).unwrap();
        assert_eq!(c, MembershipChange::Promote { id: 4 });
        let c: MembershipChange = serde_json::from_str(r#"{"action":"remove","id":1}"#).unwrap();
        assert_eq!(c, MembershipChange::Remove { id: 1 });
        assert!(serde_json::from_str::<MembershipChange>(r#"{"action":"demote","id":1}"#).is_err());
    }
}
