//! One function per operation: read the wire input, call the service, write the wire output.

use keyraft_core::{KeySpec, KeyUsage, Origin};
use keyraft_service::ops::{CreateKeyInput, ReplicateKeyInput};
use keyraft_service::{Caller, Kms};
use serde_json::{json, Value};

use crate::error::AwsError;
use crate::wire::{b64, epoch, key_metadata, missing, Input};

/// Every operation of the KMS API (botocore's `kms/2014-11-01` model). Those without a handler
/// answer UnsupportedOperationException; any other name is UnknownOperationException.
pub const ALL_OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decapsulate",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyLastUsage",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

const ENCRYPTION_ALGORITHM: &str = "SYMMETRIC_DEFAULT";

fn check_algorithm(input: &Input, member: &str) -> Result<(), AwsError> {
    match input.str_opt(member)? {
        None | Some(ENCRYPTION_ALGORITHM) => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => Err(AwsError::new(
            "InvalidKeyUsageException",
            400,
            format!("{a} is not a valid encryption algorithm for a symmetric key"),
        )),
        Some(other) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{other}' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
        ))),
    }
}

/// A `RegionType` member (required).
fn region(input: &Input, member: &str) -> Result<keyraft_core::Region, AwsError> {
    let r = input.str_len(member, 1, 32)?.ok_or_else(|| missing(member))?;
    // AWS's RegionType pattern: ^([a-z]+-){2,3}\d+$
    let parts: Vec<&str> = r.split('-').collect();
    let aws_shape = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    keyraft_core::Region::parse(r).ok().filter(|_| aws_shape).ok_or_else(|| {
        AwsError::validation(format!(
            "1 validation error detected: Value '{r}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){{2,3}}\\d+$",
            crate::wire::camel(member)
        ))
    })
}

fn limit(input: &Input) -> Result<usize, AwsError> {
    Ok(input.int_opt("Limit", 1, 1000)?.unwrap_or(100) as usize)
}

fn names<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    all.iter().map(|v| v.to_string()).collect()
}

/// Operations with a `DryRun` member that change nothing (the cryptographic ones): run in full
/// (so that every check applies), then the result is withheld. Operations with side effects
/// (grants) must handle `DryRun` before they write.
const DRY_RUN_READ_ONLY: &[&str] = keyraft_core::usage::CRYPTOGRAPHIC_OPERATIONS;

/// Runs one operation. `Ok(None)` means: not implemented in this version.
pub async fn dispatch(kms: &Kms, caller: &Caller, op: &str, input: &Input) -> Result<Option<Value>, AwsError> {
    let dry_run = DRY_RUN_READ_ONLY.contains(&op) && input.bool_opt("DryRun")?.unwrap_or(false);
    let out = match op {
        "CreateKey" => {
            let specs = names(KeySpec::ALL);
            let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
            let spec = match input.enum_opt("KeySpec", KeySpec::from_aws, &specs)? {
                Some(s) => Some(s),
                None => input.enum_opt("CustomerMasterKeySpec", KeySpec::from_aws, &specs)?,
            };
            let usages = names(KeyUsage::ALL);
            let usages: Vec<&str> = usages.iter().map(String::as_str).collect();
            let origins = names(Origin::ALL);
            let origins: Vec<&str> = origins.iter().map(String::as_str).collect();
            let bypass_lockout_check = input.bool_opt("BypassPolicyLockoutSafetyCheck")?.unwrap_or(false);
            if input.str_opt("CustomKeyStoreId")?.is_some() || input.str_opt("XksKeyId")?.is_some() {
                return Err(AwsError::new("UnsupportedOperationException", 400, "Custom key stores are not supported"));
            }
            let key = kms
                .create_key(
                    caller,
                    CreateKeyInput {
                        description: input.str_len("Description", 0, 8192)?.unwrap_or_default().to_owned(),
                        key_usage: input.enum_opt("KeyUsage", KeyUsage::from_aws, &usages)?,
                        key_spec: spec.unwrap_or(KeySpec::SymmetricDefault),
                        origin: input.enum_opt("Origin", Origin::from_aws, &origins)?.unwrap_or(Origin::AwsKms),
                        multi_region: input.bool_opt("MultiRegion")?.unwrap_or(false),
                        tags: input.tags("Tags")?.unwrap_or_default(),
                        policy: input.str_len("Policy", 1, 32768)?.map(str::to_owned),
                        bypass_lockout_check,
                    },
                )
                .await?;
            json!({ "KeyMetadata": key_metadata(&key, kms.multi_region_state(&key).as_ref()) })
        }
        "DescribeKey" => {
            let key = kms.describe_key(caller, &input.key_ref_req("KeyId")?).await?;
            json!({ "KeyMetadata": key_metadata(&key, kms.multi_region_state(&key).as_ref()) })
        }
        "ReplicateKey" => {
            let bypass_lockout_check = input.bool_opt("BypassPolicyLockoutSafetyCheck")?.unwrap_or(false);
            let region = region(input, "ReplicaRegion")?;
            let out = kms
                .replicate_key(
                    caller,
                    &input.key_ref_req("KeyId")?,
                    ReplicateKeyInput {
                        region,
                        description: input.str_len("Description", 0, 8192)?.map(str::to_owned),
                        policy: input.str_len("Policy", 1, 32768)?.map(str::to_owned),
                        tags: input.tags("Tags")?.unwrap_or_default(),
                        bypass_lockout_check,
                    },
                )
                .await?;
            let tags: Vec<Value> = out.replica.tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
            json!({
                "ReplicaKeyMetadata": key_metadata(&out.replica, Some(&out.state)),
                "ReplicaPolicy": out.policy,
                "ReplicaTags": tags,
            })
        }
        "UpdatePrimaryRegion" => {
            let region = region(input, "PrimaryRegion")?;
            kms.update_primary_region(caller, &input.key_ref_req("KeyId")?, &region).await?;
            json!({})
        }
        "ListKeys" => {
            let page = kms.list_keys(caller, limit(input)?, input.str_len("Marker", 1, 1024)?).await?;
            let keys: Vec<Value> =
                page.items.iter().map(|a| json!({"KeyId": a.key_id.as_str(), "KeyArn": a.to_string()})).collect();
            paged(json!({ "Keys": keys }), page.next_marker)
        }
        "UpdateKeyDescription" => {
            let d = input.str_len("Description", 0, 8192)?.ok_or_else(|| missing("Description"))?;
            kms.update_key_description(caller, &input.key_ref_req("KeyId")?, d.to_owned()).await?;
            json!({})
        }
        "EnableKey" => {
            kms.enable_key(caller, &input.key_ref_req("KeyId")?).await?;
            json!({})
        }
        "DisableKey" => {
            kms.disable_key(caller, &input.key_ref_req("KeyId")?).await?;
            json!({})
        }
        "ScheduleKeyDeletion" => {
            let days = input.int_opt("PendingWindowInDays", 1, 365)?.map(|d| d as u32);
            let k = kms.schedule_key_deletion(caller, &input.key_ref_req("KeyId")?, days).await?;
            let mut out = json!({
                "KeyId": k.arn().to_string(),
                "KeyState": k.state.as_aws(),
                "PendingWindowInDays": k.pending_window_days,
            });
            // A multi-region primary with replicas (PendingReplicaDeletion) has no date yet.
            if let (Some(d), Value::Object(o)) = (k.deletion_ms, &mut out) {
                o.insert("DeletionDate".into(), epoch(d));
            }
            out
        }
        "CancelKeyDeletion" => {
            let k = kms.cancel_key_deletion(caller, &input.key_ref_req("KeyId")?).await?;
            json!({ "KeyId": k.arn().to_string() })
        }
        "CreateAlias" => {
            let name = input.str_len("AliasName", 1, 256)?.ok_or_else(|| missing("AliasName"))?;
            kms.create_alias(caller, name, &input.key_ref_req("TargetKeyId")?).await?;
            json!({})
        }
        "UpdateAlias" => {
            let name = input.str_len("AliasName", 1, 256)?.ok_or_else(|| missing("AliasName"))?;
            kms.update_alias(caller, name, &input.key_ref_req("TargetKeyId")?).await?;
            json!({})
        }
        "DeleteAlias" => {
            let name = input.str_len("AliasName", 1, 256)?.ok_or_else(|| missing("AliasName"))?;
            kms.delete_alias(caller, name).await?;
            json!({})
        }
        "ListAliases" => {
            let key = input.key_ref("KeyId")?;
            let page = kms.list_aliases(caller, key.as_ref(), limit(input)?, input.str_len("Marker", 1, 1024)?).await?;
            let aliases: Vec<Value> = page
                .items
                .iter()
                .map(|a| {
                    json!({
                        "AliasName": a.alias.name.as_str(),
                        "AliasArn": a.arn,
                        "TargetKeyId": a.alias.target.as_str(),
                        "CreationDate": epoch(a.alias.creation_ms),
                        "LastUpdatedDate": epoch(a.alias.last_updated_ms),
                    })
                })
                .collect();
            paged(json!({ "Aliases": aliases }), page.next_marker)
        }
        "TagResource" => {
            let tags = input.tags("Tags")?.ok_or_else(|| missing("Tags"))?;
            kms.tag_resource(caller, &input.key_ref_req("KeyId")?, tags).await?;
            json!({})
        }
        "UntagResource" => {
            let keys = input.string_list("TagKeys")?.ok_or_else(|| missing("TagKeys"))?;
            kms.untag_resource(caller, &input.key_ref_req("KeyId")?, keys).await?;
            json!({})
        }
        "ListResourceTags" => {
            let page = kms
                .list_resource_tags(
                    caller,
                    &input.key_ref_req("KeyId")?,
                    limit(input)?,
                    input.str_len("Marker", 1, 1024)?,
                )
                .await?;
            let tags: Vec<Value> = page.items.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
            paged(json!({ "Tags": tags }), page.next_marker)
        }
        "Sign" | "Verify" | "GetPublicKey" => crate::asymmetric::dispatch(kms, caller, op, input).await?,
        "GenerateMac" | "VerifyMac" => crate::mac::dispatch(kms, caller, op, input).await?,
        "Encapsulate" | "Decapsulate" => crate::pq::dispatch(kms, caller, op, input).await?,
        "Encrypt" | "Decrypt" | "ReEncrypt" if crate::asymmetric::is_rsa_request(op, input)? => {
            crate::asymmetric::dispatch(kms, caller, op, input).await?
        }
        "Encrypt" => {
            check_algorithm(input, "EncryptionAlgorithm")?;
            let pt = input.blob_req("Plaintext", 1, 4096)?;
            let out =
                kms.encrypt(caller, &input.key_ref_req("KeyId")?, &pt, &input.context("EncryptionContext")?).await?;
            json!({
                "CiphertextBlob": b64(&out.ciphertext),
                "KeyId": out.key.to_string(),
                "EncryptionAlgorithm": ENCRYPTION_ALGORITHM,
            })
        }
        "Decrypt" => {
            check_algorithm(input, "EncryptionAlgorithm")?;
            input.refuse_recipient()?;
            let ct = input.blob_req("CiphertextBlob", 1, 6144)?;
            let key = input.key_ref("KeyId")?;
            let out = kms.decrypt(caller, &ct, &input.context("EncryptionContext")?, key.as_ref()).await?;
            json!({
                "KeyId": out.key.to_string(),
                "Plaintext": b64(&out.plaintext),
                "EncryptionAlgorithm": ENCRYPTION_ALGORITHM,
            })
        }
        "ReEncrypt" => {
            check_algorithm(input, "SourceEncryptionAlgorithm")?;
            check_algorithm(input, "DestinationEncryptionAlgorithm")?;
            let ct = input.blob_req("CiphertextBlob", 1, 6144)?;
            let out = kms
                .re_encrypt(
                    caller,
                    &ct,
                    &input.context("SourceEncryptionContext")?,
                    input.key_ref("SourceKeyId")?.as_ref(),
                    &input.key_ref_req("DestinationKeyId")?,
                    &input.context("DestinationEncryptionContext")?,
                )
                .await?;
            json!({
                "CiphertextBlob": b64(&out.ciphertext),
                "SourceKeyId": out.source_key.to_string(),
                "KeyId": out.destination_key.to_string(),
                "SourceEncryptionAlgorithm": ENCRYPTION_ALGORITHM,
                "DestinationEncryptionAlgorithm": ENCRYPTION_ALGORITHM,
            })
        }
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            let with_plaintext = op == "GenerateDataKey";
            if with_plaintext {
                input.refuse_recipient()?;
            }
            let spec = input.enum_opt(
                "KeySpec",
                |s| match s {
                    "AES_128" => Some(16usize),
                    "AES_256" => Some(32),
                    _ => None,
                },
                &["AES_256", "AES_128"],
            )?;
            let n = input.int_opt("NumberOfBytes", 1, 1024)?;
            let bytes = match (spec, n) {
                (Some(b), None) => b,
                (None, Some(n)) => n as usize,
                _ => return Err(AwsError::validation("Please specify either number of bytes or key spec.")),
            };
            let out = kms
                .generate_data_key(
                    caller,
                    &input.key_ref_req("KeyId")?,
                    bytes,
                    &input.context("EncryptionContext")?,
                    with_plaintext,
                )
                .await?;
            let mut v = json!({ "CiphertextBlob": b64(&out.ciphertext), "KeyId": out.key.to_string() });
            if let (Some(p), Value::Object(o)) = (&out.plaintext, &mut v) {
                o.insert("Plaintext".into(), b64(p));
            }
            v
        }
        "GenerateRandom" => {
            if input.str_opt("CustomKeyStoreId")?.is_some() {
                return Err(AwsError::new("UnsupportedOperationException", 400, "Custom key stores are not supported"));
            }
            let n = input.int_opt("NumberOfBytes", 1, 1024)?.ok_or_else(|| missing("NumberOfBytes"))?;
            json!({ "Plaintext": b64(&kms.generate_random(caller, n as usize)?) })
        }
        "GetKeyPolicy" => {
            let (name, policy) =
                kms.get_key_policy(caller, &input.key_ref_req("KeyId")?, input.str_len("PolicyName", 1, 128)?).await?;
            json!({ "Policy": policy, "PolicyName": name })
        }
        "PutKeyPolicy" => {
            let bypass_lockout_check = input.bool_opt("BypassPolicyLockoutSafetyCheck")?.unwrap_or(false);
            let policy = input.str_len("Policy", 1, 32768)?.ok_or_else(|| missing("Policy"))?;
            kms.put_key_policy(
                caller,
                &input.key_ref_req("KeyId")?,
                input.str_len("PolicyName", 1, 128)?,
                policy.to_owned(),
                bypass_lockout_check,
            )
            .await?;
            json!({})
        }
        "ListKeyPolicies" => {
            limit(input)?;
            let names = kms.list_key_policies(caller, &input.key_ref_req("KeyId")?).await?;
            json!({ "PolicyNames": names, "Truncated": false })
        }
        "EnableKeyRotation" => {
            let days = input.int_opt("RotationPeriodInDays", 90, 2560)?.map(|d| d as u32);
            kms.enable_key_rotation(caller, &input.key_ref_req("KeyId")?, days).await?;
            json!({})
        }
        "DisableKeyRotation" => {
            kms.disable_key_rotation(caller, &input.key_ref_req("KeyId")?).await?;
            json!({})
        }
        "GetKeyRotationStatus" => {
            let s = kms.get_key_rotation_status(caller, &input.key_ref_req("KeyId")?).await?;
            let mut v = json!({ "KeyRotationEnabled": s.period_days.is_some(), "KeyId": s.key.to_string() });
            if let (Some(d), Some(next), Value::Object(o)) = (s.period_days, s.next_rotation_ms, &mut v) {
                o.insert("RotationPeriodInDays".into(), json!(d));
                o.insert("NextRotationDate".into(), epoch(next));
            }
            v
        }
        "RotateKeyOnDemand" | "ListKeyRotations" => crate::rotation::dispatch(kms, caller, op, input).await?,
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" | "DeriveSharedSecret" => {
            crate::key_pairs::dispatch(kms, caller, op, input).await?
        }
        "GetParametersForImport" | "ImportKeyMaterial" | "DeleteImportedKeyMaterial" => {
            crate::import::dispatch(kms, caller, op, input).await?
        }
        "GetKeyLastUsage" => {
            let out = kms.get_key_last_usage(caller, &input.key_ref_req("KeyId")?).await?;
            let last = match &out.last {
                Some(u) => json!({
                    "Operation": u.operation,
                    "Timestamp": epoch(u.time_ms),
                    "CloudTrailEventId": u.event_id,
                    "KmsRequestId": u.request_id,
                }),
                None => json!({}),
            };
            json!({
                "KeyId": out.key.as_str(),
                "KeyLastUsage": last,
                "TrackingStartDate": epoch(out.tracking_start_ms),
                "KeyCreationDate": epoch(out.creation_ms),
            })
        }
        "CreateGrant" | "ListGrants" | "ListRetirableGrants" | "RetireGrant" | "RevokeGrant" => {
            crate::grants::dispatch(kms, caller, op, input).await?
        }
        _ => return Ok(None),
    };
    if dry_run {
        return Err(AwsError::new(
            "DryRunOperationException",
            412,
            "The request was rejected because the DryRun parameter was specified.",
        ));
    }
    Ok(Some(out))
}

pub(crate) fn paged(mut v: Value, next: Option<String>) -> Value {
    if let Value::Object(o) = &mut v {
        o.insert("Truncated".into(), json!(next.is_some()));
        if let Some(m) = next {
            o.insert("NextMarker".into(), json!(m));
        }
    }
    v
}
