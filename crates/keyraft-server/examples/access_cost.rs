//! What access control and the audit trail cost: Encrypt (32 bytes) throughput and latency of
//! one three-node region, in the same run, for
//!
//! 1. the account root under the default key policy, audit trail off;
//! 2. the same with the audit trail on (the default);
//! 3. an IAM user allowed by a five-statement key policy with encryption-context conditions
//!    plus an identity policy, audit trail on.
//!
//! Authorization itself cannot be switched off; its CPU per request is measured in isolation by
//! the floor bench (`FLOOR policy-*`, `crates/keyraft-aws/benches/floor.rs`).
//! Run with `scripts/bench-access` (release build).
//!
//! Usage: access_cost [seconds per run, default 10] [concurrent clients, default 32]

use std::time::Duration;

use base64::Engine;
use keyraft_aws::Credential;
use keyraft_core::AccountId;
use keyraft_server::NodeConfig;
use keyraft_testkit::Cluster;

mod load;
use load::{Load, Run, R};

const ACCOUNT: &str = "111122223333";
const USER: &str = "arn:aws:iam::111122223333:user/app";

fn app_user(cfg: &mut NodeConfig) {
    cfg.credentials.push(Credential {
        access_key_id: "AKIDAPPUSER".into(),
        secret_access_key: "app-user-secret".into(),
        account_id: AccountId::parse(ACCOUNT).expect("account"),
        principal: Some(USER.into()),
        policies: vec![r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}"#.into()],
    });
}

fn audit_off(cfg: &mut NodeConfig) {
    app_user(cfg);
    cfg.audit.enabled = false;
}

fn audit_on(cfg: &mut NodeConfig) {
    app_user(cfg);
    cfg.audit.enabled = true;
}

fn key_policy() -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Sid":"admins","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::{ACCOUNT}:role/admin","arn:aws:iam::{ACCOUNT}:user/ops"]}},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"}},
        {{"Sid":"users","Effect":"Allow","Principal":{{"AWS":"{USER}"}},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:tenant":"t-42"}},"ForAllValues:StringEquals":{{"kms:EncryptionContextKeys":["tenant","purpose"]}}}}}},
        {{"Sid":"grants","Effect":"Allow","Principal":{{"AWS":"{USER}"}},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{{"Bool":{{"kms:GrantIsForAWSResource":"true"}}}}}},
        {{"Sid":"this account only","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{{"StringNotEquals":{{"kms:CallerAccount":"{ACCOUNT}"}}}}}}
        ]}}"#
    )
}

async fn run(audit: bool, as_user: bool, secs: u64, clients: usize) -> anyhow::Result<Run> {
    let c = Cluster::start_with(&[R], if audit { audit_on } else { audit_off }).await?;
    c.wait_leader(R, Duration::from_secs(20)).await?;
    let root = c.client(R, 1);
    let key = root.create_key().send().await?.key_metadata().map(|m| m.key_id().to_owned()).unwrap_or_default();
    root.put_key_policy().key_id(&key).policy(key_policy()).send().await?;
    let plaintext = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let (access_key_id, secret_access_key) = if as_user {
        ("AKIDAPPUSER".to_owned(), "app-user-secret".to_owned())
    } else {
        (c.info.access_key_id.clone(), c.info.secret_access_key.clone())
    };
    let load = Load {
        endpoints: (1..=3).map(|n| c.endpoint(R, n)).collect(),
        access_key_id,
        secret_access_key,
        body: serde_json::json!({
            "KeyId": key,
            "Plaintext": plaintext,
            "EncryptionContext": {"tenant": "t-42", "purpose": "backup"},
        })
        .to_string(),
    };
    let out = load::run(&load, secs, clients).await?;
    c.shutdown().await;
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    println!("Encrypt 32 B, one region of 3 nodes in-process, {clients} clients over all nodes, {secs} s per run");
    println!("| caller, key policy | audit trail | ops/s | errors | p50 ms | p99 ms | p99.9 ms |");
    println!("|---|---|---|---|---|---|---|");
    let mut rates = Vec::new();
    for (audit, as_user, who) in [
        (false, false, "root, 5 statements (root statement matches)"),
        (true, false, "root, 5 statements (root statement matches)"),
        (true, true, "IAM user, 5 statements + conditions + identity policy"),
    ] {
        let r = run(audit, as_user, secs, clients).await?;
        rates.push(r.rate());
        println!(
            "| {who} | {} | {:.0} | {} | {:.2} | {:.2} | {:.2} |",
            if audit { "on" } else { "off" },
            r.rate(),
            r.errors,
            r.pct(0.5),
            r.pct(0.99),
            r.pct(0.999)
        );
    }
    println!("audit on / off throughput: {:.2}", rates[1] / rates[0]);
    println!("IAM user with conditions / root: {:.2}", rates[2] / rates[1]);
    Ok(())
}
