//! Data key pairs and key agreement on the wire: GenerateDataKeyPair,
//! GenerateDataKeyPairWithoutPlaintext and DeriveSharedSecret.

use keyraft_core::algorithms::KeyAgreementAlgorithm;
use keyraft_core::KeySpec;
use keyraft_service::{Caller, Kms};
use serde_json::{json, Value};

use crate::error::AwsError;
use crate::wire::{b64, missing, Input};

/// AWS `DataKeyPairSpec` (botocore's enum, in its order).
const DATA_KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

pub(crate) async fn dispatch(kms: &Kms, caller: &Caller, op: &str, input: &Input) -> Result<Value, AwsError> {
    Ok(match op {
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            let with_plaintext = op == "GenerateDataKeyPair";
            if with_plaintext {
                input.refuse_recipient()?;
            }
            let spec = input
                .enum_opt(
                    "KeyPairSpec",
                    |s| DATA_KEY_PAIR_SPECS.contains(&s).then(|| KeySpec::from_aws(s)).flatten(),
                    DATA_KEY_PAIR_SPECS,
                )?
                .ok_or_else(|| missing("KeyPairSpec"))?;
            let key = input.key_ref_req("KeyId")?;
            let context = input.context("EncryptionContext")?;
            let out = kms.generate_data_key_pair(caller, &key, spec, &context, with_plaintext).await?;
            let mut v = json!({
                "PrivateKeyCiphertextBlob": b64(&out.private_key_ciphertext),
                "PublicKey": b64(&out.public_key),
                "KeyId": out.key.to_string(),
                "KeyPairSpec": out.spec.as_aws(),
            });
            if let (Some(p), Value::Object(o)) = (&out.private_key_plaintext, &mut v) {
                o.insert("PrivateKeyPlaintext".into(), b64(p));
            }
            v
        }
        "DeriveSharedSecret" => {
            input.refuse_recipient()?;
            let key = input.key_ref_req("KeyId")?;
            let algs: Vec<&str> = KeyAgreementAlgorithm::ALL.iter().map(|a| a.as_aws()).collect();
            let alg = input
                .enum_opt("KeyAgreementAlgorithm", KeyAgreementAlgorithm::from_aws, &algs)?
                .ok_or_else(|| missing("KeyAgreementAlgorithm"))?;
            let public_key = input.blob_req("PublicKey", 1, 8192)?;
            let out = kms.derive_shared_secret(caller, &key, alg, &public_key).await?;
            json!({
                "KeyId": out.key.to_string(),
                "SharedSecret": b64(&out.shared_secret),
                "KeyAgreementAlgorithm": alg.as_aws(),
                "KeyOrigin": out.origin.as_aws(),
            })
        }
        other => return Err(AwsError::new("UnsupportedOperationException", 400, format!("{other} is not supported"))),
    })
}
