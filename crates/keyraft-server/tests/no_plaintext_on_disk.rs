//! Key material never reaches the disk in plaintext: every 32-byte secret the service generated
//! (backing keys, 256-bit data keys) is looked for in every file under the data dir, after the
//! log, the state machine and snapshots have been written — also of replicated multi-region keys,
//! whose material reaches the other region's log and state only re-wrapped.

use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use keyraft_testkit::disk::{count, files};
use keyraft_testkit::Cluster;

fn snapshot_often(cfg: &mut keyraft_server::NodeConfig) {
    cfg.heartbeat_ms = Some(50);
    cfg.snapshot_every = Some(10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_key_material_in_plaintext_under_the_data_dir() {
    let c = Cluster::start_with(&["us-east-1", "eu-west-1"], snapshot_often).await.expect("cluster");
    let mut ids = Vec::new();
    for region in ["us-east-1", "eu-west-1"] {
        c.wait_leader(region, Duration::from_secs(20)).await.expect("leader");
        let client = c.client(region, 2);
        for i in 0..12 {
            let id = client
                .create_key()
                .multi_region(i % 3 == 0)
                .send()
                .await
                .expect("create")
                .key_metadata()
                .unwrap()
                .key_id()
                .to_owned();
            client.encrypt().key_id(&id).plaintext(Blob::new("p")).send().await.expect("encrypt");
            client.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.expect("data key");
            if i % 3 == 0 {
                // Replicated: the material crosses regions sealed and is stored re-wrapped.
                let other = if region == "us-east-1" { "eu-west-1" } else { "us-east-1" };
                client.replicate_key().key_id(&id).replica_region(other).send().await.expect("replicate");
            }
            ids.push((region, id));
        }
    }
    // Make every node write a snapshot and flush, so nothing is only in memory.
    for region in ["us-east-1", "eu-west-1"] {
        for n in 1..=3 {
            let node = &c.node(region, n).region_node;
            node.raft().trigger().snapshot().await.expect("snapshot");
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for region in ["us-east-1", "eu-west-1"] {
        for n in 1..=3 {
            c.node(region, n).region_node.state().flush().await.expect("flush");
        }
    }

    let secrets = c.entropy.secrets();
    // 24 backing keys and 24 data keys.
    assert!(secrets.len() >= 48, "only {} secrets recorded", secrets.len());
    let mut paths = Vec::new();
    files(c.data_dir(), &mut paths);
    let mut bytes_scanned = 0usize;
    let mut wrapped_hits = 0usize;
    let wrapped: Vec<Vec<u8>> = ids
        .iter()
        .map(|(region, id)| {
            c.node(region, 1).region_node.state().read(|s| {
                s.keys.values().find(|k| k.id.as_str() == id).map(|k| k.material[0].wrapped.clone()).expect("key")
            })
        })
        .collect();
    for p in &paths {
        let data = std::fs::read(p).expect("read");
        bytes_scanned += data.len();
        for s in &secrets {
            assert_eq!(count(&data, s), 0, "plaintext secret found in {}", p.display());
        }
        wrapped_hits += wrapped.iter().map(|w| count(&data, w)).sum::<usize>();
    }
    eprintln!(
        "scanned {} files, {bytes_scanned} bytes, for {} secrets: 0 hits; wrapped material found {wrapped_hits} times",
        paths.len(),
        secrets.len()
    );
    // The scan does see stored key state: the wrapped form of every key is on disk.
    assert!(wrapped_hits >= wrapped.len(), "the scan found only {wrapped_hits} copies of wrapped material");
    c.shutdown().await;
}
