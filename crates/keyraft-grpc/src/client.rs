//! A mutual-TLS client of the gRPC KMS API (`keyraft kms`, tests): the operator's certificate
//! and key, the deployment CA, and a server that must present a node certificate of that CA
//! (`keyraft://<region>/<node>`, any region) valid for the host dialled.

use std::path::Path;
use std::sync::Arc;

use keyraft_raft::tls::PeerConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;
use tonic::transport::{Channel, Endpoint};

use crate::error::GrpcError;
use crate::pb::kms_client::KmsClient;

/// A client's TLS setup.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").finish_non_exhaustive()
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, GrpcError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect())
        .map_err(|e| GrpcError::Tls(format!("reading certificates from {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(GrpcError::Tls(format!("{} holds no certificate", path.display())));
    }
    Ok(certs)
}

impl ClientTls {
    /// Reads the client certificate (PEM chain, leaf first), its key (PEM) and the CA (PEM).
    pub fn load(cert_file: &Path, key_file: &Path, ca_file: &Path) -> Result<Self, GrpcError> {
        let chain = read_certs(cert_file)?;
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| GrpcError::Tls(format!("reading the private key from {}: {e}", key_file.display())))?;
        Self::new(Some((chain, key)), read_certs(ca_file)?)
    }

    /// With `identity` = None the client presents no certificate (the server refuses it).
    pub fn new(
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        cas: Vec<CertificateDer<'static>>,
    ) -> Result<Self, GrpcError> {
        let tls = |e: rustls::Error| GrpcError::Tls(e.to_string());
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots.add(ca).map_err(tls)?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(tls)?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(ClientTls { config: Arc::new(config) })
    }

    /// A client of `endpoint` (`https://host:port` or `host:port`). Connects lazily: the first
    /// call dials (and fails if the handshake does).
    pub fn client(&self, endpoint: &str) -> Result<KmsClient<Channel>, GrpcError> {
        let bad = |reason: String| GrpcError::Connect { endpoint: endpoint.to_owned(), reason };
        let authority = endpoint.strip_prefix("https://").unwrap_or(endpoint).trim_end_matches('/');
        if authority.contains("://") || authority.contains('/') {
            return Err(bad("expected https://host:port".into()));
        }
        // The scheme is `http` for tonic: the connector does the TLS handshake.
        let ep = Endpoint::from_shared(format!("http://{authority}")).map_err(|e| bad(e.to_string()))?;
        let channel = ep.connect_with_connector_lazy(PeerConnector::new(self.config.clone(), None));
        Ok(KmsClient::new(channel))
    }
}
