//! Mutual TLS between nodes: the Raft listener (Raft RPCs, write forwarding, read barriers,
//! status, and multi-region shipments between regions) serves only peers whose certificate the
//! deployment CA issued, and a node dials only peers whose certificate names the region it
//! expects.
//!
//! A node's identity is the URI SAN `keyraft://<region>/<node id>` of its certificate
//! (`keyraft pki init` writes it); an operator's is `keyraft://operator/<name>`. The services
//! then check it against what the request claims (`service.rs`, `replication.rs`): a certificate
//! for region A is refused by region B's Raft group whatever its configuration says, so region
//! isolation holds cryptographically and not only by configuration.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use keyraft_core::Region;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tonic::transport::server::Connected;
use tonic::transport::Uri;

use crate::error::RaftNodeError;

/// A peer has this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who a certificate names, from its `keyraft://` URI SAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerIdentity {
    /// `keyraft://<region>/<node id>`.
    Node { region: Region, node: u64 },
    /// `keyraft://operator/<name>`.
    Operator(String),
}

impl PeerIdentity {
    /// Parses `keyraft://<region>/<node id>` or `keyraft://operator/<name>`.
    pub fn parse_uri(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("keyraft://")?;
        let (authority, path) = rest.split_once('/')?;
        if authority == "operator" {
            let ok = !path.is_empty() && path.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            return ok.then(|| PeerIdentity::Operator(path.to_owned()));
        }
        let region = Region::parse(authority).ok()?;
        let node = path.parse::<u64>().ok().filter(|n| *n > 0 && path.bytes().all(|b| b.is_ascii_digit()))?;
        Some(PeerIdentity::Node { region, node })
    }

    /// The identity a certificate (DER) names: its one `keyraft://` URI SAN. Anything else
    /// (none, two, unparsable) is no identity.
    pub fn from_certificate(der: &[u8]) -> Result<Self, RaftNodeError> {
        use x509_parser::extensions::GeneralName;
        let bad = |why: String| RaftNodeError::Refused(format!("peer certificate: {why}"));
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
        let san = cert.subject_alternative_name().map_err(|e| bad(e.to_string()))?;
        let uris: Vec<&str> = san
            .map(|s| s.value.general_names.iter())
            .into_iter()
            .flatten()
            .filter_map(|n| match n {
                GeneralName::URI(u) if u.starts_with("keyraft://") => Some(*u),
                _ => None,
            })
            .collect();
        match uris.as_slice() {
            [one] => PeerIdentity::parse_uri(one).ok_or_else(|| bad(format!("unrecognised identity {one}"))),
            [] => Err(bad("no keyraft:// URI SAN".into())),
            _ => Err(bad(format!("{} keyraft:// URI SANs", uris.len()))),
        }
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerIdentity::Node { region, node } => write!(f, "keyraft://{region}/{node}"),
            PeerIdentity::Operator(name) => write!(f, "keyraft://operator/{name}"),
        }
    }
}

/// What a node's current certificate is, as the admin API reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertSummary {
    pub identity: String,
    /// The serial number, hex.
    pub serial: String,
    /// Not valid after, seconds since the Unix epoch.
    pub not_after: i64,
}

impl CertSummary {
    /// The summary of a certificate (DER) with a `keyraft://` identity.
    pub fn of(der: &[u8]) -> Result<CertSummary, RaftNodeError> {
        summarize(der)
    }
}

fn summarize(der: &[u8]) -> Result<CertSummary, RaftNodeError> {
    let identity = PeerIdentity::from_certificate(der).map_err(|e| RaftNodeError::Tls(e.to_string()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| RaftNodeError::Tls(e.to_string()))?;
    Ok(CertSummary {
        identity: identity.to_string(),
        serial: cert.raw_serial_as_string().replace(':', ""),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// A node's certificate and key, replaceable while the node runs: every TLS server and client
/// configuration of the node (AWS API, Raft listener, Raft and shipment clients) resolves its
/// certificate through this, so after [`NodeCert::reload`] new handshakes present the new one
/// while established connections keep theirs. The identity (`keyraft://<region>/<node>`) cannot
/// change. The private key lives only in rustls's signing key (aws-lc-rs), never logged.
pub struct NodeCert {
    current: std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>,
    identity: PeerIdentity,
    files: (std::path::PathBuf, std::path::PathBuf),
}

impl fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCert").field("identity", &self.identity.to_string()).finish_non_exhaustive()
    }
}

impl NodeCert {
    /// Reads a certificate chain (PEM, leaf first) and its private key (PEM); the key must match
    /// the certificate and the certificate must carry a `keyraft://` identity.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, RaftNodeError> {
        let (key, identity) = Self::read(cert_file, key_file)?;
        Ok(NodeCert {
            current: std::sync::RwLock::new(Arc::new(key)),
            identity,
            files: (cert_file.to_owned(), key_file.to_owned()),
        })
    }

    fn read(cert_file: &Path, key_file: &Path) -> Result<(rustls::sign::CertifiedKey, PeerIdentity), RaftNodeError> {
        let chain = read_certs(cert_file)?;
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| RaftNodeError::Tls(format!("reading the private key from {}: {e}", key_file.display())))?;
        let identity = PeerIdentity::from_certificate(&chain[0]).map_err(|e| RaftNodeError::Tls(e.to_string()))?;
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let certified = rustls::sign::CertifiedKey::from_der(chain, key, &provider)
            .map_err(|e| RaftNodeError::Tls(format!("{} and {}: {e}", cert_file.display(), key_file.display())))?;
        Ok((certified, identity))
    }

    /// Reads the files again and, if they hold a valid certificate and key for the same
    /// identity, makes them current. On any error the current certificate stays.
    pub fn reload(&self) -> Result<CertSummary, RaftNodeError> {
        let (key, identity) = Self::read(&self.files.0, &self.files.1)?;
        if identity != self.identity {
            return Err(RaftNodeError::Tls(format!(
                "{} names {identity}, not {}: keeping the current certificate",
                self.files.0.display(),
                self.identity
            )));
        }
        let summary = summarize(key.cert.first().map(|c| c.as_ref()).unwrap_or_default())?;
        match self.current.write() {
            Ok(mut c) => *c = Arc::new(key),
            Err(_) => return Err(RaftNodeError::Tls("certificate lock poisoned".into())),
        }
        tracing::info!(identity = %summary.identity, serial = %summary.serial, "TLS certificate reloaded");
        Ok(summary)
    }

    /// Who the certificate names.
    pub fn identity(&self) -> &PeerIdentity {
        &self.identity
    }

    fn current(&self) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }

    /// The current certificate's identity, serial and expiry.
    pub fn summary(&self) -> Result<CertSummary, RaftNodeError> {
        let c = self.current().ok_or_else(|| RaftNodeError::Tls("certificate lock poisoned".into()))?;
        summarize(c.cert.first().map(|c| c.as_ref()).unwrap_or_default())
    }
}

impl rustls::server::ResolvesServerCert for NodeCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.current()
    }
}

impl rustls::client::ResolvesClientCert for NodeCert {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.current()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A node's mutual-TLS setup: its certificate ([`NodeCert`], reloadable), and the deployment CA
/// both sides of every connection are checked against. TLS 1.3 and 1.2 on aws-lc-rs, ALPN `h2`.
pub struct PeerTls {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    cert: Arc<NodeCert>,
}

impl fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerTls").field("identity", &self.cert.identity.to_string()).finish_non_exhaustive()
    }
}

/// The certificates of a PEM file (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, RaftNodeError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect())
        .map_err(|e| RaftNodeError::Tls(format!("reading certificates from {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(RaftNodeError::Tls(format!("{} holds no certificate", path.display())));
    }
    Ok(certs)
}

impl PeerTls {
    /// Reads the node's certificate chain (PEM, leaf first), its private key (PEM) and the
    /// deployment CA (PEM).
    pub fn load(cert_file: &Path, key_file: &Path, ca_file: &Path) -> Result<Self, RaftNodeError> {
        Self::new(Arc::new(NodeCert::load(cert_file, key_file)?), read_certs(ca_file)?)
    }

    /// Mutual TLS with `cert` (shared with the node's other TLS configurations, so one reload
    /// reaches all) and the CA certificates `cas`.
    pub fn new(cert: Arc<NodeCert>, cas: Vec<CertificateDer<'static>>) -> Result<Self, RaftNodeError> {
        let tls = |e: rustls::Error| RaftNodeError::Tls(e.to_string());
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots.add(ca).map_err(tls)?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| RaftNodeError::Tls(e.to_string()))?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(cert.clone());
        server.alpn_protocols = vec![b"h2".to_vec()];
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_root_certificates(roots)
            .with_client_cert_resolver(cert.clone());
        client.alpn_protocols = vec![b"h2".to_vec()];
        Ok(PeerTls { server: Arc::new(server), client: Arc::new(client), cert })
    }

    /// The node's certificate (reload it to rotate).
    pub fn cert(&self) -> &Arc<NodeCert> {
        &self.cert
    }

    /// Who this node's own certificate names.
    pub fn identity(&self) -> &PeerIdentity {
        &self.cert.identity
    }

    /// A connector for tonic channels to nodes of `region`: TLS with this node's certificate,
    /// and a server certificate that names a node of `region`, or the connection fails.
    pub fn connector(self: &Arc<Self>, region: Region) -> PeerConnector {
        PeerConnector::new(self.client.clone(), Some(region))
    }

    /// The accepted connections of `listener`, each after a completed mutual-TLS handshake
    /// whose client certificate names a `keyraft://` identity. Failed handshakes are logged and
    /// dropped. The accept loop ends when the returned stream is dropped.
    /// `what` names the listener in log lines ("Raft", "gRPC KMS").
    pub fn incoming(
        self: &Arc<Self>,
        listener: TcpListener,
        what: &'static str,
    ) -> impl futures::Stream<Item = Result<PeerConn, io::Error>> + Send + 'static {
        let (tx, rx) = mpsc::channel::<Result<PeerConn, io::Error>>(64);
        let acceptor = TlsAcceptor::from(self.server.clone());
        tokio::spawn(async move {
            loop {
                let (tcp, remote) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, listener = what, "accepting a connection");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    () = tx.closed() => return,
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::warn!(%remote, error = %e, listener = what, "refused a connection: TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::warn!(%remote, listener = what, "refused a connection: TLS handshake timed out");
                            return;
                        }
                    };
                    let identity = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|leaf| PeerIdentity::from_certificate(leaf));
                    let identity = match identity {
                        Some(Ok(id)) => id,
                        Some(Err(e)) => {
                            tracing::warn!(%remote, error = %e, listener = what, "refused a connection");
                            return;
                        }
                        None => {
                            tracing::warn!(%remote, listener = what, "refused a connection without a client certificate");
                            return;
                        }
                    };
                    let conn = PeerConn { stream: Box::new(stream), info: PeerInfo { remote, identity } };
                    let _ = tx.send(Ok(conn)).await;
                });
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}

/// What the Raft listener knows of a mutual-TLS connection; in every request's extensions.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote: SocketAddr,
    /// Who the client certificate names (checked against the deployment CA).
    pub identity: PeerIdentity,
}

/// One accepted mutual-TLS connection.
pub struct PeerConn {
    stream: Box<tokio_rustls::server::TlsStream<TcpStream>>,
    info: PeerInfo,
}

impl Connected for PeerConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for PeerConn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A tonic connector to keyraft nodes: TLS with `config` (the deployment CA; a client certificate
/// if it has one), and a server certificate that names a node: of `region` when given
/// ([`PeerTls::connector`]: Raft peers, shipment destinations), of any region otherwise (the
/// gRPC KMS API's clients). Anything else fails the connection.
#[derive(Clone)]
pub struct PeerConnector {
    config: Arc<rustls::ClientConfig>,
    region: Option<Region>,
}

impl PeerConnector {
    pub fn new(config: Arc<rustls::ClientConfig>, region: Option<Region>) -> Self {
        PeerConnector { config, region }
    }
}

type Connecting =
    Pin<Box<dyn Future<Output = Result<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>, io::Error>> + Send>>;

impl tower_service::Service<Uri> for PeerConnector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        let (config, region) = (self.config.clone(), self.region.clone());
        Box::pin(async move {
            let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
            let host = uri.host().ok_or_else(|| invalid(format!("{uri}: no host")))?;
            let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
            let port = uri.port_u16().ok_or_else(|| invalid(format!("{uri}: no port")))?;
            let name = ServerName::try_from(host.clone()).map_err(|e| invalid(format!("{host}: {e}")))?;
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            let stream = TlsConnector::from(config).connect(name, tcp).await?;
            let leaf = stream.get_ref().1.peer_certificates().and_then(|c| c.first());
            let identity = leaf
                .map(|l| PeerIdentity::from_certificate(l))
                .transpose()
                .map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e.to_string()))?;
            let wanted = match &region {
                Some(r) => format!("a node of region {r}"),
                None => "a keyraft node".to_owned(),
            };
            match identity {
                Some(PeerIdentity::Node { region: r, .. }) if region.as_ref().is_none_or(|want| *want == r) => {
                    Ok(TokioIo::new(stream))
                }
                other => Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{host}:{port} presented {}, not {wanted}",
                        other.map_or("no identity".to_owned(), |i| i.to_string())
                    ),
                )),
            }
        })
    }
}

/// The address to give tonic's `Endpoint` for `host:port`: the scheme is `http` either way
/// (with TLS the connector does the handshake).
pub fn endpoint_uri(addr: &str) -> String {
    format!("http://{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_parse() {
        let r = Region::parse("us-east-1").unwrap();
        assert_eq!(
            PeerIdentity::parse_uri("keyraft://us-east-1/2"),
            Some(PeerIdentity::Node { region: r.clone(), node: 2 })
        );
        assert_eq!(PeerIdentity::parse_uri("keyraft://operator/ops-1"), Some(PeerIdentity::Operator("ops-1".into())));
        for bad in [
            "keyraft://us-east-1/0",
            "keyraft://us-east-1/+2",
            "keyraft://us-east-1/",
            "keyraft://US-EAST-1/1",
            "keyraft://operator/",
            "keyraft://operator/a/b",
            "https://us-east-1/1",
            "keyraft://us-east-1",
        ] {
            assert_eq!(PeerIdentity::parse_uri(bad), None, "{bad}");
        }
        assert_eq!(PeerIdentity::Node { region: r, node: 3 }.to_string(), "keyraft://us-east-1/3");
    }
}
