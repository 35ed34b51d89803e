//! Access control through an unmodified aws-sdk-kms client: key policies, identity policies,
//! cross-account use, grants (linearizable on every node) and the lockout safety check, with
//! several principals in two accounts.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation};
use aws_sdk_kms::Client;
use keyraft_aws::Credential;
use keyraft_core::AccountId;
use keyraft_server::NodeConfig;
use keyraft_testkit::check::{assert_code, outcome, OK};
use keyraft_testkit::{sdk_client, Cluster};

const R: &str = "us-east-1";
const A: &str = "111122223333";
const B: &str = "444455556666";
const DENIED: &str = "AccessDeniedException";

/// (access key, principal ARN, account, identity policies)
const PRINCIPALS: &[(&str, &str, &str, &[&str])] = &[
    // No identity policy: only what key policies and grants give by name.
    ("AKIDALICE", "arn:aws:iam::111122223333:user/alice", A, &[]),
    // Crypto on any key, via the default key policy's delegation to the account.
    (
        "AKIDBOB",
        "arn:aws:iam::111122223333:user/bob",
        A,
        &[
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:GenerateDataKey*"],"Resource":"*"}]}"#,
        ],
    ),
    // Administrator, except that key deletion is explicitly denied.
    (
        "AKIDCAROL",
        "arn:aws:iam::111122223333:user/carol",
        A,
        &[
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}"#,
        ],
    ),
    ("AKIDROOTB", "arn:aws:iam::444455556666:root", B, &[]),
    (
        "AKIDDAVE",
        "arn:aws:iam::444455556666:user/dave",
        B,
        &[
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:CreateGrant","kms:ScheduleKeyDeletion"],"Resource":"*"}]}"#,
        ],
    ),
];

fn add_principals(cfg: &mut NodeConfig) {
    Cluster::test_timings()(cfg);
    // This test makes bursts of management calls with the SDK's retries off.
    cfg.quotas.enabled = false;
    for (key, arn, account, policies) in PRINCIPALS {
        cfg.credentials.push(Credential {
            access_key_id: (*key).into(),
            secret_access_key: format!("{key}-secret"),
            account_id: AccountId::parse(account).expect("account"),
            principal: Some((*arn).into()),
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
        });
    }
}

fn as_principal(c: &Cluster, node: u64, key: &str) -> Client {
    sdk_client(&c.endpoint(R, node), R, key, &format!("{key}-secret"))
}

async fn new_key(root: &Client) -> (String, String) {
    let md = root.create_key().send().await.expect("create key");
    let md = md.key_metadata().expect("metadata");
    (md.key_id().to_owned(), md.arn().expect("arn").to_owned())
}

async fn encrypt(c: &Client, key: &str, ctx: &[(&str, &str)]) -> String {
    let mut req = c.encrypt().key_id(key).plaintext(Blob::new(b"secret".to_vec()));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    outcome(&req.send().await)
}

fn policy(statements: &[String]) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
}

fn root_statement() -> String {
    format!(
        r#"{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn policies_principals_accounts_and_grants() {
    let c = Cluster::ready_with(&[R], add_principals).await.expect("cluster");
    let root = c.client(R, 1);
    let (alice, bob, carol) =
        (as_principal(&c, 2, "AKIDALICE"), as_principal(&c, 3, "AKIDBOB"), as_principal(&c, 1, "AKIDCAROL"));
    let (root_b, dave) = (as_principal(&c, 1, "AKIDROOTB"), as_principal(&c, 2, "AKIDDAVE"));

    // --- The default key policy delegates to the account's identity policies. ---
    let (k, k_arn) = new_key(&root).await;
    let err = alice.encrypt().key_id(&k).plaintext(Blob::new(b"x".to_vec())).send().await.expect_err("alice denied");
    let msg = aws_sdk_kms::error::ProvideErrorMetadata::message(&err).unwrap_or_default().to_owned();
    assert_eq!(aws_sdk_kms::error::ProvideErrorMetadata::code(&err), Some(DENIED), "{err:?}");
    assert!(
        msg.contains("arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:us-east-1:111122223333:key/"),
        "{msg}"
    );
    // The refusal is in the serving node's audit trail and metrics.
    let audit = std::fs::read_to_string(c.node(R, 2).config.audit_path()).expect("audit file");
    let refused: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["errorCode"] == DENIED && r["userIdentity"]["arn"] == "arn:aws:iam::111122223333:user/alice")
        .collect();
    assert_eq!(refused.len(), 1, "alice's refused Encrypt, once, in node 2's audit trail");
    assert_eq!(refused[0]["eventName"], "Encrypt");
    assert!(refused[0]["errorMessage"].as_str().is_some_and(|m| m.contains("kms:Encrypt")), "{}", refused[0]);
    let scrape = reqwest::get(format!("{}/metrics", c.node(R, 2).admin_url))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    assert!(
        scrape.lines().any(|l| l.starts_with("keyraft_requests_total{")
            && l.contains(r#"operation="Encrypt""#)
            && l.contains(r#"outcome="AccessDeniedException""#)
            && l.ends_with(" 1")),
        "no AccessDeniedException Encrypt counter in node 2's metrics"
    );
    assert_eq!(encrypt(&bob, &k, &[]).await, OK, "bob's identity policy allows Encrypt");
    assert_code(bob.schedule_key_deletion().key_id(&k).send().await, DENIED, "bob: no identity permission");
    assert_code(carol.schedule_key_deletion().key_id(&k).send().await, DENIED, "carol: explicit identity deny");
    assert_code(carol.disable_key().key_id(&k).send().await, OK, "carol: kms:*");
    assert_code(carol.enable_key().key_id(&k).send().await, OK, "carol: kms:*");
    // Operations without a key: identity policies alone.
    assert_code(alice.create_key().send().await, DENIED, "alice CreateKey");
    assert_code(bob.create_key().send().await, DENIED, "bob CreateKey");
    assert_code(alice.list_keys().send().await, DENIED, "alice ListKeys");
    assert_code(carol.list_keys().send().await, OK, "carol ListKeys");
    assert_code(alice.generate_random().number_of_bytes(8).send().await, DENIED, "alice GenerateRandom");

    // --- A key policy naming alice, with an encryption-context condition. ---
    let alice_stmt = format!(
        r#"{{"Sid":"alice blue","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/alice"}},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:team":"blue"}}}}}}"#
    );
    let deny_bob_decrypt = format!(
        r#"{{"Sid":"no bob decrypt","Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{A}:user/bob"}},"Action":"kms:Decrypt","Resource":"*"}}"#
    );
    let p = policy(&[root_statement(), alice_stmt.clone(), deny_bob_decrypt]);
    root.put_key_policy().key_id(&k).policy(&p).send().await.expect("put policy");
    // In force on every node at once.
    for node in 1..=3 {
        let alice = as_principal(&c, node, "AKIDALICE");
        assert_eq!(encrypt(&alice, &k, &[("team", "blue")]).await, OK, "node {node}: alice, team=blue");
        assert_eq!(encrypt(&alice, &k, &[("team", "red")]).await, DENIED, "node {node}: alice, team=red");
        assert_eq!(encrypt(&alice, &k, &[]).await, DENIED, "node {node}: alice, no context");
    }
    let blob = bob
        .encrypt()
        .key_id(&k)
        .plaintext(Blob::new(b"x".to_vec()))
        .encryption_context("team", "blue")
        .send()
        .await
        .expect("bob encrypts")
        .ciphertext_blob
        .expect("blob");
    assert_code(
        bob.decrypt().ciphertext_blob(blob.clone()).encryption_context("team", "blue").send().await,
        DENIED,
        "explicit deny in the key policy beats bob's identity allow",
    );
    assert_code(
        alice.decrypt().ciphertext_blob(blob.clone()).encryption_context("team", "blue").send().await,
        OK,
        "alice decrypts under the condition",
    );

    // --- Cross-account: account B is refused until the key policy names it. ---
    assert_eq!(encrypt(&dave, &k_arn, &[]).await, DENIED, "dave before the key policy names B");
    assert_eq!(encrypt(&dave, &k, &[]).await, "NotFoundException", "a bare key id is looked up in dave's account");
    let b_stmt = format!(
        r#"{{"Sid":"account B","Effect":"Allow","Principal":{{"AWS":"{B}"}},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:ScheduleKeyDeletion"],"Resource":"*","Condition":{{"StringEquals":{{"kms:CallerAccount":"{B}"}}}}}}"#
    );
    root.put_key_policy().key_id(&k).policy(policy(&[root_statement(), alice_stmt, b_stmt])).send().await.expect("put");
    assert_eq!(encrypt(&dave, &k_arn, &[]).await, OK, "dave: key policy names B, dave's identity policy allows");
    assert_eq!(encrypt(&root_b, &k_arn, &[]).await, OK, "root of B");
    assert_code(dave.describe_key().key_id(&k_arn).send().await, OK, "DescribeKey across accounts");
    assert_code(
        dave.schedule_key_deletion().key_id(&k_arn).send().await,
        "NotFoundException",
        "ScheduleKeyDeletion is not a cross-account operation",
    );
    assert_code(dave.list_keys().send().await, DENIED, "dave: no kms:ListKeys");
    assert_code(root_b.list_keys().send().await, OK, "root of B lists its own (no) keys");

    // --- Global condition keys: the client's address and the node's clock. ---
    for (cidr, after, expect) in [
        ("127.0.0.0/8", "2020-01-01T00:00:00Z", OK),
        ("10.0.0.0/8", "2020-01-01T00:00:00Z", DENIED),
        ("127.0.0.0/8", "2999-01-01T00:00:00Z", DENIED),
    ] {
        let (key, _) = new_key(&root).await;
        let stmt = format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/alice"}},"Action":"kms:Encrypt","Resource":"*","Condition":{{"IpAddress":{{"aws:SourceIp":"{cidr}"}},"DateGreaterThan":{{"aws:CurrentTime":"{after}"}},"Bool":{{"aws:SecureTransport":"false"}}}}}}"#
        );
        root.put_key_policy().key_id(&key).policy(policy(&[root_statement(), stmt])).send().await.expect("put");
        assert_eq!(encrypt(&alice, &key, &[]).await, expect, "source in {cidr}, time after {after}");
    }

    // --- Grants: allowed by the grant alone, constraints apply, revocation is immediate. ---
    let (g, g_arn) = new_key(&root).await;
    assert_eq!(encrypt(&alice, &g, &[("app", "x")]).await, DENIED, "alice before the grant");
    let grant = root
        .create_grant()
        .key_id(&g)
        .grantee_principal("arn:aws:iam::111122223333:user/alice")
        .retiring_principal("arn:aws:iam::111122223333:user/bob")
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::CreateGrant)
        .constraints(GrantConstraints::builder().encryption_context_subset("app", "x").build())
        .name("alice-app-x")
        .send()
        .await
        .expect("create grant");
    let grant_id = grant.grant_id().expect("grant id").to_owned();
    let token = grant.grant_token().expect("token").to_owned();
    // Linearizable: usable on every node as soon as CreateGrant answered.
    for node in 1..=3 {
        let alice = as_principal(&c, node, "AKIDALICE");
        assert_eq!(encrypt(&alice, &g, &[("app", "x"), ("more", "ok")]).await, OK, "node {node}: grant allows");
        assert_eq!(encrypt(&alice, &g, &[("app", "y")]).await, DENIED, "node {node}: constraint refuses");
    }
    assert_code(alice.describe_key().key_id(&g).send().await, DENIED, "the grant does not include DescribeKey");
    // A named CreateGrant repeated answers the same grant (and a fresh token).
    let again = root
        .create_grant()
        .key_id(&g)
        .grantee_principal("arn:aws:iam::111122223333:user/alice")
        .retiring_principal("arn:aws:iam::111122223333:user/bob")
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::CreateGrant)
        .constraints(GrantConstraints::builder().encryption_context_subset("app", "x").build())
        .name("alice-app-x")
        .send()
        .await
        .expect("repeat grant");
    assert_eq!(again.grant_id(), Some(grant_id.as_str()));
    assert_ne!(again.grant_token(), Some(token.as_str()));
    // Grant operations must suit the key; constraints need a symmetric key.
    assert_code(
        root.create_grant()
            .key_id(&g)
            .grantee_principal("arn:aws:iam::111122223333:user/alice")
            .operations(GrantOperation::Sign)
            .send()
            .await,
        "ValidationException",
        "Sign on a symmetric key",
    );
    // Alice may pass on a narrower grant (CreateGrant via her grant), not a wider one.
    assert_code(
        alice
            .create_grant()
            .key_id(&g_arn)
            .grantee_principal("arn:aws:iam::111122223333:user/bob")
            .operations(GrantOperation::Decrypt)
            .constraints(GrantConstraints::builder().encryption_context_subset("app", "x").build())
            .send()
            .await,
        OK,
        "narrower sub-grant",
    );
    assert_code(
        alice
            .create_grant()
            .key_id(&g_arn)
            .grantee_principal("arn:aws:iam::111122223333:user/bob")
            .operations(GrantOperation::Decrypt)
            .send()
            .await,
        DENIED,
        "sub-grant without the constraint is wider",
    );
    let listed = root.list_grants().key_id(&g).send().await.expect("list grants");
    assert_eq!(listed.grants().len(), 2, "{listed:?}");
    let mine = listed.grants().iter().find(|e| e.grant_id() == Some(grant_id.as_str())).expect("listed");
    assert_eq!(mine.name(), Some("alice-app-x"));
    assert_eq!(mine.issuing_account(), Some("arn:aws:iam::111122223333:root"));
    assert_eq!(mine.operations().len(), 3);
    let retirable = bob.list_retirable_grants().retiring_principal("arn:aws:iam::111122223333:user/bob").send().await;
    assert_code(retirable, DENIED, "bob: no kms:ListRetirableGrants");
    let retirable = root
        .list_retirable_grants()
        .retiring_principal("arn:aws:iam::111122223333:user/bob")
        .send()
        .await
        .expect("list");
    assert_eq!(retirable.grants().len(), 1);

    // Revocation: denied on every node once RevokeGrant answered.
    root.revoke_grant().key_id(&g).grant_id(&grant_id).send().await.expect("revoke");
    for node in 1..=3 {
        let alice = as_principal(&c, node, "AKIDALICE");
        assert_eq!(encrypt(&alice, &g, &[("app", "x")]).await, DENIED, "node {node}: revoked");
    }
    assert_code(root.revoke_grant().key_id(&g).grant_id(&grant_id).send().await, "NotFoundException", "revoke twice");
    assert_code(root.revoke_grant().key_id(&g).grant_id("nope").send().await, "InvalidGrantIdException", "bad id");

    // Retiring: by token, only by those the grant names.
    let second = root
        .create_grant()
        .key_id(&g)
        .grantee_principal("arn:aws:iam::111122223333:user/alice")
        .retiring_principal("arn:aws:iam::111122223333:user/bob")
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .expect("second grant");
    let t2 = second.grant_token().expect("token");
    assert_eq!(encrypt(&alice, &g, &[]).await, OK, "second grant");
    assert_code(alice.retire_grant().grant_token(t2).send().await, DENIED, "grantee without RetireGrant");
    assert_code(bob.retire_grant().grant_token(t2).send().await, OK, "retiring principal");
    assert_eq!(encrypt(&alice, &g, &[]).await, DENIED, "retired");
    assert_code(bob.retire_grant().grant_token("garbage").send().await, "InvalidGrantTokenException", "bad token");

    // --- GetKeyLastUsage: without a Raft write per operation, yet seen by every node. ---
    let (u, _) = new_key(&root).await;
    let fresh = root.get_key_last_usage().key_id(&u).send().await.expect("last usage");
    assert!(fresh.key_last_usage().is_none_or(|l| l.operation().is_none()), "{fresh:?}");
    assert_eq!(fresh.tracking_start_date(), fresh.key_creation_date());
    let served = c.client(R, 2).encrypt().key_id(&u).plaintext(Blob::new(b"u".to_vec())).send().await.expect("enc");
    let request_id = aws_sdk_kms::operation::RequestId::request_id(&served).expect("request id").to_owned();
    let here = c.client(R, 2).get_key_last_usage().key_id(&u).send().await.expect("last usage");
    let last = here.key_last_usage().expect("used");
    assert_eq!(last.operation().map(|o| o.as_str()), Some("Encrypt"));
    assert_eq!(last.kms_request_id(), Some(request_id.as_str()), "the serving node knows at once");
    assert!(last.cloud_trail_event_id().is_some_and(|e| e.len() == 36));
    // Another node learns it from the serving node's next batch (every 10 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let there = c.client(R, 3).get_key_last_usage().key_id(&u).send().await.expect("last usage");
        if there.key_last_usage().and_then(|l| l.kms_request_id()) == Some(request_id.as_str()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "node 3 never saw the use: {there:?}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_code(alice.get_key_last_usage().key_id(&u).send().await, DENIED, "alice: no kms:GetKeyLastUsage");

    // --- Lockout safety check and malformed documents. ---
    let only_alice = policy(&[format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/alice"}},"Action":"kms:*","Resource":"*"}}"#
    )]);
    assert_code(
        root.put_key_policy().key_id(&g).policy(&only_alice).send().await,
        "MalformedPolicyDocumentException",
        "the new policy would lock the caller out",
    );
    assert_code(
        root.create_key().policy(&only_alice).send().await,
        "MalformedPolicyDocumentException",
        "CreateKey with a locking-out policy",
    );
    for bad in [
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringSortOf":{"a":"b"}}}]}"#,
        "not json",
    ] {
        assert_code(root.put_key_policy().key_id(&g).policy(bad).send().await, "MalformedPolicyDocumentException", bad);
    }
    assert_code(
        root.put_key_policy().key_id(&g).policy(&only_alice).bypass_policy_lockout_safety_check(true).send().await,
        OK,
        "bypassed",
    );
    assert_code(root.describe_key().key_id(&g).send().await, DENIED, "root is locked out now");
    assert_code(alice.describe_key().key_id(&g).send().await, OK, "alice holds the key");

    c.shutdown().await;
}
