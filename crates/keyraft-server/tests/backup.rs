//! Backup and restore of a region (`keyraft backup|restore`, admin `GET /v1/backup`,
//! `POST /v1/restore`), with real clusters and the unmodified `aws-sdk-kms` client: keys of
//! several kinds (symmetric with alias, tags and key policy; RSA signing; HMAC; a grant) are
//! backed up through the CLI's logic, restored into a fresh cluster of the same region with the
//! same root key, and then decrypt, verify and list exactly as before — also on a follower that
//! was down during the restore (it catches up by snapshot install) and on a restarted node (the
//! state comes back from sled). A region that is not empty, a tampered file, a file sealed under
//! another root key and a backup of another region are refused and change nothing.

use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantOperation, KeyUsageType, MacAlgorithmSpec, SigningAlgorithmSpec, Tag};
use aws_sdk_kms::Client;
use keyraft_core::restore::RegionContents;
use keyraft_crypto::backup::{self, BackupHeader};
use keyraft_testkit::{create_key_spec, Cluster};

const R: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";
const ALIAS: &str = "alias/backup-test";
const GRANTEE: &str = "arn:aws:iam::111122223333:user/alice";

fn snapshot_often(cfg: &mut keyraft_server::NodeConfig) {
    cfg.heartbeat_ms = Some(50);
    cfg.snapshot_every = Some(5);
}

fn policy() -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},{{"Sid":"backup-test","Effect":"Allow","Principal":{{"AWS":"{GRANTEE}"}},"Action":"kms:DescribeKey","Resource":"*"}}]}}"#
    )
}

/// What the source region held and produced, to be found again after the restore.
struct Made {
    symmetric: String,
    rsa: String,
    hmac: String,
    grant_id: String,
    ciphertext: Vec<u8>,
    signature: Vec<u8>,
    mac: Vec<u8>,
}

const MESSAGE: &[u8] = b"backed up and restored";

async fn make_keys(kms: &Client) -> Made {
    let created = kms
        .create_key()
        .description("symmetric, backed up")
        .policy(policy())
        .tags(Tag::builder().tag_key("team").tag_value("storage").build().expect("tag"))
        .tags(Tag::builder().tag_key("env").tag_value("test").build().expect("tag"))
        .send()
        .await
        .expect("create symmetric");
    let symmetric = created.key_metadata().expect("metadata").key_id().to_owned();
    kms.create_alias().alias_name(ALIAS).target_key_id(&symmetric).send().await.expect("alias");
    let grant = kms
        .create_grant()
        .key_id(&symmetric)
        .grantee_principal(GRANTEE)
        .operations(GrantOperation::Decrypt)
        .name("backup-test")
        .send()
        .await
        .expect("grant");
    let grant_id = grant.grant_id().expect("grant id").to_owned();
    let ciphertext = kms
        .encrypt()
        .key_id(ALIAS)
        .plaintext(Blob::new(MESSAGE))
        .encryption_context("purpose", "backup")
        .send()
        .await
        .expect("encrypt")
        .ciphertext_blob()
        .expect("blob")
        .as_ref()
        .to_vec();
    let rsa = create_key_spec(kms, "RSA_2048", Some(KeyUsageType::SignVerify)).await;
    let signature = kms
        .sign()
        .key_id(&rsa)
        .message(Blob::new(MESSAGE))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .expect("sign")
        .signature()
        .expect("signature")
        .as_ref()
        .to_vec();
    let hmac = create_key_spec(kms, "HMAC_256", Some(KeyUsageType::GenerateVerifyMac)).await;
    let mac = kms
        .generate_mac()
        .key_id(&hmac)
        .message(Blob::new(MESSAGE))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .expect("mac")
        .mac()
        .expect("mac")
        .as_ref()
        .to_vec();
    Made { symmetric, rsa, hmac, grant_id, ciphertext, signature, mac }
}

/// Everything the source region made works, and lists, through `kms`.
async fn check_keys(kms: &Client, made: &Made, what: &str) {
    let plain = kms
        .decrypt()
        .ciphertext_blob(Blob::new(made.ciphertext.clone()))
        .encryption_context("purpose", "backup")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: decrypt: {e:?}"));
    assert_eq!(plain.plaintext().expect("plaintext").as_ref(), MESSAGE, "{what}");
    assert_eq!(plain.key_id(), Some(format!("arn:aws:kms:{R}:{ACCOUNT}:key/{}", made.symmetric).as_str()));
    let verified = kms
        .verify()
        .key_id(&made.rsa)
        .message(Blob::new(MESSAGE))
        .signature(Blob::new(made.signature.clone()))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: verify: {e:?}"));
    assert!(verified.signature_valid(), "{what}");
    let mac_ok = kms
        .verify_mac()
        .key_id(&made.hmac)
        .message(Blob::new(MESSAGE))
        .mac(Blob::new(made.mac.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: verify mac: {e:?}"));
    assert!(mac_ok.mac_valid(), "{what}");
    let described = kms.describe_key().key_id(ALIAS).send().await.unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let meta = described.key_metadata().expect("metadata");
    assert_eq!(meta.key_id(), made.symmetric, "{what}");
    assert_eq!(meta.description(), Some("symmetric, backed up"), "{what}");
    assert!(meta.enabled(), "{what}");
    let aliases = kms.list_aliases().send().await.expect("list aliases");
    let alias = aliases.aliases().iter().find(|a| a.alias_name() == Some(ALIAS)).expect("alias restored");
    assert_eq!(alias.target_key_id(), Some(made.symmetric.as_str()), "{what}");
    let grants = kms.list_grants().key_id(&made.symmetric).send().await.expect("list grants");
    assert_eq!(grants.grants().len(), 1, "{what}");
    assert_eq!(grants.grants()[0].grant_id(), Some(made.grant_id.as_str()), "{what}");
    assert_eq!(grants.grants()[0].grantee_principal(), Some(GRANTEE), "{what}");
    let p = kms.get_key_policy().key_id(&made.symmetric).send().await.expect("policy");
    assert_eq!(p.policy(), Some(policy().as_str()), "{what}");
    let tags = kms.list_resource_tags().key_id(&made.symmetric).send().await.expect("tags");
    let mut tags: Vec<(String, String)> =
        tags.tags().iter().map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())).collect();
    tags.sort();
    assert_eq!(tags, [("env".to_owned(), "test".to_owned()), ("team".to_owned(), "storage".to_owned())], "{what}");
    let keys = kms.list_keys().send().await.expect("list keys");
    let mut ids: Vec<&str> = keys.keys().iter().filter_map(|k| k.key_id()).collect();
    ids.sort_unstable();
    let mut want = [made.symmetric.as_str(), made.rsa.as_str(), made.hmac.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "{what}");
}

async fn post(admin: &str, file: Vec<u8>) -> (u16, String) {
    let resp = reqwest::Client::new().post(format!("{admin}/v1/restore")).body(file).send().await.expect("post");
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

fn contents(c: &Cluster, node: u64) -> RegionContents {
    c.node(R, node).region_node.state().read(RegionContents::of)
}

/// `made`'s keys, aliases and grants as `c`'s node holds them.
fn restored_part(c: &Cluster, node: u64, source: &RegionContents) -> RegionContents {
    let all = contents(c, node);
    RegionContents {
        keys: all.keys.into_iter().filter(|(id, _)| source.keys.contains_key(id)).collect(),
        aliases: all.aliases,
        grants: all.grants,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_restores_into_a_fresh_region() {
    // The source region: keys of every kind, then a backup through the CLI's logic.
    let source = Cluster::ready_with(&[R], snapshot_often).await.expect("source cluster");
    let kms = source.client(R, 1);
    let made = make_keys(&kms).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("us-east-1.krbk");
    let written = keyraft_server::backup::backup(&source.admin(R, 2), &path, false).await.expect("backup");
    assert_eq!(written.header.keys, 3);
    assert_eq!(written.header.region, R);
    assert!(written.header.applied_index > 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o600);
    }
    assert!(
        keyraft_server::backup::backup(&source.admin(R, 2), &path, false).await.is_err(),
        "an existing file is not replaced without --force"
    );
    keyraft_server::backup::backup(&source.admin(R, 3), &path, true).await.expect("backup --force");
    let file = std::fs::read(&path).expect("read backup");
    let root_key = tempfile::NamedTempFile::new().expect("temp");
    std::fs::copy(source.root_key_file(R), root_key.path()).expect("keep the root key file");
    let root = keyraft_server::secrets::read_root_key(root_key.path()).expect("root key");
    // What the file holds: the source's records, wrapped material only.
    let (_, payload) = backup::open(&root, &file).expect("open with the root key");
    let source_contents = RegionContents::from_state(keyraft_store::decode_state(&payload).expect("decode"));
    assert_eq!(source_contents.keys, contents(&source, 3).keys);
    assert_eq!(source_contents.grants, contents(&source, 3).grants);
    source.shutdown().await;

    // A fresh region: same name, same root key, another cluster. Node 3 is down during the
    // restore and catches up afterwards from a snapshot.
    let mut target =
        Cluster::ready_with_root_keys(&[R], snapshot_often, &[(R, root_key.path())]).await.expect("target cluster");
    let leader = target.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let lagging = (1..=3).find(|n| *n != leader).expect("a follower");
    let serving = (1..=3).find(|n| *n != lagging).expect("another node");
    target.stop_node(R, lagging).await;
    let admin = target.admin(R, serving);
    let kms = target.client(R, serving);

    // Refused, and nothing changes: a changed byte (header or ciphertext), a file sealed under
    // another root key, a backup of another region, not a backup at all.
    let (header, header_len) = backup::read_header(&file).expect("header");
    for at in [header_len - 9, header_len + 20, file.len() - 1] {
        let mut bad = file.clone();
        bad[at] ^= 0x20;
        let (status, text) = post(&admin, bad).await;
        assert_eq!(status, 400, "byte {at}: {text}");
        assert!(text.contains("root key") || text.contains("altered"), "{text}");
    }
    let other_root = keyraft_crypto::RootKey::generate(&mut rand::rngs::OsRng, 1);
    let foreign = backup::seal(&other_root, &header, &payload, &mut rand::rngs::OsRng).expect("seal");
    let (status, text) = post(&admin, foreign).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("another root key"), "{text}");
    let elsewhere = BackupHeader { region: "eu-west-1".into(), ..header.clone() };
    let elsewhere = backup::seal(&root, &elsewhere, &payload, &mut rand::rngs::OsRng).expect("seal");
    let (status, text) = post(&admin, elsewhere).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("region eu-west-1"), "{text}");
    assert_eq!(post(&admin, b"not a backup".to_vec()).await.0, 400);
    assert!(kms.list_keys().send().await.expect("list").keys().is_empty(), "a refused restore changed the region");

    // The restore, through the CLI's logic.
    let restored = keyraft_server::backup::restore(&admin, &path).await.expect("restore");
    assert_eq!((restored.keys, restored.aliases, restored.grants), (3, 1, 1));
    assert_eq!(restored.applied_index, header.applied_index);
    check_keys(&kms, &made, "after restore").await;
    let restore_index = target.node(R, leader).region_node.state().last_applied().expect("applied").index;
    let restored_records = restored_part(&target, serving, &source_contents);
    assert_eq!(restored_records.keys, source_contents.keys);
    assert_eq!(restored_records.aliases, source_contents.aliases);
    assert_eq!(restored_records.grants, source_contents.grants);

    // Restoring again (the region is no longer empty) is refused and changes nothing.
    let before = contents(&target, serving);
    let err = keyraft_server::backup::restore(&admin, &path).await.expect_err("second restore");
    assert!(format!("{err:#}").contains("409"), "{err:#}");
    assert!(format!("{err:#}").contains("not empty"), "{err:#}");
    let after = contents(&target, serving);
    assert_eq!((after.keys, after.aliases, after.grants), (before.keys, before.aliases, before.grants));

    // More writes, then a snapshot and a purged log on every running node: the lagging node
    // can only catch up by installing a snapshot that holds the restored records.
    for i in 0..6 {
        kms.tag_resource()
            .key_id(&made.rsa)
            .tags(Tag::builder().tag_key(format!("k{i}")).tag_value("v").build().expect("tag"))
            .send()
            .await
            .expect("tag");
    }
    let raft = target.node(R, leader).region_node.raft().clone();
    raft.trigger().snapshot().await.expect("snapshot");
    let applied = target.node(R, leader).region_node.state().last_applied().expect("applied").index;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while raft.metrics().borrow().purged.map_or(0, |l| l.index) < restore_index {
        assert!(tokio::time::Instant::now() < deadline, "the leader did not purge the restore entry");
        raft.trigger().purge_log(applied).await.expect("purge");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The restore entry is gone from the leader's log: the lagging node needs a snapshot.
    target.start_node(R, lagging).await.expect("start the lagging node");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while target.node(R, lagging).region_node.state().last_applied().map_or(0, |l| l.index) < applied {
        assert!(tokio::time::Instant::now() < deadline, "the lagging node did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Raft's metrics follow the state machine a moment later.
    loop {
        let snapshot = target.node(R, lagging).region_node.raft().metrics().borrow().snapshot;
        if snapshot.is_some_and(|l| l.index >= restore_index) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no snapshot on the lagging node: {snapshot:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_lagging = restored_part(&target, lagging, &source_contents);
    assert_eq!(on_lagging.aliases, source_contents.aliases);
    assert_eq!(on_lagging.grants, source_contents.grants);
    assert_eq!(on_lagging.keys.len(), 3);
    check_keys(&target.client(R, lagging), &made, "on the node that installed a snapshot").await;

    // A restarted node loads the restored records from its sled tree.
    target.stop_node(R, serving).await;
    target.start_node(R, serving).await.expect("restart");
    target.wait_leader(R, Duration::from_secs(20)).await.expect("leader after restart");
    let reloaded = restored_part(&target, serving, &source_contents);
    assert_eq!(reloaded.aliases, source_contents.aliases);
    assert_eq!(reloaded.grants, source_contents.grants);
    assert_eq!(reloaded.keys.len(), 3);
    check_keys(&target.client(R, serving), &made, "after a restart").await;
    target.shutdown().await;
}
