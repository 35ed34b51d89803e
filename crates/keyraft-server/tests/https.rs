//! HTTPS for the AWS API with the deployment PKI of `keyraft pki init`: aws-sdk-kms trusting only
//! the deployment CA works; a client that does not trust it, and plain HTTP, are refused.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_sdk_kms::primitives::Blob;
use aws_smithy_http_client::tls;
use keyraft_core::Region;
use keyraft_server::pki::{self, PkiOptions};
use keyraft_server::NodeConfig;
use keyraft_testkit::{sdk_client, use_pki, Cluster};

const REGION: &str = "us-east-1";

/// The PKI the cluster's nodes serve with (a `fn` tweak cannot capture it).
static PKI_DIR: OnceLock<PathBuf> = OnceLock::new();

fn with_tls(cfg: &mut NodeConfig) {
    cfg.heartbeat_ms = Some(50);
    use_pki(cfg, PKI_DIR.get().expect("PKI created before the cluster"));
}

fn regions(names: &[&str]) -> Vec<Region> {
    names.iter().map(|r| Region::parse(r).expect("region")).collect()
}

/// aws-sdk-kms whose HTTPS client trusts exactly `trust`.
fn https_client(endpoint: &str, trust: tls::TrustStore, cluster: &Cluster) -> aws_sdk_kms::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(tls::TlsContext::builder().with_trust_store(trust).build().expect("TLS context"))
        .build_https();
    let base = sdk_client(endpoint, REGION, &cluster.info.access_key_id, &cluster.info.secret_access_key);
    aws_sdk_kms::Client::from_conf(base.config().to_builder().http_client(http).build())
}

fn trusting(ca: &Path) -> tls::TrustStore {
    tls::TrustStore::empty().with_native_roots(false).with_pem_certificate(std::fs::read(ca).expect("ca.pem"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_api_over_https_with_the_deployment_ca() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("pki");
    pki::init(&PkiOptions::new(&dir, regions(&[REGION]))).expect("pki init");
    PKI_DIR.set(dir.clone()).expect("one PKI per test binary");
    // Another deployment's CA: a client trusting only it must not accept our nodes.
    let other = tmp.path().join("other");
    pki::init(&PkiOptions::new(&other, regions(&[REGION]))).expect("other pki init");

    let cluster = Cluster::ready_with(&[REGION], with_tls).await.expect("cluster");
    let node1 = cluster.node(REGION, 1);
    assert!(node1.api_url.starts_with("https://127.0.0.1:"), "{}", node1.api_url);
    let url = |n: u64| cluster.node(REGION, n).api_url.clone();

    // Trusting only the deployment CA: CreateKey on one node, Encrypt on another, Decrypt on a third.
    let kms1 = https_client(&url(1), trusting(&dir.join("ca.pem")), &cluster);
    let key = kms1.create_key().description("over https").send().await.expect("CreateKey over HTTPS");
    let key_id = key.key_metadata().expect("metadata").key_id().to_owned();
    let kms2 = https_client(&url(2), trusting(&dir.join("ca.pem")), &cluster);
    let blob = kms2
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"hello over tls".to_vec()))
        .send()
        .await
        .expect("Encrypt over HTTPS")
        .ciphertext_blob
        .expect("blob");
    let kms3 = https_client(&url(3), trusting(&dir.join("ca.pem")), &cluster);
    let out = kms3.decrypt().ciphertext_blob(blob).send().await.expect("Decrypt over HTTPS");
    assert_eq!(out.plaintext().expect("plaintext").as_ref(), b"hello over tls");

    // aws:SecureTransport is true over HTTPS: a key policy refusing plain transport lets it through.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{a}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#,
        a = cluster.info.account_id
    );
    kms1.put_key_policy().key_id(&key_id).policy(policy).send().await.expect("policy");
    kms2.encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .expect("Encrypt over HTTPS, SecureTransport true");

    // The edge still sees the client's address (aws:SourceIp, the audit trail).
    let audit = std::fs::read_to_string(node1.config.audit_path()).expect("audit trail");
    let create = audit.lines().find(|l| l.contains("\"CreateKey\"")).expect("CreateKey audited");
    assert!(create.contains("\"sourceIPAddress\":\"127.0.0.1\""), "{create}");

    // Clients that do not trust the deployment CA fail the handshake.
    for (what, trust) in
        [("another deployment's CA", trusting(&other.join("ca.pem"))), ("the system roots", tls::TrustStore::default())]
    {
        let err = https_client(&url(1), trust, &cluster)
            .list_keys()
            .send()
            .await
            .expect_err(&format!("a client trusting {what} must not connect"));
        let text = format!("{err:?}");
        assert!(err.as_service_error().is_none(), "{what}: got an answer from the server: {text}");
        assert!(text.contains("InvalidCertificate"), "{what}: {text}");
    }

    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = url(1).replacen("https://", "http://", 1);
    let r = reqwest::Client::new()
        .post(&plain)
        .header("X-Amz-Target", "TrentService.ListKeys")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await;
    assert!(r.is_err(), "plain HTTP to the HTTPS port answered: {r:?}");
    let err = sdk_client(&plain, REGION, &cluster.info.access_key_id, &cluster.info.secret_access_key)
        .list_keys()
        .send()
        .await
        .expect_err("plain HTTP SDK call");
    assert!(err.as_service_error().is_none(), "{err:?}");

    cluster.shutdown().await;
}

/// The position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn der(pem_file: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(pem_file).expect("certificate PEM").to_vec()
}

#[test]
fn pki_init_writes_named_certificates_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("pki");
    let mut opts = PkiOptions::new(&dir, regions(&["us-east-1", "eu-west-1"]));
    opts.hosts = vec!["kms-{short}-{node}.example.com".into()];
    let files = pki::init(&opts).expect("pki init");
    assert_eq!(files.nodes.len(), 6);

    for name in [
        "ca.pem",
        "ca-key.pem",
        "operator.pem",
        "operator-key.pem",
        "us-east-1/node1.pem",
        "us-east-1/node3-key.pem",
        "eu-west-1/node2.pem",
        "eu-west-1/node2-key.pem",
    ] {
        let meta = std::fs::metadata(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let want = if name.ends_with("-key.pem") { 0o600 } else { 0o644 };
            assert_eq!(meta.permissions().mode() & 0o777, want, "{name}");
        }
        let _ = meta;
    }

    // The URI SAN is a GeneralName uniformResourceIdentifier ([6] IMPLICIT IA5String: 0x86).
    let san = |file: &str, value: &str| {
        let der = der(&dir.join(file));
        let mut tagged = vec![0x86, value.len() as u8];
        tagged.extend_from_slice(value.as_bytes());
        find(&der, &tagged).is_some()
    };
    assert!(san("us-east-1/node1.pem", "keyraft://us-east-1/1"));
    assert!(san("eu-west-1/node3.pem", "keyraft://eu-west-1/3"));
    assert!(!san("eu-west-1/node3.pem", "keyraft://us-east-1/3"));
    assert!(san("operator.pem", "keyraft://operator/admin"));

    // The same, read by openssl where it is installed.
    let openssl = |args: &[&str]| std::process::Command::new("openssl").args(args).output().ok();
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let (ca, node1, node2, operator) =
        (p("ca.pem"), p("us-east-1/node1.pem"), p("eu-west-1/node2.pem"), p("operator.pem"));
    if let Some(out) = openssl(&["x509", "-noout", "-ext", "subjectAltName", "-in", &node2]) {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for want in [
            "DNS:localhost",
            "IP Address:127.0.0.1",
            "DNS:keyraft-euw1-2",
            "DNS:kms-euw1-2.example.com",
            "URI:keyraft://eu-west-1/2",
        ] {
            assert!(text.contains(want), "{want} not in {text}");
        }
        let out =
            openssl(&["x509", "-noout", "-ext", "basicConstraints,keyUsage", "-in", &ca]).expect("openssl ran before");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("CA:TRUE") && text.contains("Certificate Sign"), "{text}");
        let verify = openssl(&["verify", "-CAfile", &ca, &node1, &operator]).expect("openssl ran before");
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    } else {
        eprintln!("openssl not installed: SANs checked in the DER only");
    }

    // Each region's root and transport keys: 64 hex digits, mode 0600, different per region.
    assert_eq!(files.secrets.len(), 2);
    let mut seen = std::collections::BTreeSet::new();
    for r in &files.secrets {
        for f in [&r.root_key, &r.transport_key] {
            let text = std::fs::read_to_string(f).expect("secret");
            assert!(text.trim().len() == 64 && text.trim().bytes().all(|b| b.is_ascii_hexdigit()), "{}", f.display());
            assert!(seen.insert(text), "{} repeats another secret", f.display());
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(std::fs::metadata(f).expect("meta").permissions().mode() & 0o777, 0o600, "{}", f.display());
            }
        }
        assert_eq!(r.transport_public_key.len(), 64);
        keyraft_server::secrets::read_root_key(&r.root_key).expect("a root key file the node reads");
    }
    let root_before = std::fs::read(&files.secrets[0].root_key).expect("root key");

    // A second run refuses and changes nothing; --force replaces everything but the regions' root
    // and transport keys (a new root key would leave every stored key unreadable).
    let before = std::fs::read(dir.join("ca.pem")).expect("ca");
    let err = pki::init(&opts).expect_err("a second init must refuse");
    assert!(format!("{err:#}").contains("--force"), "{err:#}");
    assert_eq!(std::fs::read(dir.join("ca.pem")).expect("ca"), before);
    opts.force = true;
    pki::init(&opts).expect("init --force");
    assert_ne!(std::fs::read(dir.join("ca.pem")).expect("ca"), before);
    assert_eq!(std::fs::read(&files.secrets[0].root_key).expect("root key"), root_before, "root key kept");
}
