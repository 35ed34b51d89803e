//! HTTPS for the AWS API: rustls (aws-lc-rs) in front of the axum router, HTTP/1.1 over hyper.
//!
//! Each connection's peer address goes into the request extensions as axum's
//! `ConnectInfo<SocketAddr>`, as `into_make_service_with_connect_info` does for plain HTTP, so
//! `aws:SourceIp` and the audit trail see the client's address.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use keyraft_raft::tls::{NodeCert, PeerIdentity, PeerTls};
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

/// A client has this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections have this long to finish their requests after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A node's TLS, from `[tls]`: its certificate, reloadable ([`NodeCert::reload`]: `keyraft`
/// reloads it on SIGHUP and on `POST /v1/tls/reload`), the AWS API's server configuration and the
/// Raft listener's mutual TLS, all resolving that one certificate.
#[derive(Clone)]
pub struct NodeTls {
    pub cert: Arc<NodeCert>,
    pub api: Arc<rustls::ServerConfig>,
    /// The admin API: HTTPS, a client certificate of the deployment CA optional (the operator
    /// routes require an operator's, `crate::admin`).
    pub admin: Arc<rustls::ServerConfig>,
    pub peer: Arc<PeerTls>,
}

/// Reads `[tls]`. The certificate must name this node (`keyraft://<region>/<node id>`): a node
/// started with another node's files refuses to start rather than be refused by every peer.
pub fn node_tls(tls: &TlsConfig, node: &crate::NodeConfig) -> anyhow::Result<NodeTls> {
    let what = || format!("[tls] of node {} of {}", node.node_id, node.region);
    let cert = Arc::new(NodeCert::load(&tls.cert_file, &tls.key_file).with_context(what)?);
    let expected = PeerIdentity::Node { region: node.region.clone(), node: node.node_id };
    anyhow::ensure!(
        *cert.identity() == expected,
        "{} names {}, but this node is {expected}",
        tls.cert_file.display(),
        cert.identity()
    );
    let cas = keyraft_raft::tls::read_certs(&tls.ca_file).with_context(what)?;
    let peer = Arc::new(PeerTls::new(cert.clone(), cas.clone()).with_context(what)?);
    Ok(NodeTls { api: api_config(cert.clone())?, admin: admin_config(cert.clone(), cas)?, cert, peer })
}

/// The admin API's server configuration: the node's certificate; a client certificate is asked
/// for and, when given, must chain to the deployment CA (else the handshake fails); without one
/// the client reaches only the routes that need none.
pub fn admin_config(
    cert: Arc<NodeCert>,
    cas: Vec<CertificateDer<'static>>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots.add(ca)?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The rustls server configuration of the AWS API: the node's certificate, TLS 1.2 and 1.3 with
/// aws-lc-rs, ALPN `http/1.1`, no client certificates (callers sign with SigV4).
pub fn api_config(cert: Arc<NodeCert>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` over HTTPS on `listener` until `shutdown` completes, then lets open connections
/// finish their requests (up to 5 s).
pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: axum::Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    tracing::warn!(error = %e, "accepting an HTTPS connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, app, watcher) = (acceptor.clone(), app.clone(), graceful.watcher());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            // Who the client certificate names, if the listener asked for one and got it.
            let identity = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|leaf| PeerIdentity::from_certificate(leaf).ok());
            let client = crate::admin::ClientIdentity(identity);
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(client.clone());
                tower_service::Service::call(&mut app.clone(), req)
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("HTTPS connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{self, PkiOptions};

    #[test]
    fn node_tls_checks_the_files_and_reloads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let region = keyraft_core::Region::parse("us-east-1").unwrap();
        pki::init(&PkiOptions::new(&dir, vec![region.clone()])).unwrap();
        let node = |cert: &str, key: &str| TlsConfig {
            cert_file: dir.join("us-east-1").join(cert),
            key_file: dir.join("us-east-1").join(key),
            ca_file: dir.join("ca.pem"),
        };
        let cfg = |id: u64| {
            let text = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../cluster-config/us-east-1/node1.toml"
            ))
            .unwrap();
            let mut c: crate::NodeConfig = toml::from_str(&text).unwrap();
            c.node_id = id;
            c
        };
        let t = node_tls(&node("node1.pem", "node1-key.pem"), &cfg(1)).expect("node 1's own files");
        assert_eq!(t.api.alpn_protocols, [b"http/1.1".to_vec()]);
        assert_eq!(t.peer.identity().to_string(), "keyraft://us-east-1/1");
        // Another node's key does not go with this certificate.
        let err = node_tls(&node("node1.pem", "node2-key.pem"), &cfg(1)).err().expect("mismatched key");
        assert!(format!("{err:#}").contains("node1.pem"), "{err:#}");
        let err = node_tls(&node("node9.pem", "node1-key.pem"), &cfg(1)).err().expect("missing file");
        assert!(format!("{err:#}").contains("node9.pem"), "{err:#}");
        // A key file given as the certificate holds no certificate.
        assert!(node_tls(&node("node1-key.pem", "node1-key.pem"), &cfg(1)).is_err());
        // The certificate must name the node it is given to.
        let err = node_tls(&node("node1.pem", "node1-key.pem"), &cfg(2)).err().expect("node 1's files on node 2");
        assert!(
            format!("{err:#}").contains("names keyraft://us-east-1/1, but this node is keyraft://us-east-1/2"),
            "{err:#}"
        );
        let mut no_ca = node("node1.pem", "node1-key.pem");
        no_ca.ca_file = dir.join("missing-ca.pem");
        assert!(node_tls(&no_ca, &cfg(1)).is_err());

        // Rotation: a new certificate for the same node is taken; another node's is refused and
        // the current one stays.
        let before = t.cert.summary().unwrap();
        let mut opts = PkiOptions::new(&dir, vec![region.clone()]);
        opts.force = true;
        pki::issue(&opts, &region, 1).expect("issue");
        let after = t.cert.reload().expect("reload the new certificate");
        assert_eq!(after.identity, "keyraft://us-east-1/1");
        assert_ne!(after.serial, before.serial);
        assert_eq!(t.cert.summary().unwrap(), after);
        std::fs::copy(dir.join("us-east-1/node2.pem"), dir.join("us-east-1/node1.pem")).unwrap();
        std::fs::copy(dir.join("us-east-1/node2-key.pem"), dir.join("us-east-1/node1-key.pem")).unwrap();
        let err = t.cert.reload().expect_err("node 2's certificate at node 1's paths");
        assert!(err.to_string().contains("names keyraft://us-east-1/2"), "{err}");
        assert_eq!(t.cert.summary().unwrap(), after);
    }
}
