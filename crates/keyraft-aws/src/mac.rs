//! HMAC keys on the wire: GenerateMac and VerifyMac. `DryRun` is handled by the caller
//! (`ops::DRY_RUN_READ_ONLY`); `GrantTokens` is accepted and ignored, as for the other crypto
//! operations.

use keyraft_core::algorithms::MacAlgorithm;
use keyraft_service::{Caller, Kms};
use serde_json::{json, Value};

use crate::error::AwsError;
use crate::wire::{b64, missing, Input};

fn mac_algorithm(input: &Input) -> Result<MacAlgorithm, AwsError> {
    let names: Vec<&str> = MacAlgorithm::ALL.iter().map(MacAlgorithm::as_aws).collect();
    input.enum_opt("MacAlgorithm", MacAlgorithm::from_aws, &names)?.ok_or_else(|| missing("MacAlgorithm"))
}

pub(crate) async fn dispatch(kms: &Kms, caller: &Caller, op: &str, input: &Input) -> Result<Value, AwsError> {
    Ok(match op {
        "GenerateMac" => {
            let message = input.blob_req("Message", 1, 4096)?;
            let key = input.key_ref_req("KeyId")?;
            let alg = mac_algorithm(input)?;
            input.string_list("GrantTokens")?;
            let out = kms.generate_mac(caller, &key, &message, alg).await?;
            json!({ "Mac": b64(&out.mac), "MacAlgorithm": alg.as_aws(), "KeyId": out.key.to_string() })
        }
        "VerifyMac" => {
            let message = input.blob_req("Message", 1, 4096)?;
            let key = input.key_ref_req("KeyId")?;
            let alg = mac_algorithm(input)?;
            let mac = input.blob_req("Mac", 1, 6144)?;
            input.string_list("GrantTokens")?;
            let arn = kms.verify_mac(caller, &key, &message, &mac, alg).await?;
            json!({ "KeyId": arn.to_string(), "MacValid": true, "MacAlgorithm": alg.as_aws() })
        }
        other => return Err(AwsError::new("UnsupportedOperationException", 400, format!("{other} is not supported"))),
    })
}
