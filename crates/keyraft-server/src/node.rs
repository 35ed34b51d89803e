//! `RunningNode`: one node with its three listeners (AWS API, Raft gRPC, admin).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use keyraft_aws::{router, ApiState, Identities};
use keyraft_core::Clock;
use keyraft_raft::service::RaftGrpc;
use keyraft_raft::RegionNode;
use keyraft_service::{Entropy, Kms};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::NodeConfig;
use crate::link::{GrpcLink, KmsHandler, LinkWrap};
use keyraft_raft::replication::{RegionLinks, ReplicationGrpc};
use keyraft_service::replication::{Link, Replication};

/// A started node. Dropping it does not stop it; call [`RunningNode::shutdown`].
pub struct RunningNode {
    pub config: NodeConfig,
    pub region_node: Arc<RegionNode>,
    pub kms: Arc<Kms>,
    /// `http://host:port` (`https://` with `[tls]`) of the AWS API.
    pub api_url: String,
    /// `http://host:port` of the admin API (`https://` with `[tls]`).
    pub admin_url: String,
    /// The node's TLS certificate with `[tls]` (reload it to rotate: SIGHUP, `POST /v1/tls/reload`).
    pub tls_cert: Option<Arc<keyraft_raft::tls::NodeCert>>,
    stop: watch::Sender<bool>,
    /// The client-facing APIs (AWS, gRPC KMS) stop first (see [`RunningNode::shutdown`]).
    api_stop: watch::Sender<bool>,
    api_tasks: Vec<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// How long a stopping node lets AWS API requests in flight finish before it stops Raft.
const API_DRAIN: Duration = Duration::from_secs(10);

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

fn url(listener: &TcpListener) -> anyhow::Result<String> {
    Ok(format!("http://{}", listener.local_addr()?))
}

impl RunningNode {
    pub async fn start(config: NodeConfig, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> anyhow::Result<Self> {
        Self::start_with_link(config, clock, entropy, None).await
    }

    /// [`RunningNode::start`], with the cross-region link wrapped by `wrap` (fault injection).
    pub async fn start_with_link(
        config: NodeConfig,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        wrap: Option<LinkWrap>,
    ) -> anyhow::Result<Self> {
        config.validate()?;
        let root = crate::secrets::read_root_key(&config.root_key_file)?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
        // Opened before anything starts: a corrupt audit tail refuses the start.
        let audit_log = match config.audit.enabled {
            true => Some(Arc::new(crate::audit::AuditLog::open(crate::audit::AuditOptions {
                path: config.audit_path(),
                fail_closed: config.audit.fail_closed,
                fsync: config.audit.fsync,
                region: config.region.to_string(),
            })?)),
            false => None,
        };
        let audit = audit_log.clone().map(|a| a as Arc<dyn keyraft_aws::Observer>);
        // Read before anything binds: a bad certificate or key refuses the start.
        let node_tls = config.tls.as_ref().map(|t| crate::tls::node_tls(t, &config)).transpose()?;
        let tls = node_tls.as_ref().map(|t| t.api.clone());
        let peer_tls = node_tls.as_ref().map(|t| t.peer.clone());
        let raft_listener = TcpListener::bind(&config.raft_addr)
            .await
            .with_context(|| format!("binding Raft listener {}", config.raft_addr))?;
        let api_listener = TcpListener::bind(&config.api_addr)
            .await
            .with_context(|| format!("binding API listener {}", config.api_addr))?;
        let admin_listener = TcpListener::bind(&config.admin_addr)
            .await
            .with_context(|| format!("binding admin listener {}", config.admin_addr))?;
        // The gRPC KMS API: mutual TLS only (`validate` refuses grpc_addr without [tls]).
        let grpc_listener = match &config.grpc_addr {
            Some(addr) => {
                Some(TcpListener::bind(addr).await.with_context(|| format!("binding gRPC KMS listener {addr}"))?)
            }
            None => None,
        };
        let grpc_principals = Arc::new(keyraft_grpc::Principals::new(&config.grpc_principals)?);
        let (mut api_url, mut admin_url) = (url(&api_listener)?, url(&admin_listener)?);
        if tls.is_some() {
            api_url = api_url.replacen("http://", "https://", 1);
            admin_url = admin_url.replacen("http://", "https://", 1);
        }

        let mut region_config = config.region_config();
        region_config.tls = peer_tls.clone();
        let region_node = RegionNode::start(region_config, &config.data_dir.join("raft"), clock.clone()).await?;
        let kms = Arc::new(Kms::new(region_node.clone(), root, entropy));
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        let replication = match &config.transport_key_file {
            Some(path) => {
                let key = crate::secrets::read_transport_key(path)?;
                let mut directory = std::collections::BTreeMap::new();
                let mut endpoints = std::collections::BTreeMap::new();
                for r in &config.regions {
                    directory.insert(r.name.clone(), r.public_key()?);
                    endpoints.insert(r.name.clone(), r.raft_addrs.clone());
                }
                let mut links = RegionLinks::new(&config.cluster_id, config.region.clone(), endpoints);
                if let Some(t) = &peer_tls {
                    links = links.with_tls(t.clone());
                }
                let mut link: Arc<dyn Link> = Arc::new(GrpcLink(links));
                if let Some(w) = &wrap {
                    link = (w.0)(&config.region, link);
                }
                kms.enable_replication(Replication::new(key, directory, link))?;
                Some(ReplicationGrpc::server(
                    &config.cluster_id,
                    config.region.clone(),
                    config.regions.iter().map(|r| r.name.clone()).collect(),
                    Arc::new(KmsHandler(kms.clone())),
                    peer_tls.is_some(),
                ))
            }
            None => None,
        };
        let grpc = tonic::transport::Server::builder()
            .add_service(RaftGrpc::server(region_node.clone()))
            .add_optional_service(replication);
        let shutdown = stopped(stop_rx.clone());
        tasks.push(match &peer_tls {
            Some(t) => {
                let served = grpc.serve_with_incoming_shutdown(t.incoming(raft_listener, "Raft"), shutdown);
                tokio::spawn(async move {
                    if let Err(e) = served.await {
                        tracing::error!(error = %e, "raft gRPC server (mutual TLS) failed");
                    }
                })
            }
            None => {
                let incoming = tonic::transport::server::TcpIncoming::from_listener(raft_listener, true, None)
                    .map_err(|e| anyhow::anyhow!("raft listener: {e}"))?;
                let served = grpc.serve_with_incoming_shutdown(incoming, shutdown);
                tokio::spawn(async move {
                    if let Err(e) = served.await {
                        tracing::error!(error = %e, "raft gRPC server failed");
                    }
                })
            }
        });

        // The client-facing APIs stop on their own signal, before Raft (`shutdown`).
        let (api_stop, api_rx) = watch::channel(false);
        let mut api_tasks = Vec::new();
        let metrics = Arc::new(crate::metrics::NodeMetrics::new(kms.clone()));
        let mut observers = vec![metrics.clone() as Arc<dyn keyraft_aws::Observer>];
        observers.extend(audit);
        observers.push(Arc::new(keyraft_aws::usage::UsageObserver::new(kms.clone())));
        // The gRPC KMS API tells the same observers about its calls (audit, metrics, key usage).
        if let (Some(listener), Some(t)) = (grpc_listener, &peer_tls) {
            let served = tonic::transport::Server::builder()
                .add_service(keyraft_grpc::KmsGrpc::server(kms.clone(), grpc_principals, observers.clone()))
                .serve_with_incoming_shutdown(t.incoming(listener, "gRPC KMS"), stopped(api_rx.clone()));
            api_tasks.push(tokio::spawn(async move {
                if let Err(e) = served.await {
                    tracing::error!(error = %e, "gRPC KMS API server failed");
                }
            }));
        }
        let quotas = config.quotas.enabled.then(|| Arc::new(keyraft_aws::quota::Quotas::new(&config.quotas)));
        let api = router(Arc::new(ApiState {
            kms: kms.clone(),
            identities: Arc::new(Identities::new(&config.credentials).map_err(anyhow::Error::msg)?),
            clock: clock.clone(),
            observers,
            quotas,
            secure_transport: tls.is_some(),
        }));
        let rx = api_rx;
        api_tasks.push(match tls {
            Some(tls) => tokio::spawn(crate::tls::serve(api_listener, tls, api, stopped(rx))),
            None => tokio::spawn(async move {
                if let Err(e) =
                    axum::serve(api_listener, api.into_make_service_with_connect_info::<std::net::SocketAddr>())
                        .with_graceful_shutdown(stopped(rx))
                        .await
                {
                    tracing::error!(error = %e, "AWS API server failed");
                }
            }),
        });

        let admin = crate::admin::router(kms.clone(), metrics, node_tls.as_ref().map(|t| t.cert.clone()), audit_log);
        let rx = stop_rx.clone();
        tasks.push(match node_tls.as_ref().map(|t| t.admin.clone()) {
            Some(tls) => tokio::spawn(crate::tls::serve(admin_listener, tls, admin, stopped(rx))),
            None => tokio::spawn(async move {
                if let Err(e) = axum::serve(admin_listener, admin).with_graceful_shutdown(stopped(rx)).await {
                    tracing::error!(error = %e, "admin server failed");
                }
            }),
        });

        tasks.push(tokio::spawn(keyraft_service::housekeeping::run(
            kms.clone(),
            Duration::from_secs(1),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(keyraft_service::replication::run(
            kms.clone(),
            Duration::from_millis(200),
            stopped(stop_rx),
        )));

        tracing::info!(region = %config.region, node = config.node_id, %api_url, %admin_url, "node started");
        Ok(RunningNode {
            config,
            region_node,
            kms,
            api_url,
            admin_url,
            tls_cert: node_tls.map(|t| t.cert),
            stop,
            api_stop,
            api_tasks,
            tasks,
        })
    }

    /// Initializes the region's group if this is its first start and this node is the bootstrap
    /// node (the lowest id). Call once every voter's listeners are up.
    pub async fn bootstrap(&self) -> anyhow::Result<()> {
        Ok(self.region_node.bootstrap().await?)
    }

    /// Waits until the region has a leader that this node knows of.
    pub async fn wait_for_leader(&self, timeout: Duration) -> anyhow::Result<u64> {
        let m = self
            .region_node
            .raft()
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "leader elected")
            .await
            .map_err(|e| anyhow::anyhow!("region {} has no leader: {e}", self.config.region))?;
        m.current_leader.ok_or_else(|| anyhow::anyhow!("no leader"))
    }

    /// Stops the node without failing a request it accepted: the AWS API (and the gRPC KMS API)
    /// stop accepting connections and their requests in flight finish first (up to 10 s; they may still need
    /// Raft: a write forwarded to the leader, a read barrier), then Raft, the Raft listener,
    /// the admin API and the background tasks stop. A client whose connection is refused meanwhile
    /// can go to another node of the region (its request was never received).
    pub async fn shutdown(self) {
        let _ = self.api_stop.send(true);
        let deadline = tokio::time::Instant::now() + API_DRAIN;
        for t in self.api_tasks {
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                tracing::warn!("API requests still running after {API_DRAIN:?}; stopping anyway");
                break;
            }
        }
        let _ = self.stop.send(true);
        self.region_node.shutdown().await;
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}
