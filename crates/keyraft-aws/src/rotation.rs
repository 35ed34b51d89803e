//! The rotation operations' wire side: RotateKeyOnDemand and ListKeyRotations (dispatched from
//! [`crate::ops::dispatch`]).

use keyraft_service::ops::RotationEntry;
use keyraft_service::{Caller, Kms};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::AwsError;
use crate::wire::{epoch, Input};

/// Runs RotateKeyOnDemand or ListKeyRotations.
pub(crate) async fn dispatch(kms: &Kms, caller: &Caller, op: &str, input: &Input) -> Result<Value, AwsError> {
    match op {
        "RotateKeyOnDemand" => {
            let arn = kms.rotate_key_on_demand(caller, &input.key_ref_req("KeyId")?).await?;
            Ok(json!({ "KeyId": arn.key_id.as_str() }))
        }
        "ListKeyRotations" => {
            let include_all = input.enum_opt(
                "IncludeKeyMaterial",
                |s| match s {
                    "ALL_KEY_MATERIAL" => Some(true),
                    "ROTATIONS_ONLY" => Some(false),
                    _ => None,
                },
                &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"],
            )?;
            let limit = input.int_opt("Limit", 1, 1000)?.unwrap_or(100) as usize;
            let page = kms
                .list_key_rotations(
                    caller,
                    &input.key_ref_req("KeyId")?,
                    include_all.unwrap_or(false),
                    limit,
                    input.str_len("Marker", 1, 1024)?,
                )
                .await?;
            let rotations: Vec<Value> = page.items.iter().map(entry).collect();
            let mut out = Map::new();
            out.insert("Rotations".into(), json!(rotations));
            out.insert("Truncated".into(), json!(page.next_marker.is_some()));
            if let Some(m) = page.next_marker {
                out.insert("NextMarker".into(), json!(m));
            }
            Ok(Value::Object(out))
        }
        other => {
            Err(AwsError::new("UnsupportedOperationException", 400, format!("{other} is not a rotation operation")))
        }
    }
}

fn entry(e: &RotationEntry) -> Value {
    let mut o = Map::new();
    o.insert("KeyId".into(), json!(e.key_id.as_str()));
    o.insert("KeyMaterialId".into(), json!(key_material_id(e)));
    o.insert("KeyMaterialState".into(), json!(if e.current { "CURRENT" } else { "NON_CURRENT" }));
    if let Some((date_ms, kind)) = e.rotation {
        o.insert("RotationDate".into(), epoch(date_ms));
        o.insert("RotationType".into(), json!(kind.as_aws()));
    }
    Value::Object(o)
}

/// AWS's `KeyMaterialId` is 64 lowercase hex digits. keyraft's names the (key, version) pair
/// and reveals nothing about the material: SHA-256 over a label, the key id and the version.
fn key_material_id(e: &RotationEntry) -> String {
    let mut h = Sha256::new();
    h.update(b"keyraft/key-material-id/v1\0");
    h.update(e.key_id.as_str().as_bytes());
    h.update([0]);
    h.update(e.version.to_be_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
