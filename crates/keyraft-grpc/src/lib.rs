//! keyraft-grpc: the gRPC KMS API (`proto/keyraft/kms/v1/kms.proto`, package `keyraft.kms.v1`),
//! an edge beside the AWS API over the same service functions, so authorization, key states and
//! errors are the AWS API's.
//!
//! - [`server`]: `KmsGrpc`, the tonic service: the caller from the client certificate, the
//!   idempotency scope of mutating requests, one method per operation; every call told to the
//!   node's observers (`keyraft_aws::Observer`: audit trail, metrics, key last usage) as an AWS
//!   API request, fail-closed.
//! - [`principals`]: `[[grpc_principals]]` of the node config: certificate identity → caller.
//! - [`idempotency`]: explicit idempotency keys → Raft request ids.
//! - [`client`]: a mutual-TLS client (`keyraft kms`, tests).
//! - [`error`]: `GrpcError`, and the one place a `KmsError` becomes a `tonic::Status`.

// `tonic::Status` (176 bytes) is the error of every handler the generated trait declares; the
// helpers that build one return it as it is, as keyraft-raft's services do.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod error;
pub mod idempotency;
pub mod principals;
pub mod server;
mod wire;

/// The generated messages, server and client of `keyraft.kms.v1`.
pub mod pb {
    #![allow(clippy::all)]
    tonic::include_proto!("keyraft.kms.v1");
}

pub use client::ClientTls;
pub use error::GrpcError;
pub use principals::{GrpcPrincipal, Principals};
pub use server::KmsGrpc;
