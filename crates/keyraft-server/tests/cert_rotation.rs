//! Certificate rotation without downtime: every node of a TLS region gets a new certificate
//! (`keyraft pki issue --force`) and reloads it (`POST /v1/tls/reload`, as SIGHUP does) while
//! clients run Encrypt and CreateKey against all three nodes. New handshakes on the AWS API and
//! on the mutual-TLS Raft listener present the new certificate, Raft between the nodes goes on
//! with the new client certificates, and no request fails. The admin API is HTTPS and its
//! operations that change or export the region need an operator certificate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use keyraft_core::Region;
use keyraft_raft::tls::CertSummary;
use keyraft_server::admin_client::{AdminClient, Answer};
use keyraft_server::pki::{self, PkiOptions};
use keyraft_server::NodeConfig;
use keyraft_testkit::{use_pki, Cluster};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

const R: &str = "us-east-1";

fn pki_dir() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let d = DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("pki");
        pki::init(&PkiOptions::new(&dir, vec![Region::parse(R).expect("region")])).expect("pki init");
        (tmp, dir)
    });
    &d.1
}

fn with_tls(cfg: &mut NodeConfig) {
    cfg.heartbeat_ms = Some(50);
    use_pki(cfg, pki_dir());
}

fn https_client(c: &Cluster, n: u64) -> aws_sdk_kms::Client {
    c.https_client(R, n, &std::fs::read(pki_dir().join("ca.pem")).expect("ca.pem"))
}

/// The certificate a fresh TLS handshake with `addr` gets (presenting the operator's client
/// certificate, which the Raft listener's mutual TLS asks for), with ALPN `alpn`.
async fn presented(addr: &str, alpn: &[u8]) -> CertSummary {
    let dir = pki_dir();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("ca.pem")).expect("ca") {
        roots.add(ca.expect("ca pem")).expect("root");
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("operator.pem"))
        .expect("operator.pem")
        .map(|c| c.expect("pem"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("operator-key.pem")).expect("operator key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client cert");
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("TLS handshake");
    let leaf = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).expect("server certificate");
    CertSummary::of(leaf).expect("summary")
}

/// The admin API client with the operator's certificate (`who` = "operator"), a node's
/// ("us-east-1/node2"), or none.
fn admin_client(who: Option<&str>) -> AdminClient {
    let dir = pki_dir();
    let client = who.map(|w| (dir.join(format!("{w}.pem")), dir.join(format!("{w}-key.pem"))));
    AdminClient::with_tls(&dir.join("ca.pem"), client.as_ref().map(|(c, k)| (c.as_path(), k.as_path())))
        .expect("admin client")
}

async fn reload(admin: &str) -> Answer {
    admin_client(Some("operator"))
        .post(&format!("{admin}/v1/tls/reload"), "application/json", Vec::new())
        .await
        .expect("reload")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_node_rotates_its_certificate_under_load_without_a_failed_request() {
    let mut c = Cluster::ready_with(&[R], with_tls).await.expect("cluster over TLS");
    let clients: Vec<aws_sdk_kms::Client> = (1..=3).map(|n| https_client(&c, n)).collect();
    let key = clients[0].create_key().send().await.expect("CreateKey").key_metadata.expect("meta").key_id;

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut load = Vec::new();
    for (w, client) in clients.iter().cloned().enumerate() {
        let (stop, failures, key) = (stop.clone(), failures.clone(), key.clone());
        load.push(tokio::spawn(async move {
            let mut ok = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let r = if i % 5 == 4 {
                    client
                        .create_key()
                        .description(format!("rotation {w}"))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("{e:?}"))
                } else {
                    client
                        .encrypt()
                        .key_id(&key)
                        .plaintext(Blob::new(b"rotate".to_vec()))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("{e:?}"))
                };
                match r {
                    Ok(()) => ok += 1,
                    Err(e) => failures.lock().expect("failures").push(format!("node {}: {e}", w + 1)),
                }
                i += 1;
            }
            ok
        }));
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    let region = Region::parse(R).expect("region");
    let mut opts = PkiOptions::new(pki_dir(), vec![region.clone()]);
    opts.force = true;
    for n in 1..=3u64 {
        let node = c.node(R, n);
        let api_addr = node.api_url.trim_start_matches("https://").to_owned();
        let raft_addr = node.config.raft_addr.clone();
        let before = presented(&api_addr, b"http/1.1").await;
        assert_eq!(presented(&raft_addr, b"h2").await, before, "node {n}: one certificate for both listeners");
        assert_eq!(before.identity, format!("keyraft://us-east-1/{n}"));

        pki::issue(&opts, &region, n).expect("issue a new certificate");
        let resp = reload(&node.admin_url).await;
        let after: CertSummary = resp.json("reload").expect("node reload");
        assert_ne!(after.serial, before.serial, "node {n}: a new certificate");
        assert_eq!(presented(&api_addr, b"http/1.1").await, after, "node {n}: AWS API handshakes get the new one");
        assert_eq!(presented(&raft_addr, b"h2").await, after, "node {n}: Raft handshakes get the new one");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Raft keeps working over the new certificates: a write through every node, and a new
    // connection between the nodes (a restarted node dials its peers afresh).
    for client in &clients {
        client.create_key().description("after the rotation").send().await.expect("CreateKey after the rotation");
    }
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    for l in load {
        total += l.await.expect("load");
    }
    let failures = failures.lock().expect("failures").clone();
    eprintln!("certificate rotation of 3 nodes under load: {total} requests succeeded, {} failed", failures.len());
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(total > 50, "the load ran: {total} requests");

    // New connections between the nodes with the new certificates: node 3 restarts and dials its
    // peers afresh (they dial it too); it catches up and serves a write made through it.
    c.stop_node(R, 3).await;
    let made = clients[0].create_key().description("while node 3 restarts").send().await.expect("CreateKey");
    let made = made.key_metadata.expect("meta").key_id;
    c.start_node(R, 3).await.expect("restart node 3");
    let c3 = https_client(&c, 3);
    let mut seen = false;
    for _ in 0..100 {
        if c3.describe_key().key_id(&made).send().await.is_ok() {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "restarted node 3 caught up over the new certificates");
    c3.create_key().description("through restarted node 3").send().await.expect("CreateKey via node 3");

    // A reload of files that do not hold this node's certificate is refused; the current one stays.
    let node1 = c.node(R, 1);
    let url = format!("{}/v1/tls", node1.admin_url);
    let current: CertSummary = admin_client(None).get(&url).await.expect("GET /v1/tls").json(&url).expect("json");
    std::fs::copy(pki_dir().join(R).join("node2.pem"), pki_dir().join(R).join("node1.pem")).expect("copy");
    std::fs::copy(pki_dir().join(R).join("node2-key.pem"), pki_dir().join(R).join("node1-key.pem")).expect("copy");
    let resp = reload(&node1.admin_url).await;
    assert_eq!(resp.status.as_u16(), 409);
    let why = String::from_utf8_lossy(&resp.body).to_string();
    assert!(why.contains("names keyraft://us-east-1/2"), "{why}");
    let api_addr = node1.api_url.trim_start_matches("https://").to_owned();
    assert_eq!(presented(&api_addr, b"http/1.1").await, current);

    // The admin API is HTTPS; the operations that change or export the region need the operator's
    // certificate: without one, or with a node's, they are refused (403) before they run.
    assert!(node1.admin_url.starts_with("https://"), "{}", node1.admin_url);
    for (who, client) in
        [("no certificate", admin_client(None)), ("a node's certificate", admin_client(Some("us-east-1/node3")))]
    {
        for (method, path) in [
            ("POST", "/v1/tls/reload"),
            ("GET", "/v1/backup"),
            ("POST", "/v1/membership"),
            ("POST", "/v1/dr/promote"),
            ("POST", "/v1/restore"),
        ] {
            let url = format!("{}{path}", node1.admin_url);
            let a = match method {
                "GET" => client.get(&url).await,
                _ => client.post(&url, "application/json", b"{}".to_vec()).await,
            }
            .expect("answered");
            assert_eq!(a.status.as_u16(), 403, "{who}: {method} {path}: {}", String::from_utf8_lossy(&a.body));
            assert!(String::from_utf8_lossy(&a.body).contains("operator client certificate"), "{who} {path}");
        }
        // Reading stays open to any client that trusts the CA.
        let s = format!("{}/v1/status", node1.admin_url);
        assert!(client.get(&s).await.expect("status").status.is_success(), "{who}: /v1/status");
    }
    assert_eq!(reload(&node1.admin_url).await.status.as_u16(), 409, "the operator gets past the gate");
    // Every operator-route call, admitted or refused, is a record of node 1's hash-chained audit
    // trail: the successful rotation, the refusals (403) and the refused reload (409).
    let path = node1.config.audit_path();
    let verified = keyraft_server::audit::verify_file(&path).expect("read the audit trail");
    assert!(verified.is_ok(), "the chain verifies");
    let admin: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .expect("audit trail")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("record"))
        .filter(|r| r["eventSource"] == "keyraft-admin.keyraft")
        .collect();
    let find = |name: &str, kind: &str, code: Option<&str>| {
        admin.iter().any(|r| {
            r["eventName"] == name
                && r["userIdentity"]["type"] == kind
                && r["errorCode"].as_str() == code
                && r["eventType"] == "KeyraftAdminCall"
        })
    };
    assert!(find("ReloadCertificate", "KeyraftOperator", None), "the rotation: {admin:#?}");
    assert!(find("ReloadCertificate", "KeyraftOperator", Some("HTTP409")), "the refused reload");
    for name in ["ReloadCertificate", "Backup", "ChangeMembership", "ForcePromote", "Restore"] {
        assert!(find(name, "Unknown", Some("HTTP403")), "{name} without a certificate");
        assert!(find(name, "KeyraftNode", Some("HTTP403")), "{name} with a node's certificate");
    }
    let ok = admin.iter().find(|r| r["eventName"] == "ReloadCertificate" && r["errorCode"].is_null()).expect("ok");
    assert_eq!(ok["userIdentity"]["arn"], "keyraft://operator/admin");
    assert_eq!(ok["sourceIPAddress"], "127.0.0.1");
    assert!(ok["responseElements"]["serial"].is_string(), "{ok}");

    // A client that does not trust the deployment CA does not get through the handshake.
    let plain = node1.admin_url.replacen("https://", "http://", 1);
    assert!(AdminClient::plain().get(&format!("{plain}/healthz")).await.is_err(), "plain HTTP to the HTTPS admin port");
    c.shutdown().await;
}
