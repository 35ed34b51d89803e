//! Grants on the wire: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
//! Service principals (`GranteeServicePrincipal`, `RetiringServicePrincipal`) and the
//! `SourceArn` constraint belong to AWS services and answer UnsupportedOperationException.

use std::collections::BTreeSet;

use keyraft_core::grants::{Grant, GrantConstraints, GrantOperation};
use keyraft_service::ops::CreateGrantInput;
use keyraft_service::{Caller, Kms};
use serde_json::{json, Map, Value};

use crate::error::AwsError;
use crate::wire::{epoch, missing, Input};

fn limit(input: &Input) -> Result<usize, AwsError> {
    Ok(input.int_opt("Limit", 1, 100)?.unwrap_or(50) as usize)
}

/// `PrincipalIdType`: 1–256 characters of `[\w+=,.@:/-]`.
fn principal(input: &Input, member: &str) -> Result<Option<String>, AwsError> {
    let Some(p) = input.str_len(member, 1, 256)? else { return Ok(None) };
    if !p.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c)) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{p}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$",
            crate::wire::camel(member)
        )));
    }
    Ok(Some(p.to_owned()))
}

fn no_service_principals(input: &Input, members: &[&str]) -> Result<(), AwsError> {
    for m in members {
        if input.str_opt(m)?.is_some() {
            return Err(AwsError::new("UnsupportedOperationException", 400, format!("{m} is not supported")));
        }
    }
    Ok(())
}

fn operations(input: &Input) -> Result<BTreeSet<GrantOperation>, AwsError> {
    let names: Vec<&str> = GrantOperation::ALL.iter().map(GrantOperation::as_aws).collect();
    let list = input.string_list("Operations")?.ok_or_else(|| missing("Operations"))?;
    list.iter()
        .map(|o| {
            GrantOperation::from_aws(o).ok_or_else(|| {
                AwsError::validation(format!(
                    "1 validation error detected: Value '[{o}]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                    names.join(", ")
                ))
            })
        })
        .collect()
}

fn constraints(input: &Input) -> Result<GrantConstraints, AwsError> {
    let Some(v) = input.members().get("Constraints") else { return Ok(GrantConstraints::default()) };
    let Value::Object(m) = v else {
        return Err(AwsError::serialization("Unexpected value type for member Constraints: expected structure"));
    };
    let inner = Input::from_members(m.clone());
    if inner.str_opt("SourceArn")?.is_some() {
        return Err(AwsError::new(
            "UnsupportedOperationException",
            400,
            "The SourceArn grant constraint is not supported",
        ));
    }
    let map = |member: &str| -> Result<Option<_>, AwsError> {
        if !m.contains_key(member) {
            return Ok(None);
        }
        let ctx = inner.string_map(member)?;
        if ctx.len() > 8 || ctx.values().any(|v| v.chars().count() > 384) {
            return Err(AwsError::validation(format!(
                "{member} can hold at most 8 pairs of at most 384 characters per value"
            )));
        }
        Ok(Some(ctx))
    };
    Ok(GrantConstraints {
        encryption_context_subset: map("EncryptionContextSubset")?,
        encryption_context_equals: map("EncryptionContextEquals")?,
    })
}

fn entry(kms: &Kms, g: &Grant) -> Value {
    let mut o = Map::new();
    let arn = keyraft_core::KeyArn {
        region: kms.region().clone(),
        account: g.issuing_account.clone(),
        key_id: g.key.clone(),
    };
    o.insert("KeyId".into(), json!(arn.to_string()));
    o.insert("GrantId".into(), json!(g.id));
    if let Some(n) = &g.name {
        o.insert("Name".into(), json!(n));
    }
    o.insert("CreationDate".into(), epoch(g.creation_ms));
    o.insert("GranteePrincipal".into(), json!(g.grantee));
    if let Some(r) = &g.retiring {
        o.insert("RetiringPrincipal".into(), json!(r));
    }
    o.insert("IssuingAccount".into(), json!(format!("arn:aws:iam::{}:root", g.issuing_account)));
    o.insert("Operations".into(), json!(g.operations.iter().map(GrantOperation::as_aws).collect::<Vec<_>>()));
    let mut c = Map::new();
    if let Some(s) = &g.constraints.encryption_context_subset {
        c.insert("EncryptionContextSubset".into(), json!(s));
    }
    if let Some(e) = &g.constraints.encryption_context_equals {
        c.insert("EncryptionContextEquals".into(), json!(e));
    }
    if !c.is_empty() {
        o.insert("Constraints".into(), Value::Object(c));
    }
    Value::Object(o)
}

fn dry_run(input: &Input) -> Result<(), AwsError> {
    if input.bool_opt("DryRun")?.unwrap_or(false) {
        return Err(AwsError::new(
            "DryRunOperationException",
            412,
            "The request was rejected because the DryRun parameter was specified.",
        ));
    }
    Ok(())
}

pub(crate) async fn dispatch(kms: &Kms, caller: &Caller, op: &str, input: &Input) -> Result<Value, AwsError> {
    Ok(match op {
        "CreateGrant" => {
            no_service_principals(input, &["GranteeServicePrincipal", "RetiringServicePrincipal"])?;
            let key = input.key_ref_req("KeyId")?;
            let grantee = principal(input, "GranteePrincipal")?.ok_or_else(|| missing("GranteePrincipal"))?;
            let name = match input.str_len("Name", 1, 256)? {
                Some(n) if !n.chars().all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c)) => {
                    return Err(AwsError::validation(format!(
                        "1 validation error detected: Value '{n}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
                    )))
                }
                n => n.map(str::to_owned),
            };
            let grant = CreateGrantInput {
                grantee,
                retiring: principal(input, "RetiringPrincipal")?,
                operations: operations(input)?,
                constraints: constraints(input)?,
                name,
            };
            input.string_list("GrantTokens")?;
            dry_run(input)?;
            let out = kms.create_grant(caller, &key, grant).await?;
            json!({ "GrantToken": out.token, "GrantId": out.grant_id })
        }
        "ListGrants" => {
            no_service_principals(input, &["GranteeServicePrincipal"])?;
            let page = kms
                .list_grants(
                    caller,
                    &input.key_ref_req("KeyId")?,
                    input.str_len("GrantId", 1, 128)?,
                    principal(input, "GranteePrincipal")?.as_deref(),
                    limit(input)?,
                    input.str_len("Marker", 1, 1024)?,
                )
                .await?;
            let grants: Vec<Value> = page.items.iter().map(|g| entry(kms, g)).collect();
            crate::ops::paged(json!({ "Grants": grants }), page.next_marker)
        }
        "ListRetirableGrants" => {
            no_service_principals(input, &["RetiringServicePrincipal"])?;
            let retiring = principal(input, "RetiringPrincipal")?.ok_or_else(|| missing("RetiringPrincipal"))?;
            let page =
                kms.list_retirable_grants(caller, &retiring, limit(input)?, input.str_len("Marker", 1, 1024)?).await?;
            let grants: Vec<Value> = page.items.iter().map(|g| entry(kms, g)).collect();
            crate::ops::paged(json!({ "Grants": grants }), page.next_marker)
        }
        "RetireGrant" => {
            let token = input.str_len("GrantToken", 1, 8192)?;
            let key = input.key_ref("KeyId")?;
            let grant_id = input.str_len("GrantId", 1, 128)?;
            dry_run(input)?;
            kms.retire_grant(caller, token, key.as_ref(), grant_id).await?;
            json!({})
        }
        "RevokeGrant" => {
            let key = input.key_ref_req("KeyId")?;
            let grant_id = input.str_len("GrantId", 1, 128)?.ok_or_else(|| missing("GrantId"))?;
            dry_run(input)?;
            kms.revoke_grant(caller, &key, grant_id).await?;
            json!({})
        }
        other => return Err(AwsError::new("UnsupportedOperationException", 400, format!("{other} is not supported"))),
    })
}
