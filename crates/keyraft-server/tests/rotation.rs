//! Rotation and time-driven lifecycle through the unmodified `aws-sdk-kms` client, against a
//! three-node region on a test clock that the test fast-forwards: on-demand rotation and its
//! limits and errors, automatic rotation when due (exactly once, also when the leader changes in
//! the middle), and deletion after the waiting period (exactly once; the key's ciphertexts then
//! answer NotFoundException).

use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{IncludeKeyMaterial, KeyMaterialState, RotationType, RotationsListEntry};
use aws_sdk_kms::Client;
use keyraft_core::command::RequestId;
use keyraft_core::{Command, CoreError, KeyId, WrappedMaterial};
use keyraft_testkit::check::{assert_code, OK};
use keyraft_testkit::{Cluster, TestClock};

const R: &str = "us-east-1";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const DAY_SECS: i64 = 24 * 60 * 60;

async fn create_key(client: &Client, description: &str) -> String {
    let out = client.create_key().description(description).send().await.expect("create key");
    out.key_metadata().expect("metadata").key_id().to_owned()
}

async fn encrypt(client: &Client, key: &str, plaintext: &str) -> Vec<u8> {
    let out = client.encrypt().key_id(key).plaintext(Blob::new(plaintext)).send().await.expect("encrypt");
    out.ciphertext_blob().expect("ciphertext").as_ref().to_vec()
}

async fn decrypt(client: &Client, ciphertext: &[u8]) -> String {
    let out = client.decrypt().ciphertext_blob(Blob::new(ciphertext)).send().await.expect("decrypt");
    String::from_utf8(out.plaintext().expect("plaintext").as_ref().to_vec()).expect("utf-8")
}

/// The backing-key version a ciphertext names (ciphertext format v1: `0x01`, L, key id, version).
fn version_of(ciphertext: &[u8]) -> u32 {
    let l = usize::from(ciphertext[1]);
    u32::from_be_bytes(ciphertext[2 + l..6 + l].try_into().expect("4 bytes"))
}

async fn rotations(client: &Client, key: &str) -> Vec<RotationsListEntry> {
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_key_rotations()
            .key_id(key)
            .limit(10)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("list key rotations");
        all.extend(out.rotations().iter().cloned());
        assert_eq!(out.truncated(), out.next_marker().is_some());
        match out.next_marker() {
            Some(m) => marker = Some(m.to_owned()),
            None => return all,
        }
    }
}

/// (backing-key versions, rotations recorded) of `key` on every running node of the region.
fn on_every_node(c: &Cluster, nodes: &[u64], key: &str) -> Vec<Option<(usize, usize)>> {
    let id = KeyId::parse(key).expect("key id");
    nodes
        .iter()
        .map(|n| {
            c.node(R, *n)
                .region_node
                .state()
                .read(|s| s.keys.get(&id).map(|k| (k.material.len(), k.rotation.history.len())))
        })
        .collect()
}

/// Waits until every node in `nodes` holds `want` (versions, rotations) for `key`.
async fn wait_all(c: &Cluster, nodes: &[u64], key: &str, want: Option<(usize, usize)>) {
    for _ in 0..300 {
        if on_every_node(c, nodes, key).iter().all(|x| *x == want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nodes {nodes:?} hold {:?} for {key}, want {want:?}", on_every_node(c, nodes, key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_and_time_driven_lifecycle() {
    let clock = TestClock::new();
    let mut c = Cluster::start_with_clock(&[R], Cluster::test_timings(), clock.clone()).await.expect("cluster");
    c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");

    on_demand(&c).await;
    on_demand_errors(&c).await;
    automatic_across_a_leader_change(&mut c, &clock).await;
    c.shutdown().await;
}

async fn on_demand(c: &Cluster) {
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let id = create_key(&n1, "on demand").await;
    let before = encrypt(&n2, &id, "before").await;
    assert_eq!(version_of(&before), 1);
    assert!(rotations(&n3, &id).await.is_empty(), "a new key has no rotations");

    // On-demand rotations do not move the automatic schedule (AWS).
    n1.enable_key_rotation().key_id(&id).rotation_period_in_days(90).send().await.expect("enable rotation");
    let st = n2.get_key_rotation_status().key_id(&id).send().await.expect("status");
    let next = st.next_rotation_date().expect("NextRotationDate").secs();
    assert!(st.on_demand_rotation_start_date().is_none());

    for i in 1..=25u32 {
        let node = [&n1, &n2, &n3][i as usize % 3];
        let out = node.rotate_key_on_demand().key_id(&id).send().await.expect("rotate on demand");
        assert_eq!(out.key_id(), Some(id.as_str()));
    }
    assert_code(n2.rotate_key_on_demand().key_id(&id).send().await, "LimitExceededException", "26th rotation");

    let listed = rotations(&n3, &id).await;
    assert_eq!(listed.len(), 25);
    assert!(listed
        .iter()
        .all(|r| r.rotation_type() == Some(&RotationType::OnDemand) && r.key_id() == Some(id.as_str())));
    assert!(listed.windows(2).all(|w| w[0].rotation_date() <= w[1].rotation_date()), "oldest first");
    assert!(listed.iter().all(|r| r.key_material_id().is_some_and(|m| m.len() == 64)));
    let current: Vec<_> =
        listed.iter().filter(|r| r.key_material_state() == Some(&KeyMaterialState::Current)).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(listed.last().and_then(|r| r.key_material_state()), Some(&KeyMaterialState::Current));

    let page = n1.list_key_rotations().key_id(&id).limit(10).send().await.expect("first page");
    assert_eq!(page.rotations().len(), 10);
    assert!(page.truncated());
    let all = n1
        .list_key_rotations()
        .key_id(&id)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .limit(1000)
        .send()
        .await
        .expect("all key material");
    assert_eq!(all.rotations().len(), 26, "the first key material is listed too");
    assert!(all.rotations()[0].rotation_date().is_none() && all.rotations()[0].rotation_type().is_none());
    assert_code(n1.list_key_rotations().key_id(&id).marker("junk").send().await, "InvalidMarkerException", "marker");

    // Old ciphertexts still decrypt; new ones use the newest version.
    assert_eq!(decrypt(&n1, &before).await, "before");
    let after = encrypt(&n3, &id, "after").await;
    assert_eq!(version_of(&after), 26);
    assert_eq!(decrypt(&n2, &after).await, "after");

    let st = n3.get_key_rotation_status().key_id(&id).send().await.expect("status");
    assert_eq!(st.next_rotation_date().expect("NextRotationDate").secs(), next, "on-demand moved the schedule");
}

async fn on_demand_errors(c: &Cluster) {
    let (n1, n2) = (c.client(R, 1), c.client(R, 2));
    let disabled = create_key(&n1, "disabled").await;
    n1.disable_key().key_id(&disabled).send().await.expect("disable");
    assert_code(n2.rotate_key_on_demand().key_id(&disabled).send().await, "DisabledException", "disabled key");

    let pending = create_key(&n1, "pending deletion").await;
    n1.schedule_key_deletion().key_id(&pending).pending_window_in_days(30).send().await.expect("schedule");
    assert_code(
        n2.rotate_key_on_demand().key_id(&pending).send().await,
        "KMSInvalidStateException",
        "pending deletion key",
    );

    let mrk = n1.create_key().multi_region(true).send().await.expect("create mrk");
    let mrk = mrk.key_metadata().expect("metadata").key_id().to_owned();
    assert!(mrk.starts_with("mrk-"));
    // A multi-region primary rotates (with no replicas the new version is current at once;
    // staging across replica regions is tested in multi_region.rs).
    assert_code(n2.rotate_key_on_demand().key_id(&mrk).send().await, OK, "mrk");
    assert_code(n2.enable_key_rotation().key_id(&mrk).send().await, OK, "mrk auto");

    let unknown = "1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_code(n1.rotate_key_on_demand().key_id(unknown).send().await, "NotFoundException", "unknown key");
    assert_code(n1.list_key_rotations().key_id(unknown).send().await, "NotFoundException", "unknown key");
}

async fn automatic_across_a_leader_change(c: &mut Cluster, clock: &TestClock) {
    let all: Vec<u64> = vec![1, 2, 3];
    let client = c.client(R, 1);
    let id = create_key(&client, "automatic").await;
    let v1 = encrypt(&client, &id, "made under version 1").await;
    client.enable_key_rotation().key_id(&id).rotation_period_in_days(90).send().await.expect("enable rotation");

    // Not due yet: nothing happens.
    clock.advance(89 * DAY);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(on_every_node(c, &all, &id).iter().all(|x| *x == Some((1, 0))), "rotated early");

    // Due: the leader's housekeeping rotates the key once, on every node.
    clock.advance(2 * DAY);
    wait_all(c, &all, &id, Some((2, 1))).await;
    let listed = rotations(&client, &id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].rotation_type(), Some(&RotationType::Automatic));
    let rotated_at = listed[0].rotation_date().expect("RotationDate").secs();
    assert_eq!(decrypt(&c.client(R, 2), &v1).await, "made under version 1");
    let v2 = encrypt(&c.client(R, 3), &id, "made under version 2").await;
    assert_eq!(version_of(&v2), 2);
    let st = client.get_key_rotation_status().key_id(&id).send().await.expect("status");
    assert_eq!(st.next_rotation_date().expect("NextRotationDate").secs(), rotated_at + 90 * DAY_SECS);

    // The next period falls due and the leader is killed right away: the new leader rotates
    // (or finds the rotation done), and the period still has exactly one rotation.
    let leader = c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let key_id = KeyId::parse(&id).expect("key id");
    let due = c.node(R, leader).region_node.state().read(|s| s.keys[&key_id].rotation.next_ms).expect("scheduled");
    clock.advance(91 * DAY);
    c.stop_node(R, leader).await;
    let survivors: Vec<u64> = all.iter().copied().filter(|n| *n != leader).collect();
    let new_leader = c.wait_leader(R, Duration::from_secs(20)).await.expect("new leader");
    assert_ne!(new_leader, leader);
    wait_all(c, &survivors, &id, Some((3, 2))).await;
    // A duplicate proposal for the same period (what a new leader that had not yet applied the
    // first one would send) is refused by the apply and changes nothing.
    let duplicate = Command::RotateKey {
        key: key_id.clone(),
        kind: keyraft_core::rotation::RotationType::Automatic,
        material: WrappedMaterial { version: 4, created_ms: 0, wrapped: vec![0; 61], public_key: None },
        due_ms: Some(due),
    };
    let res = c.node(R, new_leader).region_node.write(RequestId([0xee; 16]), duplicate).await.expect("proposed");
    assert!(matches!(res, Err(CoreError::InvalidStateMessage(_))), "{res:?}");
    // A few more housekeeping rounds change nothing.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert!(on_every_node(c, &survivors, &id).iter().all(|x| *x == Some((3, 2))), "rotated twice");
    // The old leader comes back and agrees.
    c.start_node(R, leader).await.expect("restart");
    wait_all(c, &all, &id, Some((3, 2))).await;

    let client = c.client(R, survivors[0]);
    let listed = rotations(&client, &id).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|r| r.rotation_type() == Some(&RotationType::Automatic)));
    for (ct, want) in [(&v1, "made under version 1"), (&v2, "made under version 2")] {
        assert_eq!(decrypt(&client, ct).await, want);
    }
    assert_eq!(version_of(&encrypt(&client, &id, "v3").await), 3);

    // Deletion after the waiting period, exactly once; then the key and its ciphertexts are gone.
    let other = create_key(&client, "stays").await;
    let other_ct = encrypt(&client, &other, "other").await;
    client.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.expect("schedule");
    clock.advance(6 * DAY);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(on_every_node(c, &all, &id).iter().all(|x| x.is_some()), "deleted early");
    clock.advance(2 * DAY);
    wait_all(c, &all, &id, None).await;
    for n in &all {
        assert!(c.node(R, *n).region_node.state().read(|s| s.deleted.contains_key(&key_id)), "tombstone on {n}");
    }
    for n in &all {
        let client = c.client(R, *n);
        assert_code(client.describe_key().key_id(&id).send().await, "NotFoundException", "describe deleted key");
        for ct in [&v1, &v2] {
            assert_code(
                client.decrypt().ciphertext_blob(Blob::new(ct.clone())).send().await,
                "NotFoundException",
                "ciphertext of a deleted key",
            );
        }
    }
    // Another key is untouched, and a ciphertext naming a key this region never had is still
    // not a ciphertext here.
    assert_eq!(decrypt(&client, &other_ct).await, "other");
    let mut never = other_ct.clone();
    let l = usize::from(never[1]);
    never[2..2 + l].copy_from_slice(b"00000000-0000-4000-8000-000000000000");
    assert_code(
        client.decrypt().ciphertext_blob(Blob::new(never)).send().await,
        "InvalidCiphertextException",
        "ciphertext of a key never held",
    );
}
