//! ML-KEM on the wire: Encapsulate and Decapsulate (botocore's shapes: `EncapsulationAlgorithm`
//! required, `SharedSecretCiphertextBlob` 1–6144 bytes); `KeyMetadata.EncapsulationAlgorithms`.
//! ML-DSA needs nothing here: Sign, Verify and GetPublicKey serve it.

use keyraft_core::algorithms::{encapsulation_algorithms, EncapsulationAlgorithm};
use keyraft_core::KeyRecord;
use keyraft_service::{Caller, Kms};
use serde_json::{json, Map, Value};

use crate::error::AwsError;
use crate::wire::{b64, missing, Input};

fn encapsulation_algorithm(input: &Input) -> Result<EncapsulationAlgorithm, AwsError> {
    let names: Vec<String> = EncapsulationAlgorithm::ALL.iter().map(|a| a.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    input
        .enum_opt("EncapsulationAlgorithm", EncapsulationAlgorithm::from_aws, &names)?
        .ok_or_else(|| missing("EncapsulationAlgorithm"))
}

/// `EncapsulationAlgorithms` of a key, only when it has any (as AWS's DescribeKey and
/// GetPublicKey return it).
pub(crate) fn algorithm_list(k: &KeyRecord, o: &mut Map<String, Value>) {
    let algs = encapsulation_algorithms(k.spec, k.usage);
    if !algs.is_empty() {
        let names: Vec<String> = algs.iter().map(|a| a.to_string()).collect();
        o.insert("EncapsulationAlgorithms".into(), json!(names));
    }
}

pub(crate) async fn dispatch(kms: &Kms, caller: &Caller, op: &str, input: &Input) -> Result<Value, AwsError> {
    Ok(match op {
        "Encapsulate" => {
            let key = input.key_ref_req("KeyId")?;
            let alg = encapsulation_algorithm(input)?;
            let out = kms.encapsulate(caller, &key, alg).await?;
            json!({
                "KeyId": out.key.to_string(),
                "SharedSecret": b64(&out.shared_secret),
                "SharedSecretCiphertextBlob": b64(&out.ciphertext),
                "EncapsulationAlgorithm": alg.as_aws(),
            })
        }
        "Decapsulate" => {
            let key = input.key_ref_req("KeyId")?;
            let ciphertext = input.blob_req("SharedSecretCiphertextBlob", 1, 6144)?;
            let alg = encapsulation_algorithm(input)?;
            let out = kms.decapsulate(caller, &key, &ciphertext, alg).await?;
            json!({
                "KeyId": out.key.to_string(),
                "SharedSecret": b64(&out.shared_secret),
                "EncapsulationAlgorithm": alg.as_aws(),
            })
        }
        other => {
            return Err(AwsError::new(
                "UnsupportedOperationException",
                400,
                format!("{other} is not an ML-KEM operation"),
            ))
        }
    })
}
