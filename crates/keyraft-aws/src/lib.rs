//! keyraft-aws: the AWS KMS wire edge. JSON 1.1 over HTTP (`POST /`,
//! `X-Amz-Target: TrentService.<Operation>`), SigV4-authenticated, answering AWS's exception
//! names and HTTP statuses. AWS names appear only in this crate.
//!
//! - [`server`]: the axum router: body limit, authentication, dispatch, request ids.
//! - [`sigv4`]: Signature Version 4 verification (and signing, for tests and the load generator).
//! - [`identity`]: access keys → callers.
//! - `asymmetric`: Sign, Verify, GetPublicKey and RSA Encrypt/Decrypt/ReEncrypt on the wire.
//! - `grants`: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant on the wire.
//! - `import`: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial (BYOK).
//! - `key_pairs`: GenerateDataKeyPair(WithoutPlaintext) and DeriveSharedSecret on the wire.
//! - `mac`: GenerateMac and VerifyMac on the wire.
//! - `pq`: Encapsulate and Decapsulate (ML-KEM) on the wire.
//! - [`ops`]: one function per operation: wire JSON → service call → wire JSON.
//! - [`quota`]: per-account request quotas (token buckets by AWS's quota families).
//! - `rotation`: RotateKeyOnDemand and ListKeyRotations on the wire.
//! - [`usage`]: the observer that records successful cryptographic operations for
//!   GetKeyLastUsage.
//! - [`wire`]: reading request members with AWS's errors, writing AWS shapes.
//! - [`error`]: `AwsError` (exception name, status, message) and the mappings into it.

mod asymmetric;
pub mod error;
mod grants;
pub mod identity;
mod import;
mod key_pairs;
mod mac;
pub mod ops;
mod pq;
pub mod quota;
mod rotation;
pub mod server;
pub mod sigv4;
pub mod usage;
pub mod wire;

pub use error::AwsError;
pub use identity::{Credential, Identities};
pub use server::{router, ApiState, Exchange, Observer};
