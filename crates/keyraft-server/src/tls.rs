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
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

/// A client has this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections have this long to finish their requests after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The rustls server configuration of `[tls]` for the AWS API: the node's certificate chain and
/// key, TLS 1.2 and 1.3 with aws-lc-rs, ALPN `http/1.1`, no client certificates (callers sign
/// with SigV4).
pub fn server_config(tls: &TlsConfig) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert_file)
        .and_then(|it| it.collect())
        .with_context(|| format!("reading certificates from {}", tls.cert_file.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", tls.cert_file.display());
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .with_context(|| format!("reading the private key from {}", tls.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| format!("{} and {}", tls.cert_file.display(), tls.key_file.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The mutual TLS of the Raft listener (`keyraft_raft::tls`), from `[tls]`. The certificate must
/// name this node (`keyraft://<region>/<node id>`): a node started with another node's files
/// refuses to start rather than be refused by every peer.
pub fn peer_tls(tls: &TlsConfig, node: &crate::NodeConfig) -> anyhow::Result<Arc<keyraft_raft::tls::PeerTls>> {
    let peer = keyraft_raft::tls::PeerTls::load(&tls.cert_file, &tls.key_file, &tls.ca_file)
        .with_context(|| format!("[tls] of node {} of {}", node.node_id, node.region))?;
    let expected = keyraft_raft::tls::PeerIdentity::Node { region: node.region.clone(), node: node.node_id };
    anyhow::ensure!(
        *peer.identity() == expected,
        "{} names {}, but this node is {expected}",
        tls.cert_file.display(),
        peer.identity()
    );
    Ok(Arc::new(peer))
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
                    tracing::warn!(error = %e, "accepting an AWS API connection");
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
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
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
    fn server_config_checks_the_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        pki::init(&PkiOptions::new(&dir, vec![keyraft_core::Region::parse("us-east-1").unwrap()])).unwrap();
        let node = |cert: &str, key: &str| TlsConfig {
            cert_file: dir.join("us-east-1").join(cert),
            key_file: dir.join("us-east-1").join(key),
            ca_file: dir.join("ca.pem"),
        };
        let config = server_config(&node("node1.pem", "node1-key.pem")).expect("node 1's own files");
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        // Another node's key does not go with this certificate.
        let err = server_config(&node("node1.pem", "node2-key.pem")).expect_err("mismatched key");
        assert!(format!("{err:#}").contains("node1.pem"), "{err:#}");
        let err = server_config(&node("node9.pem", "node1-key.pem")).expect_err("missing file");
        assert!(format!("{err:#}").contains("node9.pem"), "{err:#}");
        // A key file given as the certificate holds no certificate.
        assert!(server_config(&node("node1-key.pem", "node1-key.pem")).is_err());

        // The Raft listener's mutual TLS: the certificate must name the node it is given to.
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
        let peer = peer_tls(&node("node1.pem", "node1-key.pem"), &cfg(1)).expect("node 1's own certificate");
        assert_eq!(peer.identity().to_string(), "keyraft://us-east-1/1");
        let err = peer_tls(&node("node1.pem", "node1-key.pem"), &cfg(2)).expect_err("node 1's files on node 2");
        assert!(
            format!("{err:#}").contains("names keyraft://us-east-1/1, but this node is keyraft://us-east-1/2"),
            "{err:#}"
        );
        let mut no_ca = node("node1.pem", "node1-key.pem");
        no_ca.ca_file = dir.join("missing-ca.pem");
        assert!(peer_tls(&no_ca, &cfg(1)).is_err());
    }
}
