//! `keyraft kms --endpoint https://HOST:PORT --client-cert operator.pem --client-key operator-key.pem --ca
//! ca.pem <operation> …`: the gRPC KMS API for operators. Prints the answer as JSON (blobs in
//! base64, as the aws CLI does); a failure prints the AWS exception name and exits non-zero.
//! Mutating operations carry `--idempotency-key`; without one a random key is made and printed
//! on stderr, so the same command can be repeated safely with it.

use anyhow::Context;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use keyraft_grpc::pb;
use keyraft_grpc::pb::kms_client::KmsClient;
use rand::RngCore;
use serde_json::{json, Value};
use tonic::transport::Channel;

#[derive(clap::Args)]
pub struct KmsArgs {
    /// A node's gRPC KMS API (its `grpc_addr`), e.g. https://127.0.0.1:7031.
    #[arg(long)]
    pub endpoint: String,
    /// The idempotency key of a mutating operation (1-64 printable characters); default a
    /// random one, printed on stderr.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    #[command(subcommand)]
    pub op: KmsOp,
}

#[derive(clap::Subcommand)]
pub enum KmsOp {
    /// CreateKey (a symmetric key unless --key-spec says otherwise).
    CreateKey {
        #[arg(long, default_value = "")]
        description: String,
        /// SYMMETRIC_DEFAULT, RSA_2048, ECC_NIST_P256, HMAC_256, …
        #[arg(long)]
        key_spec: Option<String>,
        /// ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT.
        #[arg(long)]
        key_usage: Option<String>,
        /// A tag `KEY=VALUE` (repeatable).
        #[arg(long = "tag", value_parser = key_value)]
        tags: Vec<(String, String)>,
    },
    DescribeKey {
        #[arg(long)]
        key_id: String,
    },
    ListKeys {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        marker: Option<String>,
    },
    EnableKey {
        #[arg(long)]
        key_id: String,
    },
    DisableKey {
        #[arg(long)]
        key_id: String,
    },
    ScheduleKeyDeletion {
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        pending_window_in_days: Option<u32>,
    },
    CancelKeyDeletion {
        #[arg(long)]
        key_id: String,
    },
    CreateAlias {
        /// `alias/<name>`.
        #[arg(long)]
        alias_name: String,
        #[arg(long)]
        target_key_id: String,
    },
    DeleteAlias {
        #[arg(long)]
        alias_name: String,
    },
    ListAliases {
        #[arg(long)]
        key_id: Option<String>,
    },
    /// Encrypt: the plaintext as text (--plaintext) or base64 (--plaintext-base64).
    Encrypt {
        #[arg(long)]
        key_id: String,
        #[arg(long, conflicts_with = "plaintext_base64", required_unless_present = "plaintext_base64")]
        plaintext: Option<String>,
        #[arg(long)]
        plaintext_base64: Option<String>,
        /// An encryption-context pair `KEY=VALUE` (repeatable).
        #[arg(long = "context", value_parser = key_value)]
        context: Vec<(String, String)>,
    },
    /// Decrypt a base64 ciphertext blob; prints the plaintext in base64.
    Decrypt {
        #[arg(long)]
        ciphertext_blob: String,
        #[arg(long)]
        key_id: Option<String>,
        #[arg(long = "context", value_parser = key_value)]
        context: Vec<(String, String)>,
    },
    GenerateDataKey {
        #[arg(long)]
        key_id: String,
        /// AES_256 or AES_128.
        #[arg(long, default_value = "AES_256")]
        key_spec: String,
        #[arg(long = "context", value_parser = key_value)]
        context: Vec<(String, String)>,
    },
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("{s}: expected KEY=VALUE"))
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn metadata(m: Option<pb::KeyMetadata>) -> Value {
    match m {
        None => Value::Null,
        Some(m) => json!({
            "AWSAccountId": m.account_id,
            "KeyId": m.key_id,
            "Arn": m.arn,
            "CreationDate": m.creation_date_ms as f64 / 1000.0,
            "Enabled": m.enabled,
            "Description": m.description,
            "KeyUsage": m.key_usage,
            "KeyState": m.key_state,
            "Origin": m.origin,
            "KeySpec": m.key_spec,
            "MultiRegion": m.multi_region,
            "DeletionDate": m.deletion_date_ms.map(|d| d as f64 / 1000.0),
            "PendingDeletionWindowInDays": m.pending_deletion_window_in_days,
        }),
    }
}

/// A failed call as `<Exception>: <message>`.
fn failed(s: tonic::Status) -> anyhow::Error {
    match keyraft_grpc::error::exception(&s) {
        Some(exception) => anyhow::anyhow!("{exception}: {} (gRPC {:?})", s.message(), s.code()),
        None => anyhow::anyhow!("gRPC {:?}: {}", s.code(), s.message()),
    }
}

/// Runs one operation and prints its answer.
/// Runs one operation. `ca`, `cert` and `key` are the binary's global `--ca`, `--client-cert`, `--client-key`
/// (or `KEYRAFT_CA`, `KEYRAFT_CERT`, `KEYRAFT_KEY`): the gRPC API needs all three.
pub async fn run(
    args: KmsArgs,
    ca: Option<&std::path::Path>,
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let (Some(ca), Some(cert), Some(key)) = (ca, cert, key) else {
        anyhow::bail!(
            "the gRPC KMS API needs --ca (the deployment CA), --client-cert and --client-key (a client certificate)"
        );
    };
    let tls = keyraft_grpc::ClientTls::load(cert, key, ca)?;
    let mut client = tls.client(&args.endpoint)?;
    let idempotency_key = args.idempotency_key.clone();
    let out = call(&mut client, args.op, move || match idempotency_key {
        Some(k) => k,
        None => {
            let mut b = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut b);
            let k = hex::encode(b);
            eprintln!("idempotency key: {k}");
            k
        }
    })
    .await?;
    println!("{}", serde_json::to_string_pretty(&out).context("printing the answer")?);
    Ok(())
}

async fn call(
    c: &mut KmsClient<Channel>,
    op: KmsOp,
    idempotency_key: impl FnOnce() -> String,
) -> anyhow::Result<Value> {
    let ctx = |pairs: Vec<(String, String)>| pairs.into_iter().collect();
    Ok(match op {
        KmsOp::CreateKey { description, key_spec, key_usage, tags } => {
            let tags = tags.into_iter().map(|(key, value)| pb::Tag { key, value }).collect();
            let req = pb::CreateKeyRequest {
                idempotency_key: idempotency_key(),
                description,
                key_spec,
                key_usage,
                tags,
                ..Default::default()
            };
            json!({ "KeyMetadata": metadata(c.create_key(req).await.map_err(failed)?.into_inner().key_metadata) })
        }
        KmsOp::DescribeKey { key_id } => {
            let out = c.describe_key(pb::KeyRequest { key_id }).await.map_err(failed)?.into_inner();
            json!({ "KeyMetadata": metadata(out.key_metadata) })
        }
        KmsOp::ListKeys { limit, marker } => {
            let out = c.list_keys(pb::ListRequest { limit, marker }).await.map_err(failed)?.into_inner();
            let keys: Vec<Value> = out.keys.iter().map(|k| json!({"KeyId": k.key_id, "KeyArn": k.key_arn})).collect();
            json!({ "Keys": keys, "Truncated": out.truncated, "NextMarker": out.next_marker })
        }
        KmsOp::EnableKey { key_id } => {
            c.enable_key(pb::KeyMutation { idempotency_key: idempotency_key(), key_id }).await.map_err(failed)?;
            json!({})
        }
        KmsOp::DisableKey { key_id } => {
            c.disable_key(pb::KeyMutation { idempotency_key: idempotency_key(), key_id }).await.map_err(failed)?;
            json!({})
        }
        KmsOp::ScheduleKeyDeletion { key_id, pending_window_in_days } => {
            let req =
                pb::ScheduleKeyDeletionRequest { idempotency_key: idempotency_key(), key_id, pending_window_in_days };
            let out = c.schedule_key_deletion(req).await.map_err(failed)?.into_inner();
            json!({
                "KeyId": out.key_id,
                "KeyState": out.key_state,
                "PendingWindowInDays": out.pending_window_in_days,
                "DeletionDate": out.deletion_date_ms.map(|d| d as f64 / 1000.0),
            })
        }
        KmsOp::CancelKeyDeletion { key_id } => {
            let req = pb::KeyMutation { idempotency_key: idempotency_key(), key_id };
            json!({ "KeyId": c.cancel_key_deletion(req).await.map_err(failed)?.into_inner().key_id })
        }
        KmsOp::CreateAlias { alias_name, target_key_id } => {
            let req = pb::AliasRequest { idempotency_key: idempotency_key(), alias_name, target_key_id };
            c.create_alias(req).await.map_err(failed)?;
            json!({})
        }
        KmsOp::DeleteAlias { alias_name } => {
            let req = pb::DeleteAliasRequest { idempotency_key: idempotency_key(), alias_name };
            c.delete_alias(req).await.map_err(failed)?;
            json!({})
        }
        KmsOp::ListAliases { key_id } => {
            let req = pb::ListAliasesRequest { key_id, limit: None, marker: None };
            let out = c.list_aliases(req).await.map_err(failed)?.into_inner();
            let aliases: Vec<Value> = out
                .aliases
                .iter()
                .map(|a| json!({"AliasName": a.alias_name, "AliasArn": a.alias_arn, "TargetKeyId": a.target_key_id}))
                .collect();
            json!({ "Aliases": aliases, "Truncated": out.truncated })
        }
        KmsOp::Encrypt { key_id, plaintext, plaintext_base64, context } => {
            let plaintext = zeroize::Zeroizing::new(match (plaintext, plaintext_base64) {
                (Some(t), _) => t.into_bytes(),
                (None, Some(b)) => B64.decode(b.trim()).context("--plaintext-base64 is not base64")?,
                (None, None) => anyhow::bail!("--plaintext or --plaintext-base64 is required"),
            });
            let req = pb::EncryptRequest {
                key_id,
                plaintext: plaintext.to_vec(),
                encryption_context: ctx(context),
                encryption_algorithm: None,
            };
            let out = c.encrypt(req).await.map_err(failed)?.into_inner();
            json!({
                "CiphertextBlob": b64(&out.ciphertext_blob),
                "KeyId": out.key_id,
                "EncryptionAlgorithm": out.encryption_algorithm,
            })
        }
        KmsOp::Decrypt { ciphertext_blob, key_id, context } => {
            let blob = B64.decode(ciphertext_blob.trim()).context("--ciphertext-blob is not base64")?;
            let req = pb::DecryptRequest {
                ciphertext_blob: blob,
                encryption_context: ctx(context),
                key_id,
                encryption_algorithm: None,
            };
            let out = c.decrypt(req).await.map_err(failed)?.into_inner();
            let plaintext = zeroize::Zeroizing::new(out.plaintext);
            json!({
                "Plaintext": b64(&plaintext),
                "KeyId": out.key_id,
                "EncryptionAlgorithm": out.encryption_algorithm,
            })
        }
        KmsOp::GenerateDataKey { key_id, key_spec, context } => {
            let req = pb::GenerateDataKeyRequest {
                key_id,
                encryption_context: ctx(context),
                key_spec: Some(key_spec),
                number_of_bytes: None,
            };
            let out = c.generate_data_key(req).await.map_err(failed)?.into_inner();
            let plaintext = zeroize::Zeroizing::new(out.plaintext);
            json!({
                "CiphertextBlob": b64(&out.ciphertext_blob),
                "Plaintext": b64(&plaintext),
                "KeyId": out.key_id,
            })
        }
    })
}
