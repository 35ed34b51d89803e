//! The client side of the admin API, for `keyraft status|dr|cluster|backup|restore|health`:
//! plain HTTP (`keyraft dev`, `plaintext = true`) or HTTPS with the deployment CA and, for the
//! operations that need one, the operator's client certificate. One request per connection
//! (hyper's HTTP/1.1 client over tokio-rustls on aws-lc-rs).
//!
//! The binary configures it once from `--ca`/`--client-cert`/`--client-key` (or `KEYRAFT_CA`, `KEYRAFT_CERT`,
//! `KEYRAFT_KEY`) with [`AdminClient::set_global`]; the commands use [`AdminClient::global`].

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How long a request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(60);

/// An admin API client.
#[derive(Clone, Default)]
pub struct AdminClient {
    /// For `https://` URLs: the deployment CA, and the client certificate if one was given.
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Option<Duration>,
}

static GLOBAL: OnceLock<AdminClient> = OnceLock::new();

/// An answer: status and body.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON if the status is 2xx, else an error naming the URL, status and body.
    pub fn json<T: DeserializeOwned>(self, url: &str) -> anyhow::Result<T> {
        let body = self.ok(url)?;
        serde_json::from_slice(&body).with_context(|| format!("{url}: unexpected answer"))
    }

    /// The body if the status is 2xx, else an error naming the URL, status and body.
    pub fn ok(self, url: &str) -> anyhow::Result<Bytes> {
        if self.status.is_success() {
            Ok(self.body)
        } else {
            anyhow::bail!("{url} answered {}: {}", self.status, String::from_utf8_lossy(&self.body).trim())
        }
    }
}

impl AdminClient {
    /// Plain HTTP only.
    pub fn plain() -> Self {
        AdminClient::default()
    }

    /// HTTPS trusting the CA in `ca` (PEM), presenting `cert` and `key` (PEM) if given.
    pub fn with_tls(ca: &Path, client: Option<(&Path, &Path)>) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for c in keyraft_raft::tls::read_certs(ca)? {
            roots.add(c).with_context(|| format!("{}: not a CA certificate", ca.display()))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match client {
            Some((cert, key)) => {
                let chain = keyraft_raft::tls::read_certs(cert)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .with_context(|| format!("reading the private key from {}", key.display()))?;
                builder.with_client_auth_cert(chain, key).with_context(|| format!("{}", cert.display()))?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(AdminClient { tls: Some(Arc::new(config)), timeout: None })
    }

    /// From the command line's (or environment's) `--ca`, `--client-cert`, `--client-key`.
    pub fn from_args(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> anyhow::Result<Self> {
        match (ca, cert, key) {
            (None, None, None) => Ok(Self::plain()),
            (None, _, _) => anyhow::bail!("--client-cert and --client-key need --ca (the deployment CA)"),
            (Some(ca), Some(c), Some(k)) => Self::with_tls(ca, Some((c, k))),
            (Some(ca), None, None) => Self::with_tls(ca, None),
            (Some(_), _, _) => anyhow::bail!("--client-cert and --client-key go together"),
        }
    }

    /// A client that gives up after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Makes `client` the one [`AdminClient::global`] returns (once per process).
    pub fn set_global(client: AdminClient) {
        let _ = GLOBAL.set(client);
    }

    /// The client the binary configured, or plain HTTP only.
    pub fn global() -> AdminClient {
        GLOBAL.get().cloned().unwrap_or_default()
    }

    pub async fn get(&self, url: &str) -> anyhow::Result<Answer> {
        self.send(Method::GET, url, None).await
    }

    pub async fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<Answer> {
        self.send(Method::POST, url, Some((content_type, body))).await
    }

    pub async fn post_json<T: Serialize>(&self, url: &str, body: &T) -> anyhow::Result<Answer> {
        self.post(url, "application/json", serde_json::to_vec(body)?).await
    }

    async fn send(&self, method: Method, url: &str, body: Option<(&str, Vec<u8>)>) -> anyhow::Result<Answer> {
        let timeout = self.timeout.unwrap_or(TIMEOUT);
        tokio::time::timeout(timeout, self.send_inner(method, url, body))
            .await
            .map_err(|_| anyhow::anyhow!("{url}: no answer within {timeout:?}"))?
            .with_context(|| url.to_owned())
    }

    async fn send_inner(&self, method: Method, url: &str, body: Option<(&str, Vec<u8>)>) -> anyhow::Result<Answer> {
        let uri: Uri = url.parse().context("not a URL")?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => anyhow::bail!("the admin URL must start with http:// or https://"),
        };
        let host = uri.host().context("no host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let (content_type, bytes) = body.unwrap_or(("application/json", Vec::new()));
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, format!("{host}:{port}"))
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(bytes)))?;
        if https {
            let tls =
                self.tls.clone().context("an https:// admin URL needs --ca (the deployment CA, or KEYRAFT_CA)")?;
            let name = ServerName::try_from(host.clone()).context("not a server name")?;
            let stream = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await?;
            exchange(TokioIo::new(stream), req).await
        } else {
            exchange(TokioIo::new(tcp), req).await
        }
    }
}

async fn exchange<IO>(io: IO, req: Request<Full<Bytes>>) -> anyhow::Result<Answer>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    driver.abort();
    Ok(Answer { status, body })
}
