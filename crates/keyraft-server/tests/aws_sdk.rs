//! Every implemented KMS operation through the unmodified Rust `aws-sdk-kms` client, against an
//! in-process region of three nodes: returned fields, state seen through the other nodes, AWS
//! error names, the key-state matrix and region isolation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::operation::create_alias::CreateAliasError;
use aws_sdk_kms::operation::create_key::CreateKeyError;
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use aws_sdk_kms::operation::encrypt::EncryptError;
use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyError;
use aws_sdk_kms::operation::put_key_policy::PutKeyPolicyError;
use aws_sdk_kms::operation::re_encrypt::ReEncryptError;
use aws_sdk_kms::operation::tag_resource::TagResourceError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec, GrantOperation, KeyManagerType, KeyMetadata, KeySpec, KeyState, KeyUsageType,
    MessageType, OriginType, SigningAlgorithmSpec, Tag,
};
use aws_sdk_kms::Client;
use keyraft_testkit::check::{assert_code, outcome, OK};
use keyraft_testkit::Cluster;

const R: &str = "us-east-1";
const EU: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";
const DAY: i64 = 24 * 60 * 60;

const DISABLED: &str = "DisabledException";
const INVALID_STATE: &str = "KMSInvalidStateException";

/// `"OK"`, or the AWS error code (`__type`) of a failed call.
fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

fn arn(region: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}")
}

fn alias_arn(region: &str, alias: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:{alias}")
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().expect("tag")
}

fn is_uuid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n)
        && id.bytes().all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

async fn create_key(client: &Client, description: &str) -> KeyMetadata {
    let out = client.create_key().description(description).send().await.expect("create key");
    out.key_metadata().expect("key metadata").clone()
}

async fn describe(client: &Client, key: &str) -> KeyMetadata {
    let out = client.describe_key().key_id(key).send().await.expect("describe key");
    out.key_metadata().expect("key metadata").clone()
}

async fn key_state(client: &Client, key: &str) -> KeyState {
    describe(client, key).await.key_state().expect("key state").clone()
}

/// Waits until `node`'s applied state satisfies `pred` (followers apply asynchronously).
async fn wait_state(
    c: &Cluster,
    region: &str,
    node: u64,
    what: &str,
    pred: impl Fn(&keyraft_core::RegionState) -> bool,
) {
    for _ in 0..200 {
        if c.node(region, node).region_node.state().read(&pred) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("node {node} of {region} never applied: {what}");
}

/// The key ids of `region` once all three nodes have applied the same ones.
async fn settled_keys(c: &Cluster, region: &str) -> BTreeSet<String> {
    let keys = |n: u64| -> BTreeSet<String> {
        c.node(region, n).region_node.state().read(|s| s.keys.keys().map(|k| k.to_string()).collect())
    };
    for _ in 0..200 {
        let k1 = keys(1);
        if k1 == keys(2) && k1 == keys(3) {
            return k1;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the nodes of {region} do not agree on the keys");
}

fn key_id(s: &str) -> keyraft_core::KeyId {
    keyraft_core::KeyId::parse(s).expect("key id")
}

// ---------------------------------------------------------------------------------------------
// Key management
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_management_through_the_sdk() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    metadata_and_references(&c).await;
    list_keys_pagination(&c).await;
    alias_lifecycle(&c).await;
    tags(&c).await;
    key_policies(&c).await;
    rotation(&c).await;
    deletion_and_description(&c).await;
    c.shutdown().await;
}

async fn metadata_and_references(c: &Cluster) {
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let before = now_secs();
    let md = create_key(&n1, "first key").await;
    let after = now_secs();
    let id = md.key_id().to_owned();
    assert!(is_uuid(&id), "{id} is not a lowercase UUID");
    assert_eq!(md.arn(), Some(arn(R, &id).as_str()));
    assert_eq!(md.aws_account_id(), Some(ACCOUNT));
    let created = md.creation_date().expect("CreationDate").secs();
    assert!((before - 2..=after + 2).contains(&created), "CreationDate {created} not in [{before}, {after}]");
    assert!(md.enabled());
    assert_eq!(md.key_state(), Some(&KeyState::Enabled));
    assert_eq!(md.description(), Some("first key"));
    assert_eq!(md.key_manager(), Some(&KeyManagerType::Customer));
    assert_eq!(md.origin(), Some(&OriginType::AwsKms));
    assert_eq!(md.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(md.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(md.encryption_algorithms(), &[EncryptionAlgorithmSpec::SymmetricDefault]);
    assert_eq!(md.multi_region(), Some(false));
    assert_eq!(md.deletion_date(), None);
    assert_eq!(md.pending_deletion_window_in_days(), None);

    // Described through the other nodes, by all four kinds of reference: the same metadata.
    n1.create_alias().alias_name("alias/first").target_key_id(&id).send().await.expect("create alias");
    for (client, reference) in
        [(&n2, id.clone()), (&n3, arn(R, &id)), (&n2, "alias/first".to_owned()), (&n3, alias_arn(R, "alias/first"))]
    {
        assert_eq!(describe(client, &reference).await, md, "DescribeKey {reference}");
    }
    wait_state(c, R, 3, "the new key", |s| s.keys.contains_key(&key_id(&id))).await;

    // References to nothing.
    for missing in [
        "1234abcd-12ab-34cd-56ef-1234567890ab".to_owned(),
        arn(R, "1234abcd-12ab-34cd-56ef-1234567890ab"),
        "alias/none".to_owned(),
        alias_arn(R, "alias/none"),
        "not-a-key-id".to_owned(),
    ] {
        let err = n2.describe_key().key_id(&missing).send().await.expect_err("describe missing").into_service_error();
        assert!(matches!(err, DescribeKeyError::NotFoundException(_)), "DescribeKey {missing}: {err:?}");
    }
    assert_code(n1.describe_key().key_id("").send().await, "ValidationException", "empty KeyId");
    assert_code(n1.describe_key().send().await, "ValidationException", "no KeyId");

    // A multi-region key gets an `mrk-` id.
    let out = n1.create_key().multi_region(true).send().await.expect("create MRK");
    let mrk = out.key_metadata().expect("metadata");
    let hex = mrk.key_id().strip_prefix("mrk-").expect("mrk- prefix");
    assert!(
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{}",
        mrk.key_id()
    );
    assert_eq!(mrk.multi_region(), Some(true));
    assert_eq!(mrk.arn(), Some(arn(R, mrk.key_id()).as_str()));
    assert_eq!(describe(&n3, mrk.key_id()).await.multi_region(), Some(true));

    // A key usage that does not fit the key spec.
    assert_code(
        n1.create_key().key_usage(KeyUsageType::SignVerify).send().await,
        "ValidationException",
        "SIGN_VERIFY with SYMMETRIC_DEFAULT",
    );
}

async fn list_keys_pagination(c: &Cluster) {
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    for i in 0..5 {
        create_key(&n1, &format!("listed {i}")).await;
    }
    // Let every node apply them, then compare pages with the applied state.
    let want = settled_keys(c, R).await;
    assert!(want.len() >= 7, "{want:?}");

    let clients = [&n1, &n2, &n3];
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        // Each page from another node: markers work on every node of the region.
        let out = clients[pages % 3].list_keys().limit(2).set_marker(marker.clone()).send().await.expect("list keys");
        pages += 1;
        assert!(out.keys().len() <= 2, "page of {}", out.keys().len());
        for k in out.keys() {
            let id = k.key_id().expect("KeyId");
            assert_eq!(k.key_arn(), Some(arn(R, id).as_str()));
            seen.push(id.to_owned());
        }
        if out.truncated() {
            assert_eq!(out.keys().len(), 2);
            marker = Some(out.next_marker().expect("NextMarker on a truncated page").to_owned());
        } else {
            assert_eq!(out.next_marker(), None, "NextMarker on the last page");
            break;
        }
        assert!(pages < 100, "pagination does not end");
    }
    assert!(pages > 2, "only {pages} pages");
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a key listed twice: {seen:?}");
    assert_eq!(unique, want);

    let all = n2.list_keys().limit(1000).send().await.expect("list all");
    assert!(!all.truncated());
    assert_eq!(all.keys().len(), want.len());
    let default_limit = n2.list_keys().send().await.expect("list default");
    assert_eq!(default_limit.keys().len(), want.len());

    assert_code(n1.list_keys().limit(0).send().await, "ValidationException", "Limit 0");
    assert_code(n1.list_keys().limit(1001).send().await, "ValidationException", "Limit 1001");
    assert_code(n1.list_keys().marker("garbage").send().await, "InvalidMarkerException", "bad marker");
}

async fn alias_lifecycle(c: &Cluster) {
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let a = create_key(&n1, "alias target a").await.key_id().to_owned();
    let b = create_key(&n1, "alias target b").await.key_id().to_owned();
    let name = "alias/app/main-key_1";

    let before = now_secs();
    n1.create_alias().alias_name(name).target_key_id(&a).send().await.expect("create alias");
    assert_eq!(describe(&n2, name).await.key_id(), a);
    assert_eq!(describe(&n3, &alias_arn(R, name)).await.key_id(), a);

    // The name is taken, whichever key it would point at.
    for target in [&a, &b] {
        let err = n2
            .create_alias()
            .alias_name(name)
            .target_key_id(target)
            .send()
            .await
            .expect_err("duplicate alias")
            .into_service_error();
        assert!(matches!(err, CreateAliasError::AlreadyExistsException(_)), "{err:?}");
    }
    let err = n1
        .create_alias()
        .alias_name("alias/aws/mine")
        .target_key_id(&a)
        .send()
        .await
        .expect_err("reserved alias")
        .into_service_error();
    assert!(matches!(err, CreateAliasError::InvalidAliasNameException(_)), "{err:?}");
    assert_code(
        n1.create_alias().alias_name("alias/has space").target_key_id(&a).send().await,
        "ValidationException",
        "alias with a space",
    );
    assert_code(
        n1.create_alias().alias_name("alias/orphan").target_key_id("1234abcd-12ab-34cd-56ef-1234567890ab").send().await,
        "NotFoundException",
        "alias for a missing key",
    );
    // The key ARN works as a target too; a second alias for the same key.
    n3.create_alias().alias_name("alias/second").target_key_id(arn(R, &a)).send().await.expect("alias by ARN");

    let listed = n3.list_aliases().key_id(&a).send().await.expect("list aliases of a");
    let names: Vec<&str> = listed.aliases().iter().filter_map(|e| e.alias_name()).collect();
    assert_eq!(names, [name, "alias/second"]);
    let entry = &listed.aliases()[0];
    assert_eq!(entry.alias_arn(), Some(alias_arn(R, name).as_str()));
    assert_eq!(entry.target_key_id(), Some(a.as_str()));
    let created = entry.creation_date().expect("CreationDate").secs();
    assert!(created >= before - 2 && created <= now_secs() + 2);
    assert!(!listed.truncated());
    assert!(n2.list_aliases().key_id(&b).send().await.expect("list b").aliases().is_empty());
    let all = n2.list_aliases().send().await.expect("list all aliases");
    let all_names: Vec<&str> = all.aliases().iter().filter_map(|e| e.alias_name()).collect();
    assert!(all_names.contains(&name) && all_names.contains(&"alias/second"), "{all_names:?}");
    // Paginated by one.
    let first = n1.list_aliases().limit(1).send().await.expect("page 1");
    assert_eq!(first.aliases().len(), 1);
    assert!(first.truncated());
    let second = n2.list_aliases().limit(1).marker(first.next_marker().expect("marker")).send().await.expect("page 2");
    assert_eq!(second.aliases().len(), 1);
    assert_ne!(first.aliases()[0].alias_name(), second.aliases()[0].alias_name());
    assert_code(
        n1.list_aliases().key_id("1234abcd-12ab-34cd-56ef-1234567890ab").send().await,
        "NotFoundException",
        "ListAliases of a missing key",
    );

    // UpdateAlias moves it to b.
    n2.update_alias().alias_name(name).target_key_id(&b).send().await.expect("update alias");
    assert_eq!(describe(&n3, name).await.key_id(), b);
    let of_a = n1.list_aliases().key_id(&a).send().await.expect("list a");
    assert_eq!(of_a.aliases().iter().filter_map(|e| e.alias_name()).collect::<Vec<_>>(), ["alias/second"]);
    let of_b = n1.list_aliases().key_id(arn(R, &b)).send().await.expect("list b by ARN");
    let moved = &of_b.aliases()[0];
    assert_eq!(moved.alias_name(), Some(name));
    assert_eq!(moved.target_key_id(), Some(b.as_str()));
    assert!(
        moved.last_updated_date().expect("LastUpdatedDate").secs()
            >= moved.creation_date().expect("CreationDate").secs()
    );
    assert_code(
        n1.update_alias().alias_name("alias/never-created").target_key_id(&b).send().await,
        "NotFoundException",
        "UpdateAlias of a missing alias",
    );
    assert_code(
        n1.update_alias().alias_name(name).target_key_id("1234abcd-12ab-34cd-56ef-1234567890ab").send().await,
        "NotFoundException",
        "UpdateAlias to a missing key",
    );
    assert_eq!(describe(&n2, name).await.key_id(), b, "a failed UpdateAlias changed the alias");

    // DeleteAlias: then it is gone everywhere.
    n3.delete_alias().alias_name(name).send().await.expect("delete alias");
    for client in [&n1, &n2, &n3] {
        let err = client.describe_key().key_id(name).send().await.expect_err("deleted alias").into_service_error();
        assert!(matches!(err, DescribeKeyError::NotFoundException(_)), "{err:?}");
    }
    assert_code(n1.delete_alias().alias_name(name).send().await, "NotFoundException", "DeleteAlias twice");
    assert!(n2.list_aliases().key_id(&b).send().await.expect("list b").aliases().is_empty());
    let alias = keyraft_core::AliasName::parse(name).expect("alias name");
    for node in 1..=3 {
        wait_state(c, R, node, "alias deleted", |s| !s.aliases.contains_key(&alias)).await;
    }
    // The name can be used again.
    n1.create_alias().alias_name(name).target_key_id(&a).send().await.expect("re-create alias");
    assert_eq!(describe(&n2, name).await.key_id(), a);
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())).collect()
}

fn strs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn tags(c: &Cluster) {
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let out = n1.create_key().tags(tag("team", "kms")).tags(tag("env", "dev")).send().await.expect("create tagged key");
    let id = out.key_metadata().expect("metadata").key_id().to_owned();
    let listed = n2.list_resource_tags().key_id(&id).send().await.expect("list tags");
    assert_eq!(tag_map(listed.tags()), strs(&[("env", "dev"), ("team", "kms")]));
    assert!(!listed.truncated());

    n1.tag_resource().key_id(&id).tags(tag("env", "prod")).tags(tag("owner", "me")).send().await.expect("tag");
    let listed = n3.list_resource_tags().key_id(arn(R, &id)).send().await.expect("list tags");
    assert_eq!(tag_map(listed.tags()), strs(&[("env", "prod"), ("owner", "me"), ("team", "kms")]));

    n3.untag_resource().key_id(&id).tag_keys("team").tag_keys("not-there").send().await.expect("untag");
    let expected = strs(&[("env", "prod"), ("owner", "me")]);
    assert_eq!(tag_map(n1.list_resource_tags().key_id(&id).send().await.expect("list").tags()), expected);

    // Paginated by one.
    let first = n2.list_resource_tags().key_id(&id).limit(1).send().await.expect("page 1");
    assert_eq!(first.tags().len(), 1);
    assert!(first.truncated());
    let second = n1
        .list_resource_tags()
        .key_id(&id)
        .limit(1)
        .marker(first.next_marker().expect("marker"))
        .send()
        .await
        .expect("page 2");
    assert_eq!(second.tags().len(), 1);
    assert!(!second.truncated());

    // `aws:` is reserved, on TagResource and on CreateKey; nothing changes.
    let err = n2
        .tag_resource()
        .key_id(&id)
        .tags(tag("aws:owner", "x"))
        .send()
        .await
        .expect_err("aws: tag")
        .into_service_error();
    assert!(matches!(err, TagResourceError::TagException(_)), "{err:?}");
    assert_code(n1.tag_resource().key_id(&id).tags(tag("", "x")).send().await, "ValidationException", "empty tag key");
    assert_code(
        n1.tag_resource().key_id(&id).tags(tag(&"k".repeat(129), "x")).send().await,
        "ValidationException",
        "129-character tag key",
    );
    assert_code(
        n1.tag_resource().key_id(&id).tags(tag("k", &"v".repeat(257))).send().await,
        "ValidationException",
        "257-character tag value",
    );
    assert_eq!(tag_map(n3.list_resource_tags().key_id(&id).send().await.expect("list").tags()), expected);

    let keys_before = settled_keys(c, R).await;
    let err = n1
        .create_key()
        .tags(tag("ok", "1"))
        .tags(tag("aws:cloudformation:stack-name", "x"))
        .send()
        .await
        .expect_err("aws: tag on CreateKey")
        .into_service_error();
    assert!(matches!(err, CreateKeyError::TagException(_)), "{err:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(settled_keys(c, R).await, keys_before, "a refused CreateKey made a key");

    // 50 tags per key.
    let mut many = n1.tag_resource().key_id(&id);
    for i in 0..49 {
        many = many.tags(tag(&format!("t{i}"), "v"));
    }
    assert_code(many.send().await, "LimitExceededException", "51 tags");
    assert_eq!(tag_map(n2.list_resource_tags().key_id(&id).send().await.expect("list").tags()), expected);

    assert_code(
        n1.tag_resource().key_id("1234abcd-12ab-34cd-56ef-1234567890ab").tags(tag("a", "b")).send().await,
        "NotFoundException",
        "tag a missing key",
    );
    assert_code(
        n1.list_resource_tags().key_id("1234abcd-12ab-34cd-56ef-1234567890ab").send().await,
        "NotFoundException",
        "tags of a missing key",
    );
}

async fn key_policies(c: &Cluster) {
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let id = create_key(&n1, "policy").await.key_id().to_owned();

    let got = n2.get_key_policy().key_id(&id).policy_name("default").send().await.expect("get policy");
    assert_eq!(got.policy_name(), Some("default"));
    let default_policy = got.policy().expect("Policy").to_owned();
    assert!(default_policy.contains(&format!("arn:aws:iam::{ACCOUNT}:root")), "{default_policy}");
    let doc: serde_json::Value = serde_json::from_str(&default_policy).expect("default policy is JSON");
    assert!(doc["Statement"].is_array(), "{doc}");
    // PolicyName is optional and means `default`.
    let unnamed = n3.get_key_policy().key_id(arn(R, &id)).send().await.expect("get policy without name");
    assert_eq!(unnamed.policy(), Some(default_policy.as_str()));
    let names = n3.list_key_policies().key_id(&id).send().await.expect("list policies");
    assert_eq!(names.policy_names(), ["default".to_owned()]);
    assert!(!names.truncated());

    let policy = format!(
        r#"{{"Version":"2012-10-17","Id":"custom","Statement":[{{"Sid":"root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    n1.put_key_policy().key_id(&id).policy_name("default").policy(&policy).send().await.expect("put policy");
    let got = n3.get_key_policy().key_id(&id).policy_name("default").send().await.expect("get policy");
    assert_eq!(got.policy(), Some(policy.as_str()), "the policy did not round-trip");

    for bad in ["not json", r#"{"Version":"2012-10-17"}"#, "[1, 2]"] {
        let err = n2
            .put_key_policy()
            .key_id(&id)
            .policy(bad)
            .send()
            .await
            .expect_err("malformed policy")
            .into_service_error();
        assert!(matches!(err, PutKeyPolicyError::MalformedPolicyDocumentException(_)), "{bad}: {err:?}");
    }
    let err = n1
        .get_key_policy()
        .key_id(&id)
        .policy_name("other")
        .send()
        .await
        .expect_err("other policy")
        .into_service_error();
    assert!(matches!(err, GetKeyPolicyError::NotFoundException(_)), "{err:?}");
    assert_code(
        n1.put_key_policy().key_id(&id).policy_name("other").policy(&policy).send().await,
        "NotFoundException",
        "PutKeyPolicy with another name",
    );
    assert_code(
        n1.put_key_policy()
            .key_id(&id)
            .policy(format!("{{\"Statement\":[],\"x\":\"{}\"}}", "a".repeat(32768)))
            .send()
            .await,
        "ValidationException",
        "policy over 32768 characters",
    );
    assert_eq!(
        n2.get_key_policy().key_id(&id).send().await.expect("get").policy(),
        Some(policy.as_str()),
        "a refused PutKeyPolicy changed the policy"
    );

    // CreateKey with a policy; with a malformed one nothing is created.
    let out = n1.create_key().policy(&policy).send().await.expect("create with policy");
    let with_policy = out.key_metadata().expect("metadata").key_id().to_owned();
    assert_eq!(n2.get_key_policy().key_id(&with_policy).send().await.expect("get").policy(), Some(policy.as_str()));
    let keys_before = settled_keys(c, R).await;
    let err = n1.create_key().policy("{").send().await.expect_err("malformed policy").into_service_error();
    assert!(matches!(err, CreateKeyError::MalformedPolicyDocumentException(_)), "{err:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(settled_keys(c, R).await, keys_before, "a refused CreateKey made a key");
}

async fn rotation(c: &Cluster) {
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let md = create_key(&n1, "rotation").await;
    let id = md.key_id().to_owned();
    let created = md.creation_date().expect("CreationDate").secs();

    let st = n2.get_key_rotation_status().key_id(&id).send().await.expect("status");
    assert!(!st.key_rotation_enabled());
    assert_eq!(st.rotation_period_in_days(), None);
    assert_eq!(st.next_rotation_date(), None);

    n1.enable_key_rotation().key_id(&id).send().await.expect("enable rotation");
    let st = n3.get_key_rotation_status().key_id(arn(R, &id)).send().await.expect("status");
    assert!(st.key_rotation_enabled());
    assert_eq!(st.rotation_period_in_days(), Some(365));
    let next = st.next_rotation_date().expect("NextRotationDate").secs();
    assert!((next - (created + 365 * DAY)).abs() <= 2, "NextRotationDate {next}, created {created}");

    for days in [90, 2560] {
        n2.enable_key_rotation().key_id(&id).rotation_period_in_days(days).send().await.expect("enable with period");
        let st = n1.get_key_rotation_status().key_id(&id).send().await.expect("status");
        assert_eq!(st.rotation_period_in_days(), Some(days));
    }
    for days in [89, 2561, 0, -1] {
        assert_code(
            n1.enable_key_rotation().key_id(&id).rotation_period_in_days(days).send().await,
            "ValidationException",
            &format!("RotationPeriodInDays {days}"),
        );
    }
    assert_eq!(
        n3.get_key_rotation_status().key_id(&id).send().await.expect("status").rotation_period_in_days(),
        Some(2560)
    );

    n3.disable_key_rotation().key_id(&id).send().await.expect("disable rotation");
    let st = n1.get_key_rotation_status().key_id(&id).send().await.expect("status");
    assert!(!st.key_rotation_enabled());
    assert_eq!(st.rotation_period_in_days(), None);

    for missing in ["1234abcd-12ab-34cd-56ef-1234567890ab"] {
        assert_code(n1.enable_key_rotation().key_id(missing).send().await, "NotFoundException", "rotation of nothing");
        assert_code(
            n1.get_key_rotation_status().key_id(missing).send().await,
            "NotFoundException",
            "status of nothing",
        );
    }
}

async fn deletion_and_description(c: &Cluster) {
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let id = create_key(&n1, "to delete").await.key_id().to_owned();

    // Out-of-range windows change nothing.
    for days in [6, 31, 0] {
        assert_code(
            n1.schedule_key_deletion().key_id(&id).pending_window_in_days(days).send().await,
            "ValidationException",
            &format!("PendingWindowInDays {days}"),
        );
    }
    assert_eq!(key_state(&n2, &id).await, KeyState::Enabled);

    let before = now_secs();
    let out = n1.schedule_key_deletion().key_id(&id).send().await.expect("schedule deletion");
    assert_eq!(out.key_id(), Some(arn(R, &id).as_str()), "ScheduleKeyDeletion returns the key ARN");
    assert_eq!(out.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(out.pending_window_in_days(), Some(30));
    let deletion = out.deletion_date().expect("DeletionDate").secs();
    assert!((deletion - (before + 30 * DAY)).abs() <= 5, "DeletionDate {deletion}");

    let md = describe(&n2, &id).await;
    assert_eq!(md.key_state(), Some(&KeyState::PendingDeletion));
    assert!(!md.enabled());
    assert_eq!(md.deletion_date().map(|d| d.secs()), Some(deletion));
    assert_eq!(md.pending_deletion_window_in_days(), Some(30));
    wait_state(c, R, 3, "pending deletion", |s| {
        s.keys.get(&key_id(&id)).is_some_and(|k| k.state == keyraft_core::KeyState::PendingDeletion)
    })
    .await;

    let out = n3.cancel_key_deletion().key_id(arn(R, &id)).send().await.expect("cancel deletion");
    assert_eq!(out.key_id(), Some(arn(R, &id).as_str()), "CancelKeyDeletion returns the key ARN");
    let md = describe(&n1, &id).await;
    assert_eq!(md.key_state(), Some(&KeyState::Disabled));
    assert!(!md.enabled());
    assert_eq!(md.deletion_date(), None);
    assert_eq!(md.pending_deletion_window_in_days(), None);

    let out = n2.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.expect("7 days");
    assert_eq!(out.pending_window_in_days(), Some(7));
    assert_eq!(describe(&n3, &id).await.pending_deletion_window_in_days(), Some(7));
    n1.cancel_key_deletion().key_id(&id).send().await.expect("cancel");

    n1.update_key_description().key_id(&id).description("renamed").send().await.expect("update description");
    assert_eq!(describe(&n3, &id).await.description(), Some("renamed"));
    n2.update_key_description().key_id(arn(R, &id)).description("").send().await.expect("empty description");
    assert_eq!(describe(&n1, &id).await.description(), Some(""));
    assert_code(
        n1.update_key_description().key_id(&id).description("d".repeat(8193)).send().await,
        "ValidationException",
        "8193-character description",
    );
    assert_code(
        n1.update_key_description().key_id("1234abcd-12ab-34cd-56ef-1234567890ab").description("x").send().await,
        "NotFoundException",
        "describe a missing key",
    );

    n3.enable_key().key_id(&id).send().await.expect("enable");
    assert_eq!(key_state(&n1, &id).await, KeyState::Enabled);
    n1.disable_key().key_id(arn(R, &id)).send().await.expect("disable");
    assert_eq!(key_state(&n2, &id).await, KeyState::Disabled);
    assert_code(
        n1.disable_key().key_id("1234abcd-12ab-34cd-56ef-1234567890ab").send().await,
        "NotFoundException",
        "disable a missing key",
    );
}

// ---------------------------------------------------------------------------------------------
// Cryptography
// ---------------------------------------------------------------------------------------------

fn context(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cryptography_through_the_sdk() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let a = create_key(&n1, "crypto a").await.key_id().to_owned();
    let b = create_key(&n1, "crypto b").await.key_id().to_owned();
    n1.create_alias().alias_name("alias/crypto-a").target_key_id(&a).send().await.expect("alias");

    // Encryption context: bound, order-insensitive, and any difference refuses.
    let pairs = [("tenant", "t-1"), ("purpose", "test"), ("a", "1"), ("b", "2"), ("c", "3"), ("Z", "z"), ("ü", "ö")];
    let ctx = context(&pairs);
    let plaintext = b"the quick brown fox".to_vec();
    let enc = n1
        .encrypt()
        .key_id(&a)
        .plaintext(Blob::new(plaintext.clone()))
        .set_encryption_context(Some(ctx.clone()))
        .send()
        .await
        .expect("encrypt");
    assert_eq!(enc.key_id(), Some(arn(R, &a).as_str()), "Encrypt returns the key ARN");
    assert_eq!(enc.encryption_algorithm(), Some(&EncryptionAlgorithmSpec::SymmetricDefault));
    let ct = enc.ciphertext_blob().expect("CiphertextBlob").clone();
    assert!(
        !ct.as_ref().windows(plaintext.len()).any(|w| w == plaintext.as_slice()),
        "plaintext visible in ciphertext"
    );

    let mut reversed: Vec<(&str, &str)> = pairs.to_vec();
    reversed.reverse();
    let dec = n2
        .decrypt()
        .ciphertext_blob(ct.clone())
        .set_encryption_context(Some(context(&reversed)))
        .send()
        .await
        .expect("decrypt without KeyId");
    assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(plaintext.as_slice()));
    assert_eq!(dec.key_id(), Some(arn(R, &a).as_str()));
    assert_eq!(dec.encryption_algorithm(), Some(&EncryptionAlgorithmSpec::SymmetricDefault));
    for key in [a.clone(), arn(R, &a), "alias/crypto-a".to_owned(), alias_arn(R, "alias/crypto-a")] {
        let dec = n3
            .decrypt()
            .key_id(&key)
            .ciphertext_blob(ct.clone())
            .set_encryption_context(Some(ctx.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("decrypt with KeyId {key}: {e:?}"));
        assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(plaintext.as_slice()));
    }
    for key in [b.clone(), arn(R, &b)] {
        let err = n2
            .decrypt()
            .key_id(&key)
            .ciphertext_blob(ct.clone())
            .set_encryption_context(Some(ctx.clone()))
            .send()
            .await
            .expect_err("wrong KeyId")
            .into_service_error();
        assert!(matches!(err, DecryptError::IncorrectKeyException(_)), "{key}: {err:?}");
    }

    let mut wrong_contexts: Vec<Option<HashMap<String, String>>> = vec![None, Some(HashMap::new())];
    let mut missing_one = ctx.clone();
    missing_one.remove("a");
    wrong_contexts.push(Some(missing_one));
    let mut extra = ctx.clone();
    extra.insert("extra".into(), "1".into());
    wrong_contexts.push(Some(extra));
    let mut changed = ctx.clone();
    changed.insert("tenant".into(), "t-2".into());
    wrong_contexts.push(Some(changed));
    let mut recased = ctx.clone();
    recased.remove("tenant");
    recased.insert("Tenant".into(), "t-1".into());
    wrong_contexts.push(Some(recased));
    for wrong in wrong_contexts {
        let err = n1
            .decrypt()
            .ciphertext_blob(ct.clone())
            .set_encryption_context(wrong.clone())
            .send()
            .await
            .expect_err("wrong context")
            .into_service_error();
        assert!(matches!(err, DecryptError::InvalidCiphertextException(_)), "{wrong:?}: {err:?}");
    }
    // Without a context at encryption, a context at decryption is a difference too.
    let plain_ct = n1.encrypt().key_id("alias/crypto-a").plaintext(Blob::new("x")).send().await.expect("encrypt");
    let plain_ct = plain_ct.ciphertext_blob().expect("blob").clone();
    assert_eq!(
        n2.decrypt().ciphertext_blob(plain_ct.clone()).send().await.expect("decrypt").plaintext().map(|p| p.as_ref()),
        Some(&b"x"[..])
    );
    assert_code(
        n2.decrypt().ciphertext_blob(plain_ct).encryption_context("k", "v").send().await,
        "InvalidCiphertextException",
        "context added at decryption",
    );

    // Tampered or foreign ciphertexts.
    let bytes = ct.as_ref().to_vec();
    let mut tampered: Vec<Vec<u8>> = Vec::new();
    for pos in [0, 1, 2, 5, 10, bytes.len() / 2, bytes.len() - 17, bytes.len() - 1] {
        let mut t = bytes.clone();
        t[pos] ^= 0x01;
        tampered.push(t);
    }
    tampered.push(bytes[..bytes.len() - 1].to_vec());
    tampered.push(bytes[..bytes.len() / 2].to_vec());
    tampered.push([bytes.as_slice(), b"x"].concat());
    tampered.push(vec![0u8; 64]);
    tampered.push((0..200u8).collect());
    for t in tampered {
        let err = n3
            .decrypt()
            .ciphertext_blob(Blob::new(t.clone()))
            .set_encryption_context(Some(ctx.clone()))
            .send()
            .await
            .expect_err("tampered ciphertext")
            .into_service_error();
        assert!(matches!(err, DecryptError::InvalidCiphertextException(_)), "{t:?}: {err:?}");
    }
    assert_code(
        n1.decrypt().ciphertext_blob(Blob::new(vec![1u8; 6145])).send().await,
        "ValidationException",
        "6145-byte ciphertext",
    );
    assert_code(n1.decrypt().send().await, "ValidationException", "Decrypt without CiphertextBlob");

    // Plaintext limits.
    let max = vec![0xa5u8; 4096];
    let enc = n2.encrypt().key_id(&a).plaintext(Blob::new(max.clone())).send().await.expect("4096 bytes");
    let dec =
        n3.decrypt().ciphertext_blob(enc.ciphertext_blob().expect("blob").clone()).send().await.expect("decrypt 4096");
    assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(max.as_slice()));
    let err = n1.encrypt().key_id(&a).plaintext(Blob::new(vec![0u8; 4097])).send().await.expect_err("4097 bytes");
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    assert!(err.message().is_some_and(|m| m.contains("4096")), "{err:?}");
    assert_code(n1.encrypt().key_id(&a).plaintext(Blob::new(Vec::new())).send().await, "ValidationException", "empty");
    assert_code(n1.encrypt().key_id(&a).send().await, "ValidationException", "Encrypt without Plaintext");
    assert_code(n1.encrypt().plaintext(Blob::new("x")).send().await, "ValidationException", "Encrypt without KeyId");
    assert_code(
        n1.encrypt().key_id("alias/none").plaintext(Blob::new("x")).send().await,
        "NotFoundException",
        "Encrypt under a missing alias",
    );
    // Two encryptions of one plaintext differ (random IV).
    let e1 = n1.encrypt().key_id(&a).plaintext(Blob::new("same")).send().await.expect("e1");
    let e2 = n1.encrypt().key_id(&a).plaintext(Blob::new("same")).send().await.expect("e2");
    assert_ne!(e1.ciphertext_blob(), e2.ciphertext_blob());

    // DryRun: every check applies, and a request that would succeed is refused.
    let err = n1
        .encrypt()
        .key_id(&a)
        .plaintext(Blob::new("x"))
        .dry_run(true)
        .send()
        .await
        .expect_err("dry run")
        .into_service_error();
    assert!(matches!(err, EncryptError::DryRunOperationException(_)), "{err:?}");
    assert!(n1.encrypt().key_id(&a).plaintext(Blob::new("x")).dry_run(false).send().await.is_ok());
    let dry =
        n2.decrypt().ciphertext_blob(ct.clone()).set_encryption_context(Some(ctx.clone())).dry_run(true).send().await;
    assert_code(dry, "DryRunOperationException", "Decrypt DryRun");
    let dry = n2.decrypt().ciphertext_blob(ct.clone()).dry_run(true).send().await;
    assert_code(dry, "InvalidCiphertextException", "Decrypt DryRun with the wrong context");
    let dry = n3.generate_data_key().key_id(&a).key_spec(DataKeySpec::Aes256).dry_run(true).send().await;
    assert_code(dry, "DryRunOperationException", "GenerateDataKey DryRun");
    let dry = n3.generate_data_key_without_plaintext().key_id(&a).number_of_bytes(8).dry_run(true).send().await;
    assert_code(dry, "DryRunOperationException", "GenerateDataKeyWithoutPlaintext DryRun");
    let dry = n1
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .set_source_encryption_context(Some(ctx.clone()))
        .destination_key_id(&b)
        .dry_run(true)
        .send()
        .await;
    assert_code(dry, "DryRunOperationException", "ReEncrypt DryRun");
    let off = create_key(&n1, "disabled for dry run").await.key_id().to_owned();
    n1.disable_key().key_id(&off).send().await.expect("disable");
    let dry = n2.encrypt().key_id(&off).plaintext(Blob::new("x")).dry_run(true).send().await;
    assert_code(dry, "DisabledException", "DryRun on a disabled key");

    // ReEncrypt to b with a new context, then decrypt under b.
    let new_ctx = context(&[("stage", "2")]);
    let re = n3
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .set_source_encryption_context(Some(ctx.clone()))
        .destination_key_id(&b)
        .set_destination_encryption_context(Some(new_ctx.clone()))
        .send()
        .await
        .expect("re-encrypt");
    assert_eq!(re.source_key_id(), Some(arn(R, &a).as_str()));
    assert_eq!(re.key_id(), Some(arn(R, &b).as_str()));
    assert_eq!(re.source_encryption_algorithm(), Some(&EncryptionAlgorithmSpec::SymmetricDefault));
    assert_eq!(re.destination_encryption_algorithm(), Some(&EncryptionAlgorithmSpec::SymmetricDefault));
    let re_ct = re.ciphertext_blob().expect("blob").clone();
    assert_ne!(re_ct, ct);
    let dec = n1
        .decrypt()
        .ciphertext_blob(re_ct.clone())
        .set_encryption_context(Some(new_ctx.clone()))
        .send()
        .await
        .expect("decrypt re-encrypted");
    assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(plaintext.as_slice()));
    assert_eq!(dec.key_id(), Some(arn(R, &b).as_str()));
    assert_code(
        n1.decrypt().ciphertext_blob(re_ct.clone()).set_encryption_context(Some(ctx.clone())).send().await,
        "InvalidCiphertextException",
        "re-encrypted ciphertext with the old context",
    );
    assert_code(
        n1.decrypt().key_id(&a).ciphertext_blob(re_ct).set_encryption_context(Some(new_ctx.clone())).send().await,
        "IncorrectKeyException",
        "re-encrypted ciphertext with the old key",
    );
    let err = n2
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .set_source_encryption_context(Some(ctx.clone()))
        .source_key_id(&b)
        .destination_key_id(&b)
        .send()
        .await
        .expect_err("wrong SourceKeyId")
        .into_service_error();
    assert!(matches!(err, ReEncryptError::IncorrectKeyException(_)), "{err:?}");
    let err = n2
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .destination_key_id(&b)
        .send()
        .await
        .expect_err("missing source context")
        .into_service_error();
    assert!(matches!(err, ReEncryptError::InvalidCiphertextException(_)), "{err:?}");
    assert_code(
        n2.re_encrypt()
            .ciphertext_blob(ct.clone())
            .set_source_encryption_context(Some(ctx.clone()))
            .destination_key_id("alias/none")
            .send()
            .await,
        "NotFoundException",
        "ReEncrypt to a missing alias",
    );
    // To an alias, keeping the key: a fresh ciphertext of the same plaintext.
    let re = n2
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .set_source_encryption_context(Some(ctx.clone()))
        .source_key_id("alias/crypto-a")
        .destination_key_id("alias/crypto-a")
        .set_destination_encryption_context(Some(ctx.clone()))
        .send()
        .await
        .expect("re-encrypt to the same key");
    let dec = n3
        .decrypt()
        .ciphertext_blob(re.ciphertext_blob().expect("blob").clone())
        .set_encryption_context(Some(ctx.clone()))
        .send()
        .await
        .expect("decrypt");
    assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(plaintext.as_slice()));

    // GenerateDataKey: by KeySpec or by NumberOfBytes, the plaintext is what the blob decrypts to.
    let dk_ctx = context(&[("file", "f.bin")]);
    let mut seen_keys = BTreeSet::new();
    for (spec, bytes, want_len) in [
        (Some(DataKeySpec::Aes256), None, 32usize),
        (Some(DataKeySpec::Aes128), None, 16),
        (None, Some(1), 1),
        (None, Some(64), 64),
        (None, Some(1024), 1024),
    ] {
        let out = n1
            .generate_data_key()
            .key_id(&a)
            .set_key_spec(spec.clone())
            .set_number_of_bytes(bytes)
            .set_encryption_context(Some(dk_ctx.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKey {spec:?} {bytes:?}: {e:?}"));
        assert_eq!(out.key_id(), Some(arn(R, &a).as_str()));
        let pt = out.plaintext().expect("Plaintext").as_ref().to_vec();
        assert_eq!(pt.len(), want_len);
        if want_len >= 16 {
            assert!(seen_keys.insert(pt.clone()), "a data key repeated");
        }
        let dec = n2
            .decrypt()
            .ciphertext_blob(out.ciphertext_blob().expect("CiphertextBlob").clone())
            .set_encryption_context(Some(dk_ctx.clone()))
            .send()
            .await
            .expect("decrypt data key");
        assert_eq!(dec.plaintext().map(|p| p.as_ref().to_vec()), Some(pt));
        assert_eq!(dec.key_id(), Some(arn(R, &a).as_str()));
    }
    let again = n2.generate_data_key().key_id(&a).key_spec(DataKeySpec::Aes256).send().await.expect("data key");
    assert!(seen_keys.insert(again.plaintext().expect("Plaintext").as_ref().to_vec()), "a data key repeated");
    assert_code(
        n1.generate_data_key().key_id(&a).key_spec(DataKeySpec::Aes256).number_of_bytes(32).send().await,
        "ValidationException",
        "KeySpec and NumberOfBytes",
    );
    assert_code(
        n1.generate_data_key().key_id(&a).send().await,
        "ValidationException",
        "neither KeySpec nor NumberOfBytes",
    );
    for n in [0, 1025, -1] {
        assert_code(
            n1.generate_data_key().key_id(&a).number_of_bytes(n).send().await,
            "ValidationException",
            &format!("NumberOfBytes {n}"),
        );
    }
    assert_code(
        n1.generate_data_key().key_id(&a).key_spec(DataKeySpec::from("AES_512")).send().await,
        "ValidationException",
        "KeySpec AES_512",
    );

    // GenerateDataKeyWithoutPlaintext: only the blob, which decrypts to a key of the size asked.
    let out = n3
        .generate_data_key_without_plaintext()
        .key_id("alias/crypto-a")
        .key_spec(DataKeySpec::Aes256)
        .set_encryption_context(Some(dk_ctx.clone()))
        .send()
        .await
        .expect("data key without plaintext");
    assert_eq!(out.key_id(), Some(arn(R, &a).as_str()));
    let dec = n1
        .decrypt()
        .ciphertext_blob(out.ciphertext_blob().expect("blob").clone())
        .set_encryption_context(Some(dk_ctx.clone()))
        .send()
        .await
        .expect("decrypt");
    assert_eq!(dec.plaintext().map(|p| p.as_ref().len()), Some(32));
    let out = n3.generate_data_key_without_plaintext().key_id(&b).number_of_bytes(7).send().await.expect("7 bytes");
    let dec = n2.decrypt().ciphertext_blob(out.ciphertext_blob().expect("blob").clone()).send().await.expect("decrypt");
    assert_eq!(dec.plaintext().map(|p| p.as_ref().len()), Some(7));
    assert_code(
        n1.generate_data_key_without_plaintext().key_id(&a).send().await,
        "ValidationException",
        "neither KeySpec nor NumberOfBytes (without plaintext)",
    );

    // GenerateRandom.
    for n in [1, 32, 1024] {
        let out = n2.generate_random().number_of_bytes(n).send().await.expect("random");
        assert_eq!(out.plaintext().map(|p| p.as_ref().len()), Some(n as usize));
    }
    let r1 = n1.generate_random().number_of_bytes(32).send().await.expect("random");
    let r2 = n1.generate_random().number_of_bytes(32).send().await.expect("random");
    assert_ne!(r1.plaintext(), r2.plaintext());
    for n in [0, 1025, -5] {
        assert_code(
            n3.generate_random().number_of_bytes(n).send().await,
            "ValidationException",
            &format!("random {n}"),
        );
    }
    assert_code(n3.generate_random().send().await, "ValidationException", "GenerateRandom without NumberOfBytes");
    c.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The key-state matrix
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Encrypt,
    Decrypt,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    /// ReEncrypt with the key as the source.
    ReEncryptFrom,
    /// ReEncrypt with the key as the destination.
    ReEncryptTo,
    EnableKey,
    DisableKey,
    UpdateKeyDescription,
    TagResource,
    UntagResource,
    ListResourceTags,
    CreateAlias,
    PutKeyPolicy,
    GetKeyPolicy,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    DescribeKey,
    EnableKeyRotation,
    DisableKeyRotation,
    GetKeyRotationStatus,
}

/// For each operation: the outcome on an Enabled, a Disabled and a PendingDeletion key (AWS KMS
/// developer guide, "Key states of AWS KMS keys").
const MATRIX: &[(Op, [&str; 3])] = &[
    (Op::Encrypt, [OK, DISABLED, INVALID_STATE]),
    (Op::Decrypt, [OK, DISABLED, INVALID_STATE]),
    (Op::GenerateDataKey, [OK, DISABLED, INVALID_STATE]),
    (Op::GenerateDataKeyWithoutPlaintext, [OK, DISABLED, INVALID_STATE]),
    (Op::ReEncryptFrom, [OK, DISABLED, INVALID_STATE]),
    (Op::ReEncryptTo, [OK, DISABLED, INVALID_STATE]),
    (Op::EnableKey, [OK, OK, INVALID_STATE]),
    (Op::DisableKey, [OK, OK, INVALID_STATE]),
    (Op::UpdateKeyDescription, [OK, OK, INVALID_STATE]),
    (Op::TagResource, [OK, OK, INVALID_STATE]),
    (Op::UntagResource, [OK, OK, INVALID_STATE]),
    (Op::ListResourceTags, [OK, OK, OK]),
    (Op::CreateAlias, [OK, OK, INVALID_STATE]),
    (Op::PutKeyPolicy, [OK, OK, INVALID_STATE]),
    (Op::GetKeyPolicy, [OK, OK, OK]),
    (Op::ScheduleKeyDeletion, [OK, OK, INVALID_STATE]),
    (Op::CancelKeyDeletion, [INVALID_STATE, INVALID_STATE, OK]),
    (Op::DescribeKey, [OK, OK, OK]),
    (Op::EnableKeyRotation, [OK, DISABLED, INVALID_STATE]),
    (Op::DisableKeyRotation, [OK, DISABLED, INVALID_STATE]),
    (Op::GetKeyRotationStatus, [OK, OK, OK]),
];

const STATES: [KeyState; 3] = [KeyState::Enabled, KeyState::Disabled, KeyState::PendingDeletion];

/// The state a key is in after `op` succeeded on a key in `state`.
fn after(op: Op, state: &KeyState) -> KeyState {
    match op {
        Op::EnableKey => KeyState::Enabled,
        Op::DisableKey => KeyState::Disabled,
        Op::ScheduleKeyDeletion => KeyState::PendingDeletion,
        Op::CancelKeyDeletion => KeyState::Disabled,
        _ => state.clone(),
    }
}

struct Case {
    key: String,
    /// A ciphertext under `key`, made while it was enabled.
    ciphertext: Blob,
    /// An enabled key, the other end of ReEncrypt.
    other: String,
    alias: String,
}

async fn run(client: &Client, op: Op, k: &Case) -> String {
    let key = k.key.as_str();
    match op {
        Op::Encrypt => outcome(&client.encrypt().key_id(key).plaintext(Blob::new("m")).send().await),
        Op::Decrypt => outcome(&client.decrypt().ciphertext_blob(k.ciphertext.clone()).send().await),
        Op::GenerateDataKey => {
            outcome(&client.generate_data_key().key_id(key).key_spec(DataKeySpec::Aes256).send().await)
        }
        Op::GenerateDataKeyWithoutPlaintext => {
            outcome(&client.generate_data_key_without_plaintext().key_id(key).number_of_bytes(16).send().await)
        }
        Op::ReEncryptFrom => outcome(
            &client.re_encrypt().ciphertext_blob(k.ciphertext.clone()).destination_key_id(&k.other).send().await,
        ),
        Op::ReEncryptTo => {
            let ct = client.encrypt().key_id(&k.other).plaintext(Blob::new("m")).send().await.expect("encrypt");
            let ct = ct.ciphertext_blob().expect("blob").clone();
            outcome(&client.re_encrypt().ciphertext_blob(ct).destination_key_id(key).send().await)
        }
        Op::EnableKey => outcome(&client.enable_key().key_id(key).send().await),
        Op::DisableKey => outcome(&client.disable_key().key_id(key).send().await),
        Op::UpdateKeyDescription => {
            outcome(&client.update_key_description().key_id(key).description("new").send().await)
        }
        Op::TagResource => outcome(&client.tag_resource().key_id(key).tags(tag("k", "v")).send().await),
        Op::UntagResource => outcome(&client.untag_resource().key_id(key).tag_keys("k").send().await),
        Op::ListResourceTags => outcome(&client.list_resource_tags().key_id(key).send().await),
        Op::CreateAlias => outcome(&client.create_alias().alias_name(&k.alias).target_key_id(key).send().await),
        Op::PutKeyPolicy => outcome(
            &client
                .put_key_policy()
                .key_id(key)
                .policy_name("default")
                .policy(keyraft_policy::default_key_policy(ACCOUNT))
                .send()
                .await,
        ),
        Op::GetKeyPolicy => outcome(&client.get_key_policy().key_id(key).policy_name("default").send().await),
        Op::ScheduleKeyDeletion => {
            outcome(&client.schedule_key_deletion().key_id(key).pending_window_in_days(7).send().await)
        }
        Op::CancelKeyDeletion => outcome(&client.cancel_key_deletion().key_id(key).send().await),
        Op::DescribeKey => outcome(&client.describe_key().key_id(key).send().await),
        Op::EnableKeyRotation => outcome(&client.enable_key_rotation().key_id(key).send().await),
        Op::DisableKeyRotation => outcome(&client.disable_key_rotation().key_id(key).send().await),
        Op::GetKeyRotationStatus => outcome(&client.get_key_rotation_status().key_id(key).send().await),
    }
}

/// A fresh key in `state`, with a ciphertext made while it was enabled.
async fn key_in_state(client: &Client, state: &KeyState, other: &str, alias: String) -> Case {
    let key = create_key(client, "matrix").await.key_id().to_owned();
    let ct = client.encrypt().key_id(&key).plaintext(Blob::new("m")).send().await.expect("encrypt");
    let ciphertext = ct.ciphertext_blob().expect("blob").clone();
    match state {
        KeyState::Enabled => {}
        KeyState::Disabled => {
            client.disable_key().key_id(&key).send().await.expect("disable");
        }
        KeyState::PendingDeletion => {
            client.schedule_key_deletion().key_id(&key).pending_window_in_days(7).send().await.expect("schedule");
        }
        other => panic!("no setup for {other:?}"),
    }
    Case { key, ciphertext, other: other.to_owned(), alias }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_state_matrix() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let other = create_key(&n1, "matrix partner").await.key_id().to_owned();

    // Every case gets its own key; the three states run side by side.
    let mut tasks = tokio::task::JoinSet::new();
    for (si, state) in STATES.iter().enumerate() {
        let (writer, checker) = match si {
            0 => (n1.clone(), n2.clone()),
            1 => (n2.clone(), n3.clone()),
            _ => (n3.clone(), n1.clone()),
        };
        let (state, other) = (state.clone(), other.clone());
        tasks.spawn(async move {
            let mut failures = Vec::new();
            for (i, (op, want)) in MATRIX.iter().enumerate() {
                let case = key_in_state(&writer, &state, &other, format!("alias/matrix-{si}-{i}")).await;
                let got = run(&writer, *op, &case).await;
                if got != want[si] {
                    failures.push(format!("{op:?} on a {state:?} key: got {got}, want {}", want[si]));
                }
                // The state afterwards, read through another node.
                let want_state = if got == OK { after(*op, &state) } else { state.clone() };
                let now = key_state(&checker, &case.key).await;
                if now != want_state {
                    failures.push(format!("{op:?} on a {state:?} key left it {now:?}, want {want_state:?}"));
                }
                // CreateAlias refused: no alias exists.
                if *op == Op::CreateAlias && got != OK {
                    let r = checker.describe_key().key_id(&case.alias).send().await;
                    if outcome(&r) != "NotFoundException" {
                        failures.push(format!("a refused CreateAlias on a {state:?} key created it: {r:?}"));
                    }
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        failures.extend(r.expect("matrix task"));
    }
    assert!(failures.is_empty(), "key-state matrix mismatches:\n{}", failures.join("\n"));
    c.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Region isolation and operations keyraft does not implement
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn region_isolation_and_unsupported_operations() {
    let c = Cluster::ready(&[R, EU]).await.expect("cluster");
    let us = c.client(R, 1);
    let id = create_key(&us, "us only").await.key_id().to_owned();
    us.create_alias().alias_name("alias/us-only").target_key_id(&id).send().await.expect("alias");
    let mrk = us.create_key().multi_region(true).send().await.expect("mrk");
    let mrk = mrk.key_metadata().expect("metadata").key_id().to_owned();
    let enc = us.encrypt().key_id(&id).plaintext(Blob::new("secret")).send().await.expect("encrypt");
    let ct = enc.ciphertext_blob().expect("blob").clone();
    let dk = us.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.expect("data key");
    let dk_ct = dk.ciphertext_blob().expect("blob").clone();

    let eu_key = create_key(&c.client(EU, 1), "eu only").await;
    assert_eq!(eu_key.arn(), Some(arn(EU, eu_key.key_id()).as_str()));
    assert_ne!(eu_key.key_id(), id);

    for node in 1..=3 {
        let eu = c.client(EU, node);
        for reference in
            [id.clone(), arn(R, &id), "alias/us-only".to_owned(), alias_arn(R, "alias/us-only"), mrk.clone()]
        {
            let err = eu.describe_key().key_id(&reference).send().await.expect_err("foreign key").into_service_error();
            assert!(matches!(err, DescribeKeyError::NotFoundException(_)), "eu node {node}, {reference}: {err:?}");
        }
        // The eu-west-1 ARN of a us-east-1 key id names nothing either.
        assert_code(eu.describe_key().key_id(arn(EU, &id)).send().await, "NotFoundException", "EU ARN of a US key");
        assert_code(
            eu.encrypt().key_id(arn(R, &id)).plaintext(Blob::new("x")).send().await,
            "NotFoundException",
            "encrypt under a foreign key",
        );
        for blob in [&ct, &dk_ct] {
            let err = eu.decrypt().ciphertext_blob(blob.clone()).send().await.expect_err("foreign ciphertext");
            assert!(
                matches!(err.into_service_error(), DecryptError::InvalidCiphertextException(_)),
                "a us-east-1 ciphertext on eu node {node}"
            );
        }
        assert_code(
            eu.re_encrypt().ciphertext_blob(ct.clone()).destination_key_id(eu_key.key_id()).send().await,
            "InvalidCiphertextException",
            "re-encrypt a foreign ciphertext",
        );
        let listed = eu.list_keys().send().await.expect("list eu");
        let ids: Vec<&str> = listed.keys().iter().filter_map(|k| k.key_id()).collect();
        assert_eq!(ids, [eu_key.key_id()], "eu-west-1 lists other regions' keys");
        assert!(eu.list_aliases().send().await.expect("aliases").aliases().is_empty());
        // Nothing of us-east-1 in eu-west-1's replicated state.
        let (has_key, has_mrk, aliases) = c
            .node(EU, node)
            .region_node
            .state()
            .read(|s| (s.keys.contains_key(&key_id(&id)), s.keys.contains_key(&key_id(&mrk)), s.aliases.len()));
        assert!(!has_key && !has_mrk && aliases == 0, "eu node {node} holds us-east-1 state");
    }
    // And the other way round.
    assert_code(us.describe_key().key_id(eu_key.key_id()).send().await, "NotFoundException", "EU key in US");
    assert_code(us.describe_key().key_id(eu_key.arn().expect("arn")).send().await, "NotFoundException", "EU ARN in US");
    // The us-east-1 ciphertext still decrypts at home.
    let dec = c.client(R, 2).decrypt().ciphertext_blob(ct).send().await.expect("decrypt at home");
    assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(&b"secret"[..]));
    // A client signing for us-east-1 cannot talk to eu-west-1's nodes.
    let misdirected =
        keyraft_testkit::sdk_client(&c.endpoint(EU, 1), R, &c.info.access_key_id, &c.info.secret_access_key);
    assert_code(misdirected.list_keys().send().await, "InvalidSignatureException", "signed for another region");

    // Operations of the KMS API that keyraft does not implement.
    let sign = us
        .sign()
        .key_id(&id)
        .message(Blob::new("m"))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await;
    // Sign exists now (asymmetric.rs); a symmetric key cannot sign, as in AWS.
    assert_code(sign, "InvalidKeyUsageException", "Sign with a symmetric key");
    let grant = us
        .create_grant()
        .key_id(&id)
        .grantee_principal(format!("arn:aws:iam::{ACCOUNT}:role/app"))
        .operations(GrantOperation::Decrypt)
        .send()
        .await;
    // Grants exist now (access.rs).
    assert_code(grant, OK, "CreateGrant");
    assert_code(
        us.create_custom_key_store().custom_key_store_name("hsm").send().await,
        "UnsupportedOperationException",
        "CreateCustomKeyStore",
    );
    assert_code(
        us.describe_custom_key_stores().send().await,
        "UnsupportedOperationException",
        "DescribeCustomKeyStores",
    );
    c.shutdown().await;
}
