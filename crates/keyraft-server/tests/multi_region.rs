//! Multi-region keys against two in-process regions, with unmodified aws-sdk-kms clients:
//! ReplicateKey, cross-region Encrypt/Decrypt/GenerateDataKey/ReEncrypt without re-encryption,
//! per-region properties, UpdatePrimaryRegion, region isolation, a cut link between regions
//! (the `Links` seam) and forced DR promotion with the old primary region stopped.

use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyMetadata, KeyState, MultiRegionKeyType, Tag};
use aws_sdk_kms::Client;
use keyraft_testkit::check::assert_code;
use keyraft_testkit::Cluster;

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";

fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{id}")
}

async fn describe(kms: &Client, key: &str) -> KeyMetadata {
    kms.describe_key().key_id(key).send().await.expect("describe").key_metadata().expect("metadata").clone()
}

async fn create_mrk(kms: &Client) -> String {
    let out = kms.create_key().multi_region(true).description("primary").send().await.expect("create MRK");
    out.key_metadata().expect("metadata").key_id().to_owned()
}

async fn replicate(kms: &Client, id: &str, region: &str) -> aws_sdk_kms::operation::replicate_key::ReplicateKeyOutput {
    kms.replicate_key()
        .key_id(id)
        .replica_region(region)
        .description("the replica")
        .tags(Tag::builder().tag_key("site").tag_value("dr").build().expect("tag"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("replicate {id} to {region}: {e:?}"))
}

fn mr_type(m: &KeyMetadata) -> Option<MultiRegionKeyType> {
    m.multi_region_configuration().and_then(|c| c.multi_region_key_type()).cloned()
}

async fn encrypt(kms: &Client, key: &str, plaintext: &[u8]) -> Vec<u8> {
    let out = kms.encrypt().key_id(key).plaintext(Blob::new(plaintext)).send().await.expect("encrypt");
    out.ciphertext_blob().expect("blob").as_ref().to_vec()
}

async fn decrypt(kms: &Client, blob: &[u8]) -> (Vec<u8>, String) {
    let out = kms.decrypt().ciphertext_blob(Blob::new(blob)).send().await.expect("decrypt");
    (out.plaintext().expect("plaintext").as_ref().to_vec(), out.key_id().expect("key id").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_material_and_keep_their_own_properties() {
    let c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let (us, eu, eu3) = (c.client(US, 1), c.client(EU, 2), c.client(EU, 3));
    let id = create_mrk(&us).await;
    assert!(id.starts_with("mrk-"));
    let md = describe(&us, &id).await;
    assert_eq!(mr_type(&md), Some(MultiRegionKeyType::Primary), "{md:?}");

    // Before replication the replica region does not know the key.
    assert_code(eu.describe_key().key_id(&id).send().await, "NotFoundException", "before ReplicateKey");

    let out = replicate(&us, &id, EU).await;
    let rk = out.replica_key_metadata().expect("replica metadata");
    assert_eq!(rk.arn(), Some(arn(EU, &id).as_str()));
    assert_eq!(rk.key_id(), id);
    assert_eq!(mr_type(rk), Some(MultiRegionKeyType::Replica), "{rk:?}");
    assert!(out.replica_policy().is_some_and(|p| p.contains("Statement")));
    assert_eq!(out.replica_tags().len(), 1);

    // ReplicateKey answered only after eu-west-1 committed the replica: every eu node has it.
    for kms in [&eu, &eu3] {
        let md = describe(kms, &id).await;
        assert_eq!(md.key_state(), Some(&KeyState::Enabled));
        assert_eq!(md.arn(), Some(arn(EU, &id).as_str()));
        assert_eq!(md.description(), Some("the replica"));
        let cfg = md.multi_region_configuration().expect("multi-region configuration");
        assert_eq!(cfg.multi_region_key_type(), Some(&MultiRegionKeyType::Replica));
        let primary = cfg.primary_key().expect("primary");
        assert_eq!((primary.region(), primary.arn()), (Some(US), Some(arn(US, &id).as_str())));
        let replicas: Vec<&str> = cfg.replica_keys().iter().filter_map(|r| r.region()).collect();
        assert_eq!(replicas, vec![EU]);
    }
    let md = describe(&us, &id).await;
    assert_eq!(md.description(), Some("primary"), "per-region description");
    let cfg = md.multi_region_configuration().expect("config");
    assert_eq!(cfg.multi_region_key_type(), Some(&MultiRegionKeyType::Primary));
    assert_eq!(cfg.replica_keys().iter().filter_map(|r| r.arn()).collect::<Vec<_>>(), vec![arn(EU, &id)]);

    // Ciphertexts cross regions both ways without re-encryption; Decrypt names the local key.
    let blob = encrypt(&us, &id, b"made in us-east-1").await;
    assert_eq!(decrypt(&eu, &blob).await, (b"made in us-east-1".to_vec(), arn(EU, &id)));
    let blob = encrypt(&eu3, &arn(EU, &id), b"made in eu-west-1").await;
    assert_eq!(decrypt(&us, &blob).await, (b"made in eu-west-1".to_vec(), arn(US, &id)));
    let dk = us.generate_data_key().key_id(&id).number_of_bytes(32).send().await.expect("data key");
    let (pt, _) = decrypt(&eu, dk.ciphertext_blob().expect("blob").as_ref()).await;
    assert_eq!(pt, dk.plaintext().expect("plaintext").as_ref());
    let re = eu
        .re_encrypt()
        .ciphertext_blob(Blob::new(dk.ciphertext_blob().expect("blob").as_ref()))
        .destination_key_id(&id)
        .send()
        .await
        .expect("re-encrypt in the replica region");
    assert_eq!(re.source_key_id(), Some(arn(EU, &id).as_str()));
    let (pt, _) = decrypt(&us, re.ciphertext_blob().expect("blob").as_ref()).await;
    assert_eq!(pt, dk.plaintext().expect("plaintext").as_ref());

    // Per-region properties: enabled state, tags, aliases, policy.
    eu.disable_key().key_id(&id).send().await.expect("disable replica");
    assert_code(eu.encrypt().key_id(&id).plaintext(Blob::new(b"x")).send().await, "DisabledException", "replica off");
    assert!(!encrypt(&us, &id, b"primary still on").await.is_empty());
    eu.enable_key().key_id(&id).send().await.expect("enable replica");
    us.tag_resource()
        .key_id(&id)
        .tags(Tag::builder().tag_key("only").tag_value("us").build().expect("tag"))
        .send()
        .await
        .expect("tag");
    let eu_tags = eu.list_resource_tags().key_id(&id).send().await.expect("tags");
    assert_eq!(eu_tags.tags().iter().map(|t| t.tag_key()).collect::<Vec<_>>(), vec!["site"]);
    us.create_alias().alias_name("alias/shared-name").target_key_id(&id).send().await.expect("alias us");
    let via_alias = eu.describe_key().key_id("alias/shared-name").send().await;
    assert_code(via_alias, "NotFoundException", "aliases are per region");
    eu.create_alias().alias_name("alias/shared-name").target_key_id(&id).send().await.expect("alias eu");

    // What AWS refuses.
    assert_code(us.replicate_key().key_id(&id).replica_region(EU).send().await, "AlreadyExistsException", "again");
    assert_code(
        eu.replicate_key().key_id(&id).replica_region(US).send().await,
        "UnsupportedOperationException",
        "replicating a replica",
    );
    let single = us.create_key().send().await.expect("single").key_metadata().expect("md").key_id().to_owned();
    assert_code(
        us.replicate_key().key_id(&single).replica_region(EU).send().await,
        "UnsupportedOperationException",
        "a single-region key",
    );
    assert_code(
        us.replicate_key().key_id(&id).replica_region("ap-south-1").send().await,
        "UnsupportedOperationException",
        "a region outside the deployment",
    );
    assert_code(
        us.replicate_key().key_id(&id).replica_region("Not A Region").send().await,
        "ValidationException",
        "a malformed region",
    );
    assert_code(
        eu.enable_key_rotation().key_id(&id).send().await,
        "UnsupportedOperationException",
        "shared property on a replica",
    );

    // Isolation: a single-region key's ARN or ciphertext means nothing in the other region.
    assert_code(eu.describe_key().key_id(arn(US, &single)).send().await, "NotFoundException", "other region ARN");
    assert_code(eu.describe_key().key_id(arn(US, &id)).send().await, "NotFoundException", "primary ARN in eu");
    let sblob = encrypt(&us, &single, b"stays home").await;
    assert_code(
        eu.decrypt().ciphertext_blob(Blob::new(sblob)).send().await,
        "InvalidCiphertextException",
        "single-region ciphertext elsewhere",
    );

    // A primary with replicas waits in PendingReplicaDeletion, as AWS does; cancelling works.
    let d = us.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.expect("schedule");
    assert_eq!(d.key_state(), Some(&KeyState::PendingReplicaDeletion));
    assert_eq!(describe(&us, &id).await.key_state(), Some(&KeyState::PendingReplicaDeletion));
    assert_eq!(describe(&eu, &id).await.key_state(), Some(&KeyState::Enabled));
    us.cancel_key_deletion().key_id(&id).send().await.expect("cancel");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_primary_region_swaps_roles() {
    let c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let (us, eu) = (c.client(US, 2), c.client(EU, 1));
    let id = create_mrk(&us).await;
    replicate(&us, &id, EU).await;
    assert_code(
        us.update_primary_region().key_id(&id).primary_region("ap-south-1").send().await,
        "UnsupportedOperationException",
        "no replica there",
    );
    assert_code(
        eu.update_primary_region().key_id(&id).primary_region(US).send().await,
        "UnsupportedOperationException",
        "called on a replica",
    );
    us.update_primary_region().key_id(&id).primary_region(EU).send().await.expect("update primary");
    let (mu, me) = (describe(&us, &id).await, describe(&eu, &id).await);
    assert_eq!(mr_type(&mu), Some(MultiRegionKeyType::Replica), "{mu:?}");
    assert_eq!(mr_type(&me), Some(MultiRegionKeyType::Primary), "{me:?}");
    for m in [&mu, &me] {
        let cfg = m.multi_region_configuration().expect("config");
        assert_eq!(cfg.primary_key().and_then(|p| p.region()), Some(EU));
        assert_eq!(cfg.replica_keys().iter().filter_map(|r| r.region()).collect::<Vec<_>>(), vec![US]);
    }
    // The old primary refuses shared changes now; the new one accepts them.
    assert_code(
        us.update_primary_region().key_id(&id).primary_region(EU).send().await,
        "UnsupportedOperationException",
        "old primary",
    );
    eu.update_primary_region().key_id(&id).primary_region(US).send().await.expect("and back");
    assert_eq!(mr_type(&describe(&us, &id).await), Some(MultiRegionKeyType::Primary));
    let blob = encrypt(&eu, &id, b"after two handovers").await;
    assert_eq!(decrypt(&us, &blob).await.0, b"after two handovers");
    c.shutdown().await;
}

/// Waits until `f` holds, polling.
async fn eventually<F, Fut>(what: &str, timeout: Duration, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cut_link_delays_replication_until_it_heals() {
    let c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let (us, eu) = (c.client(US, 1), c.client(EU, 1));
    let id = create_mrk(&us).await;
    c.links.cut(US, EU);
    // Not acknowledged while eu-west-1 cannot confirm (M3): the client is told it timed out.
    let r = us.replicate_key().key_id(&id).replica_region(EU).send().await;
    assert_code(r, "DependencyTimeoutException", "replica region unreachable");
    assert_code(eu.describe_key().key_id(&id).send().await, "NotFoundException", "nothing crossed the cut");
    assert!(c.links.counts().1 > 0, "shipments were attempted and refused");
    // Crypto in the primary region is unaffected.
    let blob = encrypt(&us, &id, b"during the cut").await;
    c.links.heal();
    let (eu_ref, id_ref) = (&eu, &id);
    eventually("the replica appears after healing", Duration::from_secs(20), || async move {
        eu_ref.describe_key().key_id(id_ref).send().await.is_ok()
    })
    .await;
    assert_eq!(decrypt(&eu, &blob).await.0, b"during the cut");
    // The retried request now finds the replica in place.
    assert_code(us.replicate_key().key_id(&id).replica_region(EU).send().await, "AlreadyExistsException", "retry");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forced_promotion_fences_the_old_primary_when_it_returns() {
    let mut c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let (us, eu) = (c.client(US, 1), c.client(EU, 1));
    let id = create_mrk(&us).await;
    replicate(&us, &id, EU).await;
    let before = encrypt(&us, &id, b"before the outage").await;

    // The primary region goes away entirely.
    for n in 1..=3 {
        c.stop_node(US, n).await;
    }
    // Degraded mode: the replica keeps serving crypto; shared changes are refused.
    assert_eq!(decrypt(&eu, &before).await.0, b"before the outage");
    let during = encrypt(&eu, &id, b"during the outage").await;
    assert_code(
        eu.update_primary_region().key_id(&id).primary_region(EU).send().await,
        "UnsupportedOperationException",
        "a replica cannot change shared properties",
    );

    // Forced promotion in eu-west-1, as `keyraft dr promote --region eu-west-1 --all` does.
    let promoted = c.node(EU, 2).kms.force_promote(None).await.expect("promote");
    assert_eq!(promoted.len(), 1, "{promoted:?}");
    let p = &promoted[0];
    assert!(p.error.is_none(), "{p:?}");
    assert_eq!(p.from.as_ref().map(|e| (e.n, e.primary.as_str().to_owned())), Some((1, US.to_owned())));
    assert_eq!(p.to.as_ref().map(|e| (e.n, e.primary.as_str().to_owned())), Some((2, EU.to_owned())));
    assert_eq!(mr_type(&describe(&eu, &id).await), Some(MultiRegionKeyType::Primary));
    // A second promotion of the same region is refused (already primary).
    assert!(c.node(EU, 1).kms.force_promote(None).await.expect("promote all").is_empty());

    // The old primary region returns: it learns epoch 2, becomes a replica and converges.
    for n in 1..=3 {
        c.start_node(US, n).await.expect("restart");
    }
    c.wait_leader(US, Duration::from_secs(20)).await.expect("us leader");
    let us = c.client(US, 2);
    let us_ref = &us;
    let id_ref = &id;
    eventually("the old primary is demoted", Duration::from_secs(30), || async move {
        match us_ref.describe_key().key_id(id_ref).send().await {
            Ok(o) => o.key_metadata().and_then(mr_type) == Some(MultiRegionKeyType::Replica),
            Err(_) => false,
        }
    })
    .await;
    let md = describe(&us, &id).await;
    let cfg = md.multi_region_configuration().expect("config");
    assert_eq!(cfg.primary_key().and_then(|p| p.region()), Some(EU));
    assert_code(
        us.replicate_key().key_id(&id).replica_region(EU).send().await,
        "UnsupportedOperationException",
        "the fenced old primary refuses shared changes",
    );
    assert_eq!(decrypt(&us, &during).await.0, b"during the outage");
    // The new primary can hand the role back in the ordinary way.
    eu.update_primary_region().key_id(&id).primary_region(US).send().await.expect("hand back");
    assert_eq!(mr_type(&describe(&us, &id).await), Some(MultiRegionKeyType::Primary));
    c.shutdown().await;
}

/// The backing-key version a keyraft ciphertext names (format v1: version after the key id).
fn blob_version(blob: &[u8]) -> u32 {
    let l = usize::from(blob[1]);
    u32::from_be_bytes(blob[2 + l..6 + l].try_into().expect("4 bytes"))
}

/// Waits until `kms` encrypts under backing-key version `version` of `key`.
async fn wait_current_version(what: &str, kms: &Client, key: &str, version: u32) {
    eventually(what, Duration::from_secs(30), || async move {
        let b = kms.encrypt().key_id(key).plaintext(Blob::new(b"x")).send().await;
        b.ok().and_then(|o| o.ciphertext_blob().map(|b| blob_version(b.as_ref()))) == Some(version)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_is_staged_in_every_replica_before_it_encrypts() {
    let c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let (us, eu) = (c.client(US, 1), c.client(EU, 3));
    let id = create_mrk(&us).await;
    replicate(&us, &id, EU).await;

    // The rotation setting is shared: set on the primary, visible in the replica at once.
    us.enable_key_rotation().key_id(&id).rotation_period_in_days(90).send().await.expect("enable rotation");
    let st = eu.get_key_rotation_status().key_id(&id).send().await.expect("status in eu");
    assert!(st.key_rotation_enabled());
    assert_eq!(st.rotation_period_in_days(), Some(90));
    assert_code(eu.rotate_key_on_demand().key_id(&id).send().await, "UnsupportedOperationException", "replica");

    us.rotate_key_on_demand().key_id(&id).send().await.expect("rotate");
    let blob = encrypt(&us, &id, b"version 2").await;
    assert_eq!(blob_version(&blob), 2);
    assert_eq!(decrypt(&eu, &blob).await.0, b"version 2");
    let rotations = eu.list_key_rotations().key_id(&id).send().await.expect("rotations in eu");
    assert_eq!(rotations.rotations().len(), 1);

    // With the replica region cut off, a rotation is staged but not used: the primary keeps
    // encrypting with a version every region holds (M2), so the ciphertexts stay readable there.
    c.links.cut(US, EU);
    assert_code(us.rotate_key_on_demand().key_id(&id).send().await, "DependencyTimeoutException", "unconfirmed");
    let during = encrypt(&us, &id, b"during the cut").await;
    assert_eq!(blob_version(&during), 2, "the staged version 3 must not encrypt yet");
    assert_code(us.rotate_key_on_demand().key_id(&id).send().await, "ConflictException", "still staging");
    c.links.heal();
    wait_current_version("version 3 becomes current after healing", &us, &id, 3).await;
    let after = encrypt(&us, &id, b"version 3").await;
    assert_eq!(decrypt(&eu, &after).await.0, b"version 3");
    assert_eq!(decrypt(&eu, &during).await.0, b"during the cut");
    // The replica learns that version 3 became current from the primary's next shipment.
    wait_current_version("eu encrypts with version 3 too", &eu, &id, 3).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_waits_for_its_replicas_to_be_deleted() {
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    let clock = keyraft_testkit::TestClock::new();
    let c = Cluster::start_with_clock(&[US, EU], Cluster::test_timings(), clock.clone()).await.expect("cluster");
    for r in [US, EU] {
        c.wait_leader(r, Duration::from_secs(20)).await.expect("leader");
    }
    let (us, eu) = (c.client(US, 1), c.client(EU, 1));
    let id = create_mrk(&us).await;
    replicate(&us, &id, EU).await;
    let d = us.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.expect("schedule primary");
    assert_eq!(d.key_state(), Some(&KeyState::PendingReplicaDeletion));
    assert_code(
        us.encrypt().key_id(&id).plaintext(Blob::new(b"x")).send().await,
        "KMSInvalidStateException",
        "a primary pending replica deletion is not usable",
    );
    // Weeks pass: the primary waits as long as a replica exists.
    clock.advance(40 * DAY);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(describe(&us, &id).await.key_state(), Some(&KeyState::PendingReplicaDeletion));

    eu.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.expect("schedule replica");
    clock.advance(7 * DAY + Duration::from_secs(1));
    let (eu_ref, us_ref, id_ref) = (&eu, &us, &id);
    eventually("the replica is deleted", Duration::from_secs(20), || async move {
        eu_ref.describe_key().key_id(id_ref).send().await.is_err()
    })
    .await;
    // The primary learns it (probe) and starts its own 7-day waiting period.
    eventually("the primary enters PendingDeletion", Duration::from_secs(20), || async move {
        let md = us_ref.describe_key().key_id(id_ref).send().await.ok().and_then(|o| o.key_metadata().cloned());
        md.is_some_and(|m| m.key_state() == Some(&KeyState::PendingDeletion))
    })
    .await;
    let md = describe(&us, &id).await;
    assert!(md.multi_region_configuration().is_some_and(|c| c.replica_keys().is_empty()), "{md:?}");
    assert_eq!(md.pending_deletion_window_in_days(), Some(7));
    clock.advance(7 * DAY + Duration::from_secs(1));
    eventually("the primary is deleted", Duration::from_secs(20), || async move {
        us_ref.describe_key().key_id(id_ref).send().await.is_err()
    })
    .await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shipping_survives_a_leader_change_and_duplicates_apply_once() {
    let mut c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let us = c.client(US, 1);
    let id = create_mrk(&us).await;
    replicate(&us, &id, EU).await;
    let eu_node = |c: &Cluster| c.node(EU, 1).kms.clone();
    let created = eu_node(&c).multi_region_states()[0].0.creation_ms;

    // Every shipment is delivered twice from here on; the link is cut while a rotation is
    // staged, and the primary region's leader (its shipper) is stopped before the link heals.
    c.links.duplicate(true);
    c.links.cut(US, EU);
    assert_code(us.rotate_key_on_demand().key_id(&id).send().await, "DependencyTimeoutException", "cut");
    let leader = c.leader(US).expect("us leader");
    c.stop_node(US, leader).await;
    c.wait_leader(US, Duration::from_secs(20)).await.expect("new us leader");
    c.links.heal();
    let survivor = if leader == 1 { 2 } else { 1 };
    let us = c.client(US, survivor);
    wait_current_version("version 2 active in us-east-1", &us, &id, 2).await;
    let eu = c.client(EU, 2);
    wait_current_version("version 2 active in eu-west-1", &eu, &id, 2).await;
    // Both regions hold the same shared state; every effect happened once in eu-west-1.
    let primary = c.node(US, survivor).kms.clone();
    eventually("the outbox drains", Duration::from_secs(30), || {
        let p = primary.clone();
        async move { p.multi_region_states().iter().all(|(_, m)| m.pending().next().is_none()) }
    })
    .await;
    let (pk, pm) = primary.multi_region_states().remove(0);
    let (rk, rm) = eu_node(&c).multi_region_states().remove(0);
    assert_eq!((&pm.epoch, pm.version), (&rm.epoch, rm.version));
    let versions = |k: &keyraft_core::KeyRecord| k.material.iter().map(|m| m.version).collect::<Vec<_>>();
    assert_eq!(versions(&pk), vec![1, 2]);
    assert_eq!(versions(&rk), vec![1, 2], "no duplicate version from duplicate deliveries");
    assert_eq!(rk.creation_ms, created, "the replica was not re-created");
    assert_eq!(rk.rotation.history.len(), 1);
    assert!(c.links.counts().0 >= 2, "shipments were delivered (twice)");
    // The stopped node comes back and catches up through Raft.
    c.start_node(US, leader).await.expect("restart");
    let back = c.node(US, leader).kms.clone();
    eventually("the restarted node has the same state", Duration::from_secs(30), || {
        let (b, pm) = (back.clone(), pm.clone());
        async move { b.multi_region_states().first().is_some_and(|(_, m)| m == &pm) }
    })
    .await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn asymmetric_and_hmac_keys_replicate_too() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec};
    let c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let (us, eu) = (c.client(US, 1), c.client(EU, 2));
    let create = |spec: KeySpec, usage: KeyUsageType| {
        let us = us.clone();
        async move {
            let out = us.create_key().multi_region(true).key_spec(spec).key_usage(usage).send().await.expect("create");
            out.key_metadata().expect("metadata").key_id().to_owned()
        }
    };
    let ecc = create(KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let hmac = create(KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    for id in [&ecc, &hmac] {
        replicate(&us, id, EU).await;
    }
    let pk = |kms: Client| {
        let ecc = ecc.clone();
        async move { kms.get_public_key().key_id(ecc).send().await.expect("public key").public_key().cloned() }
    };
    assert_eq!(pk(us.clone()).await, pk(eu.clone()).await, "the same key pair in both regions");
    let sig = us
        .sign()
        .key_id(&ecc)
        .message(Blob::new(b"signed in us-east-1"))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .expect("sign");
    let ok = eu
        .verify()
        .key_id(&ecc)
        .message(Blob::new(b"signed in us-east-1"))
        .message_type(MessageType::Raw)
        .signature(sig.signature().expect("signature").clone())
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .expect("verify in eu-west-1");
    assert!(ok.signature_valid());
    let mac = us
        .generate_mac()
        .key_id(&hmac)
        .message(Blob::new(b"mac me"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .expect("mac");
    let v = eu
        .verify_mac()
        .key_id(&hmac)
        .message(Blob::new(b"mac me"))
        .mac(mac.mac().expect("mac").clone())
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .expect("verify mac in eu-west-1");
    assert!(v.mac_valid());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_replies_acknowledge_nothing() {
    let c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let us = c.client(US, 1);
    let id = create_mrk(&us).await;
    // Replies are sealed by the destination and bound to their request: one flipped bit and the
    // primary counts the shipment as failed, so nothing is acknowledged to the client.
    c.links.tamper_replies(true);
    assert_code(
        us.replicate_key().key_id(&id).replica_region(EU).send().await,
        "DependencyTimeoutException",
        "no authentic acknowledgement",
    );
    let status = c.node(US, c.leader(US).expect("leader")).kms.replication_status();
    let eu = status.get(&keyraft_core::Region::parse(EU).expect("region")).expect("eu status");
    assert_eq!(eu.outbox_depth, 1, "{eu:?}");
    assert!(eu.last_error.as_deref().is_some_and(|e| e.contains("does not open")), "{eu:?}");
    c.links.tamper_replies(false);
    let primary = c.node(US, 1).kms.clone();
    eventually("acknowledged once replies are authentic", Duration::from_secs(20), || {
        let p = primary.clone();
        async move { p.multi_region_states().iter().all(|(_, m)| m.pending().next().is_none()) }
    })
    .await;
    c.shutdown().await;
}
