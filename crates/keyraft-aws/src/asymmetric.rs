//! Asymmetric keys on the wire: Sign, Verify, GetPublicKey, and Encrypt/Decrypt/ReEncrypt when an
//! RSA encryption algorithm is named; the algorithm lists of `KeyMetadata`.

use keyraft_core::algorithms::{
    encryption_algorithms, signing_algorithms, EncryptionAlgorithm, MessageType, SigningAlgorithm,
};
use keyraft_core::KeyRecord;
use keyraft_service::ops::asymmetric_encrypt::is_rsa;
use keyraft_service::{Caller, Kms};
use serde_json::{json, Map, Value};

use crate::error::AwsError;
use crate::wire::{b64, missing, Input};

fn names<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    all.iter().map(|v| v.to_string()).collect()
}

fn enum_member<T: Copy + std::fmt::Display>(
    input: &Input,
    member: &str,
    all: &[T],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, AwsError> {
    let names = names(all);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    input.enum_opt(member, parse, &names)
}

fn signing_algorithm(input: &Input) -> Result<SigningAlgorithm, AwsError> {
    enum_member(input, "SigningAlgorithm", SigningAlgorithm::ALL, SigningAlgorithm::from_aws)?
        .ok_or_else(|| missing("SigningAlgorithm"))
}

fn message_type(input: &Input) -> Result<MessageType, AwsError> {
    Ok(enum_member(input, "MessageType", MessageType::ALL, MessageType::from_aws)?.unwrap_or(MessageType::Raw))
}

fn encryption_algorithm(input: &Input, member: &str) -> Result<EncryptionAlgorithm, AwsError> {
    let alg = enum_member(input, member, EncryptionAlgorithm::ALL, EncryptionAlgorithm::from_aws)?
        .unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    if alg == EncryptionAlgorithm::Sm2pke {
        return Err(AwsError::new(
            "InvalidKeyUsageException",
            400,
            "SM2PKE is not a valid encryption algorithm for this key: keyraft has no SM2 keys",
        ));
    }
    Ok(alg)
}

/// Whether an Encrypt, Decrypt or ReEncrypt request names an RSA encryption algorithm (then
/// [`dispatch`] serves it; otherwise the symmetric path does).
pub(crate) fn is_rsa_request(op: &str, input: &Input) -> Result<bool, AwsError> {
    let members: &[&str] = match op {
        "ReEncrypt" => &["SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm"],
        _ => &["EncryptionAlgorithm"],
    };
    for m in members {
        if input.str_opt(m)?.and_then(EncryptionAlgorithm::from_aws).is_some_and(is_rsa) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn strings<T: std::fmt::Display>(v: Vec<T>) -> Value {
    json!(names(&v))
}

/// `EncryptionAlgorithms` and `SigningAlgorithms` of a key, each only when the key has any (as
/// AWS's DescribeKey and GetPublicKey return them).
pub(crate) fn algorithm_lists(k: &KeyRecord, o: &mut Map<String, Value>) {
    let enc = encryption_algorithms(k.spec, k.usage);
    if !enc.is_empty() {
        o.insert("EncryptionAlgorithms".into(), strings(enc));
    }
    let sig = signing_algorithms(k.spec, k.usage);
    if !sig.is_empty() {
        o.insert("SigningAlgorithms".into(), strings(sig));
    }
    let mac = keyraft_core::algorithms::mac_algorithms(k.spec, k.usage);
    if !mac.is_empty() {
        o.insert("MacAlgorithms".into(), strings(mac));
    }
    let agreement = keyraft_core::algorithms::key_agreement_algorithms(k.spec, k.usage);
    if !agreement.is_empty() {
        o.insert("KeyAgreementAlgorithms".into(), strings(agreement));
    }
    crate::pq::algorithm_list(k, o);
}

pub(crate) async fn dispatch(kms: &Kms, caller: &Caller, op: &str, input: &Input) -> Result<Value, AwsError> {
    Ok(match op {
        "Sign" => {
            let key = input.key_ref_req("KeyId")?;
            let message = input.blob_req("Message", 1, 4096)?;
            let mt = message_type(input)?;
            let alg = signing_algorithm(input)?;
            let out = kms.sign(caller, &key, &message, mt, alg).await?;
            json!({ "KeyId": out.key.to_string(), "Signature": b64(&out.signature), "SigningAlgorithm": alg.as_aws() })
        }
        "Verify" => {
            let key = input.key_ref_req("KeyId")?;
            let message = input.blob_req("Message", 1, 4096)?;
            let signature = input.blob_req("Signature", 1, 6144)?;
            let mt = message_type(input)?;
            let alg = signing_algorithm(input)?;
            let arn = kms.verify(caller, &key, &message, mt, &signature, alg).await?;
            json!({ "KeyId": arn.to_string(), "SignatureValid": true, "SigningAlgorithm": alg.as_aws() })
        }
        "GetPublicKey" => {
            let out = kms.get_public_key(caller, &input.key_ref_req("KeyId")?).await?;
            let k = &out.key;
            let mut v = json!({
                "KeyId": k.arn().to_string(),
                "PublicKey": b64(&out.public_key),
                "CustomerMasterKeySpec": k.spec.as_aws(),
                "KeySpec": k.spec.as_aws(),
                "KeyUsage": k.usage.as_aws(),
            });
            if let Value::Object(o) = &mut v {
                algorithm_lists(k, o);
            }
            v
        }
        "Encrypt" => {
            let alg = encryption_algorithm(input, "EncryptionAlgorithm")?;
            let pt = input.blob_req("Plaintext", 1, 4096)?;
            let key = input.key_ref_req("KeyId")?;
            let out = kms.encrypt_asymmetric(caller, &key, &pt, alg, &input.context("EncryptionContext")?).await?;
            json!({
                "CiphertextBlob": b64(&out.ciphertext),
                "KeyId": out.key.to_string(),
                "EncryptionAlgorithm": alg.as_aws(),
            })
        }
        "Decrypt" => {
            let alg = encryption_algorithm(input, "EncryptionAlgorithm")?;
            input.refuse_recipient()?;
            let ct = input.blob_req("CiphertextBlob", 1, 6144)?;
            let key = input.key_ref("KeyId")?;
            let out =
                kms.decrypt_asymmetric(caller, &ct, alg, &input.context("EncryptionContext")?, key.as_ref()).await?;
            json!({
                "KeyId": out.key.to_string(),
                "Plaintext": b64(&out.plaintext),
                "EncryptionAlgorithm": alg.as_aws(),
            })
        }
        "ReEncrypt" => {
            let src_alg = encryption_algorithm(input, "SourceEncryptionAlgorithm")?;
            let dst_alg = encryption_algorithm(input, "DestinationEncryptionAlgorithm")?;
            let ct = input.blob_req("CiphertextBlob", 1, 6144)?;
            let out = kms
                .re_encrypt_with_algorithms(
                    caller,
                    &ct,
                    &input.context("SourceEncryptionContext")?,
                    input.key_ref("SourceKeyId")?.as_ref(),
                    src_alg,
                    &input.key_ref_req("DestinationKeyId")?,
                    &input.context("DestinationEncryptionContext")?,
                    dst_alg,
                )
                .await?;
            json!({
                "CiphertextBlob": b64(&out.ciphertext),
                "SourceKeyId": out.source_key.to_string(),
                "KeyId": out.destination_key.to_string(),
                "SourceEncryptionAlgorithm": src_alg.as_aws(),
                "DestinationEncryptionAlgorithm": dst_alg.as_aws(),
            })
        }
        other => return Err(AwsError::new("UnsupportedOperationException", 400, format!("{other} is not supported"))),
    })
}
