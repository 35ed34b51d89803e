//! Import of key material (BYOK) on the wire: GetParametersForImport, ImportKeyMaterial and
//! DeleteImportedKeyMaterial (dispatched from [`crate::ops::dispatch`]), and the
//! `ExpirationModel`/`ValidTo` members of `KeyMetadata`.

use keyraft_core::import::{expiration_model, ExpirationModel};
use keyraft_core::KeyRecord;
use keyraft_service::ops::WrappingAlgorithm;
use keyraft_service::{Caller, Kms};
use serde_json::{json, Map, Value};

use crate::error::AwsError;
use crate::wire::{b64, epoch, missing, Input};

const ALGORITHMS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];
const WRAPPING_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];
const EXPIRATION_MODELS: &[&str] = &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"];

/// Parses a member of the enum `all`, answering the `'static` name.
fn pick(all: &'static [&'static str]) -> impl Fn(&str) -> Option<&'static str> {
    move |s| all.iter().copied().find(|a| *a == s)
}

/// Runs one of the import operations.
pub(crate) async fn dispatch(kms: &Kms, caller: &Caller, op: &str, input: &Input) -> Result<Value, AwsError> {
    match op {
        "GetParametersForImport" => {
            let key = input.key_ref_req("KeyId")?;
            let alg = input.enum_opt("WrappingAlgorithm", pick(ALGORITHMS), ALGORITHMS)?;
            let spec = input.enum_opt("WrappingKeySpec", pick(WRAPPING_SPECS), WRAPPING_SPECS)?;
            let algorithm = match alg.ok_or_else(|| missing("WrappingAlgorithm"))? {
                "RSAES_OAEP_SHA_1" => WrappingAlgorithm::RsaesOaepSha1,
                "RSAES_OAEP_SHA_256" => WrappingAlgorithm::RsaesOaepSha256,
                "RSA_AES_KEY_WRAP_SHA_1" => WrappingAlgorithm::RsaAesKeyWrapSha1,
                "RSA_AES_KEY_WRAP_SHA_256" => WrappingAlgorithm::RsaAesKeyWrapSha256,
                other => {
                    return Err(AwsError::new(
                        "UnsupportedOperationException",
                        400,
                        format!("The wrapping algorithm {other} is not supported"),
                    ))
                }
            };
            let bits = match spec.ok_or_else(|| missing("WrappingKeySpec"))? {
                "RSA_2048" => 2048,
                "RSA_3072" => 3072,
                "RSA_4096" => 4096,
                other => {
                    return Err(AwsError::new(
                        "UnsupportedOperationException",
                        400,
                        format!("The wrapping key spec {other} is not supported"),
                    ))
                }
            };
            let p = kms.get_parameters_for_import(caller, &key, algorithm, bits).await?;
            Ok(json!({
                "KeyId": p.key.to_string(),
                "ImportToken": b64(&p.import_token),
                "PublicKey": b64(&p.public_key),
                "ParametersValidTo": epoch(p.valid_to_ms),
            }))
        }
        "ImportKeyMaterial" => {
            let key = input.key_ref_req("KeyId")?;
            let token = input.blob_req("ImportToken", 1, 6144)?;
            let material = input.blob_req("EncryptedKeyMaterial", 1, 6144)?;
            let model = input.enum_opt("ExpirationModel", pick(EXPIRATION_MODELS), EXPIRATION_MODELS)?;
            let valid_to = input.timestamp_ms_opt("ValidTo")?;
            let valid_to = match (model, valid_to) {
                (Some("KEY_MATERIAL_EXPIRES"), None) => {
                    return Err(AwsError::validation(
                        "A ValidTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
                    ))
                }
                (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), Some(_)) => {
                    return Err(AwsError::validation(
                        "A ValidTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
                    ))
                }
                (_, v) => v,
            };
            // Key material options and KeyMaterialDescription (multi-material imports): not yet.
            if input.str_opt("ImportType")?.is_some_and(|t| t != "EXISTING_KEY_MATERIAL" && t != "NEW_KEY_MATERIAL") {
                return Err(AwsError::validation("ImportType must be EXISTING_KEY_MATERIAL or NEW_KEY_MATERIAL"));
            }
            kms.import_key_material(caller, &key, &token, &material, valid_to).await?;
            Ok(json!({}))
        }
        "DeleteImportedKeyMaterial" => {
            kms.delete_imported_key_material(caller, &input.key_ref_req("KeyId")?).await?;
            Ok(json!({}))
        }
        other => {
            Err(AwsError::new("UnsupportedOperationException", 400, format!("{other} is not an import operation")))
        }
    }
}

/// `ExpirationModel` and `ValidTo` of a key with imported material.
pub(crate) fn expiration(k: &KeyRecord, o: &mut Map<String, Value>) {
    match expiration_model(k) {
        Some(ExpirationModel::Expires(t)) => {
            o.insert("ExpirationModel".into(), json!("KEY_MATERIAL_EXPIRES"));
            o.insert("ValidTo".into(), epoch(t));
        }
        Some(ExpirationModel::DoesNotExpire) => {
            o.insert("ExpirationModel".into(), json!("KEY_MATERIAL_DOES_NOT_EXPIRE"));
        }
        None => {}
    }
}
