//! keyraft-server: wiring of one node (Raft gRPC, AWS API, admin API) and the `keyraft` binary's
//! subcommands.
//!
//! - [`config`]: the node configuration file (`keyraft serve --config node.toml`).
//! - [`node`]: `RunningNode`: binds the listeners and starts every part of one node.
//! - [`audit`]: `AuditLog`, the hash-chained CloudTrail-shaped audit trail; `keyraft audit verify|tail`.
//! - [`backup`]: `keyraft backup|restore`: an encrypted backup of a region, restore into a fresh one.
//! - [`admin`]: the admin HTTP API (`/v1/status`, `/v1/replication`, `/v1/dr/…`, `/healthz`, `/readyz`, `/metrics`).
//! - [`cluster`]: `keyraft cluster members|add-learner|promote|remove`: a region's membership.
//! - [`admin_client`]: the admin API's client (plain HTTP, or HTTPS with the CA and an operator certificate).
//! - [`dev`]: `keyraft dev`: two regions × three nodes in one process.
//! - [`metrics`]: `NodeMetrics`, the node's Prometheus metrics (`/metrics`) and request observer.
//! - [`link`]: the cross-region link over gRPC (multi-region keys) and its fault-injection seam.
//! - [`kms_cli`]: `keyraft kms …`: the gRPC KMS API for operators (mutual TLS, JSON output).
//! - [`dr`]: `keyraft dr status|promote`: multi-region key roles, epochs, forced promotion.
//! - [`status`]: `keyraft status`: a region's nodes, leader, term and indexes.
//! - [`secrets`]: root key files and dev credentials.
//! - [`pki`]: `keyraft pki init`: the deployment CA, node and operator certificates (rcgen).
//! - [`tls`]: HTTPS for the AWS API and the Raft listener's mutual TLS (`[tls]` of the node config).
//! - [`bench`]: `keyraft bench`: load generator for keyraft and OpenBao transit.

pub mod admin;
pub mod admin_client;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod cluster;
pub mod config;
pub mod dev;
pub mod dr;
pub mod kms_cli;
pub mod link;
pub mod metrics;
pub mod node;
pub mod pki;
pub mod secrets;
pub mod status;
pub mod tls;

pub use config::NodeConfig;
pub use node::RunningNode;
