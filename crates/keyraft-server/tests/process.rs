//! Durability with real processes: the `keyraft` binary is spawned, killed with SIGKILL and
//! restarted; every acknowledged write must be there afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use keyraft_testkit::sdk_client;

const BIN: &str = env!("CARGO_BIN_EXE_keyraft");

/// A base port whose whole `keyraft dev` range is free.
fn free_base() -> u16 {
    for attempt in 0..200u32 {
        let base = 20_000 + ((std::process::id() * 7 + attempt * 211) % 400) as u16 * 100;
        let ports: Vec<u16> = (0..2u16)
            .flat_map(|i| (1..=3u16).flat_map(move |n| [0u16, 10, 20].map(|k| base + 100 * i + k + n)))
            .collect();
        if ports.iter().all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()) {
            return base;
        }
    }
    panic!("no free port range");
}

fn spawn(args: &[&str], log: &Path) -> Child {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "info,openraft=error")
        .stdout(Stdio::from(out.try_clone().expect("log")))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("spawn keyraft")
}

fn kill9(child: &mut Child) {
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let _ = child.wait();
}

async fn healthy(admin: &str) -> bool {
    matches!(reqwest::get(format!("{admin}/healthz")).await, Ok(r) if r.status().is_success())
}

async fn wait_healthy(admins: &[String], log: &Path) {
    for _ in 0..600 {
        let mut all = true;
        for a in admins {
            all &= healthy(a).await;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("keyraft did not become healthy; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

fn dev_info(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("dev.json")).expect("dev.json")).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dev_survives_kill_9_and_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let log = tmp.path().join("keyraft.log");
    let base = free_base();
    let args = ["dev", "--data-dir", data.to_str().expect("utf8"), "--base-port", &base.to_string()];
    let admins: Vec<String> = (0..2u16)
        .flat_map(|i| (1..=3u16).map(move |n| format!("http://127.0.0.1:{}", base + 100 * i + 20 + n)))
        .collect();

    let mut child = spawn(&args, &log);
    wait_healthy(&admins, &log).await;
    let info = dev_info(&data);
    let (ak, sk) =
        (info["access_key_id"].as_str().unwrap().to_owned(), info["secret_access_key"].as_str().unwrap().to_owned());
    let mut acked = Vec::new();
    for (region, i) in [("us-east-1", 0u16), ("eu-west-1", 1)] {
        for n in 1..=3u16 {
            let client = sdk_client(&format!("http://127.0.0.1:{}", base + 100 * i + n), region, &ak, &sk);
            let id = client
                .create_key()
                .description(format!("n{n}"))
                .send()
                .await
                .expect("create")
                .key_metadata()
                .unwrap()
                .key_id()
                .to_owned();
            client
                .create_alias()
                .alias_name(format!("alias/k-{region}-{n}"))
                .target_key_id(&id)
                .send()
                .await
                .expect("alias");
            let ct =
                client.encrypt().key_id(&id).plaintext(Blob::new(format!("secret {n}"))).send().await.expect("encrypt");
            let ct = ct.ciphertext_blob().unwrap().clone();
            acked.push((region, i, n, id, ct));
        }
        // The last acknowledged write before the kill is a disable.
        let c = sdk_client(&format!("http://127.0.0.1:{}", base + 100 * i + 1), region, &ak, &sk);
        c.disable_key().key_id(&acked.last().unwrap().3).send().await.expect("disable");
    }
    kill9(&mut child);

    let mut child = spawn(&args, &log);
    wait_healthy(&admins, &log).await;
    assert_eq!(dev_info(&data)["access_key_id"], info["access_key_id"], "dev credentials changed across restart");
    // `keyraft status` shows the region: three nodes, one leader, all agreeing on it.
    let out = Command::new(BIN).args(["status", "--endpoint", &admins[0]]).output().expect("keyraft status");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("region us-east-1"), "{text}");
    assert_eq!(text.matches("Leader").count(), 1, "{text}");
    assert_eq!(text.matches("Follower").count(), 2, "{text}");
    for (region, i, n, id, ct) in &acked {
        let client = sdk_client(&format!("http://127.0.0.1:{}", base + 100 * i + 4 - n), region, &ak, &sk);
        let d = client.describe_key().key_id(format!("alias/k-{region}-{n}")).send().await.expect("describe by alias");
        let md = d.key_metadata().unwrap();
        assert_eq!(md.key_id(), id);
        if *n == 3 {
            assert_eq!(md.key_state().unwrap().as_str(), "Disabled", "the acknowledged disable was lost");
        } else {
            let pt = client.decrypt().ciphertext_blob(ct.clone()).send().await.expect("decrypt after restart");
            assert_eq!(pt.plaintext().unwrap().as_ref(), format!("secret {n}").as_bytes());
        }
    }
    kill9(&mut child);
}

struct Node {
    config: PathBuf,
    api: String,
    admin: String,
    child: Option<Child>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9_of_a_node_while_writes_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let log = tmp.path().join("keyraft.log");
    let root = tmp.path().join("root.key");
    keyraft_server::secrets::ensure_root_key(&root).expect("root key");
    let ports = keyraft_testkit::free_ports(9);
    let (ak, sk) = ("AKIAPROCESSTEST00001", "process-test-secret-0000000000000000000");
    let peers: String = (0..3)
        .map(|n| format!("[[peers]]\nid = {}\nraft_addr = \"127.0.0.1:{}\"\n", n + 1, ports[3 * n + 1]))
        .collect();
    let mut nodes: Vec<Node> = (0..3)
        .map(|n| {
            let config = tmp.path().join(format!("node{}.toml", n + 1));
            let text = format!(
                "cluster_id = \"proc-test\"\nregion = \"us-east-1\"\nnode_id = {}\ndata_dir = \"{}\"\napi_addr = \"127.0.0.1:{}\"\nraft_addr = \"127.0.0.1:{}\"\nadmin_addr = \"127.0.0.1:{}\"\nroot_key_file = \"{}\"\nplaintext = true\n{peers}\n[[credentials]]\naccess_key_id = \"{ak}\"\nsecret_access_key = \"{sk}\"\naccount_id = \"111122223333\"\n",
                n + 1,
                tmp.path().join(format!("node{}", n + 1)).display(),
                ports[3 * n],
                ports[3 * n + 1],
                ports[3 * n + 2],
                root.display()
            );
            std::fs::write(&config, text).expect("config");
            Node {
                config,
                api: format!("http://127.0.0.1:{}", ports[3 * n]),
                admin: format!("http://127.0.0.1:{}", ports[3 * n + 2]),
                child: None,
            }
        })
        .collect();
    for n in nodes.iter_mut() {
        n.child = Some(spawn(&["serve", "--config", n.config.to_str().unwrap()], &log));
    }
    let admins: Vec<String> = nodes.iter().map(|n| n.admin.clone()).collect();
    wait_healthy(&admins, &log).await;

    // Writes run through whichever node answers; the victim is killed and restarted meanwhile.
    let clients: Vec<_> = nodes.iter().map(|n| sdk_client(&n.api, "us-east-1", ak, sk)).collect();
    // The victim is the leader: its death forces an election while writes run.
    let status: serde_json::Value =
        reqwest::get(format!("{}/v1/status", nodes[0].admin)).await.expect("status").json().await.expect("json");
    let leader = status["nodes"][0]["status"]["leader"].as_u64().expect("a leader");
    let victim = (leader - 1) as usize;
    let survivors: Vec<usize> = (0..3).filter(|i| *i != victim).collect();
    let mut acked: Vec<String> = Vec::new();
    let mut attempts = 0;
    while acked.len() < 60 {
        attempts += 1;
        assert!(attempts < 400, "too many failed writes: {} acked of {attempts}", acked.len());
        if acked.len() == 15 && nodes[victim].child.is_some() {
            kill9(nodes[victim].child.as_mut().unwrap());
            nodes[victim].child = None;
        }
        if acked.len() == 40 && nodes[victim].child.is_none() {
            nodes[victim].child = Some(spawn(&["serve", "--config", nodes[victim].config.to_str().unwrap()], &log));
        }
        let via = survivors[attempts % 2];
        match clients[via].create_key().description(format!("w{}", acked.len())).send().await {
            Ok(out) => acked.push(out.key_metadata().unwrap().key_id().to_owned()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    wait_healthy(&admins, &log).await;
    // The restarted node serves every acknowledged key.
    for id in &acked {
        clients[victim]
            .describe_key()
            .key_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("key {id} missing on restarted node: {e:?}"));
    }
    // And the killed node's own state holds them too (not just via the leader).
    let status: serde_json::Value =
        reqwest::get(format!("{}/v1/status", nodes[victim].admin)).await.expect("status").json().await.expect("json");
    let mine = status["nodes"].as_array().unwrap().iter().find(|n| n["node_id"] == leader).expect("victim");
    assert!(mine["status"]["keys"].as_u64().unwrap() >= acked.len() as u64, "{mine}");
    for n in nodes.iter_mut() {
        if let Some(c) = n.child.as_mut() {
            kill9(c);
        }
    }
}

/// Two regions of three `keyraft serve` processes each, configured as a deployment would be
/// (`transport_key_file`, `[[regions]]` with the other region's transport public key and Raft
/// addresses): a multi-region key replicates between separate processes, a rotation made while
/// the whole replica region is down (kill -9) reaches it when it returns, and its ciphertexts
/// cross regions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_region_key_between_separate_processes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let log = tmp.path().join("keyraft.log");
    let ports = keyraft_testkit::free_ports(18);
    let (ak, sk) = ("AKIAPROCESSTEST00002", "process-test-secret-1111111111111111111");
    let regions = ["us-east-1", "eu-west-1"];
    let mut publics = Vec::new();
    for r in regions {
        keyraft_server::secrets::ensure_root_key(&tmp.path().join(format!("{r}-root.key"))).expect("root key");
        let t = keyraft_server::secrets::ensure_transport_key(&tmp.path().join(format!("{r}-transport.key")))
            .expect("transport key");
        publics.push(hex::encode(t.public_key()));
    }
    let port = |ri: usize, n: usize, kind: usize| ports[ri * 9 + n * 3 + kind];
    let raft_addrs = |ri: usize| (0..3).map(|n| format!("\"127.0.0.1:{}\"", port(ri, n, 1))).collect::<Vec<_>>();
    let mut nodes: Vec<(usize, Node)> = Vec::new();
    for (ri, r) in regions.iter().enumerate() {
        let other = 1 - ri;
        let peers: String = (0..3)
            .map(|n| format!("[[peers]]\nid = {}\nraft_addr = \"127.0.0.1:{}\"\n", n + 1, port(ri, n, 1)))
            .collect();
        for n in 0..3 {
            let config = tmp.path().join(format!("{r}-node{}.toml", n + 1));
            let text = format!(
                "cluster_id = \"proc-mrk\"\nregion = \"{r}\"\nnode_id = {}\ndata_dir = \"{}\"\napi_addr = \"127.0.0.1:{}\"\nraft_addr = \"127.0.0.1:{}\"\nadmin_addr = \"127.0.0.1:{}\"\nroot_key_file = \"{}\"\nplaintext = true\ntransport_key_file = \"{}\"\n{peers}\n[[credentials]]\naccess_key_id = \"{ak}\"\nsecret_access_key = \"{sk}\"\naccount_id = \"111122223333\"\n\n[[regions]]\nname = \"{}\"\ntransport_public_key = \"{}\"\nraft_addrs = [{}]\n",
                n + 1,
                tmp.path().join(format!("{r}-node{}", n + 1)).display(),
                port(ri, n, 0),
                port(ri, n, 1),
                port(ri, n, 2),
                tmp.path().join(format!("{r}-root.key")).display(),
                tmp.path().join(format!("{r}-transport.key")).display(),
                regions[other],
                publics[other],
                raft_addrs(other).join(", ")
            );
            std::fs::write(&config, text).expect("config");
            nodes.push((
                ri,
                Node {
                    config,
                    api: format!("http://127.0.0.1:{}", port(ri, n, 0)),
                    admin: format!("http://127.0.0.1:{}", port(ri, n, 2)),
                    child: None,
                },
            ));
        }
    }
    for (_, n) in nodes.iter_mut() {
        n.child = Some(spawn(&["serve", "--config", n.config.to_str().expect("utf8")], &log));
    }
    let admins: Vec<String> = nodes.iter().map(|(_, n)| n.admin.clone()).collect();
    wait_healthy(&admins, &log).await;
    let us = sdk_client(&nodes[0].1.api, "us-east-1", ak, sk);
    let eu = sdk_client(&nodes[4].1.api, "eu-west-1", ak, sk);

    let id =
        us.create_key().multi_region(true).send().await.expect("create").key_metadata().unwrap().key_id().to_owned();
    us.replicate_key().key_id(&id).replica_region("eu-west-1").send().await.expect("replicate between processes");
    let blob = us.encrypt().key_id(&id).plaintext(Blob::new("v1")).send().await.expect("encrypt");
    let pt = eu.decrypt().ciphertext_blob(blob.ciphertext_blob().unwrap().clone()).send().await.expect("decrypt in eu");
    assert_eq!(pt.plaintext().unwrap().as_ref(), b"v1");

    // The whole replica region dies; a rotation cannot be confirmed and is not used yet.
    for (ri, n) in nodes.iter_mut() {
        if *ri == 1 {
            kill9(n.child.as_mut().expect("running"));
            n.child = None;
        }
    }
    let r = us.rotate_key_on_demand().key_id(&id).send().await;
    assert_eq!(keyraft_testkit::check::outcome(&r), "DependencyTimeoutException", "{r:?}");
    for (ri, n) in nodes.iter_mut() {
        if *ri == 1 {
            n.child = Some(spawn(&["serve", "--config", n.config.to_str().expect("utf8")], &log));
        }
    }
    wait_healthy(&admins, &log).await;
    let mut version = 0;
    for _ in 0..300 {
        if let Ok(o) = eu.encrypt().key_id(&id).plaintext(Blob::new("v2")).send().await {
            let b = o.ciphertext_blob().unwrap().as_ref().to_vec();
            version = u32::from_be_bytes(b[2 + usize::from(b[1])..6 + usize::from(b[1])].try_into().unwrap());
            if version == 2 {
                let pt = us.decrypt().ciphertext_blob(Blob::new(b)).send().await.expect("decrypt in us");
                assert_eq!(pt.plaintext().unwrap().as_ref(), b"v2");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(version, 2, "the rotation did not reach the returning region");
    // `keyraft dr status` against a node of the replica region.
    let out = Command::new(BIN).args(["dr", "status", "--endpoint", &nodes[3].1.admin]).output().expect("dr status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(&id) && text.contains("REPLICA"), "{text}");
    for (_, n) in nodes.iter_mut() {
        if let Some(c) = n.child.as_mut() {
            kill9(c);
        }
    }
}
