//! Assembles the tonic server: inference, health and reflection services on
//! one listener, with message limits and optional (mutual) TLS.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::{Routes, RoutesBuilder};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::HealthService;

use super::service::InferenceService;
use crate::engine::Engine;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::proto::inference::grpc_inference_service_server::GrpcInferenceServiceServer;

/// How long calls may run on after a connection reached its maximum age.
pub const CONNECTION_AGE_GRACE: Duration = Duration::from_secs(30);

/// PEM contents for TLS, read at start-up.
pub struct TlsSettings {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    pub client_ca: Option<Vec<u8>>,
}

impl TlsSettings {
    /// Reads the PEM files named by `--tls-*`.
    pub fn read(cert: &Path, key: &Path, client_ca: Option<&Path>) -> anyhow::Result<Self> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
        };
        Ok(Self {
            cert: read(cert)?,
            key: read(key)?,
            client_ca: client_ca.map(read).transpose()?,
        })
    }
}

/// Everything the gRPC server needs.
pub struct GrpcServer {
    pub engine: Arc<Engine>,
    pub health: HealthServer<HealthService>,
    pub max_message_bytes: usize,
    pub max_connection_age: Option<Duration>,
    pub tls: Option<TlsSettings>,
}

impl GrpcServer {
    /// Every gRPC service: inference, health and reflection (v1 and v1alpha).
    pub fn routes(&self) -> anyhow::Result<Routes> {
        let inference = GrpcInferenceServiceServer::new(InferenceService::new(self.engine.clone()))
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes);
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let mut routes = RoutesBuilder::default();
        routes
            .add_service(self.health.clone())
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?)
            .add_service(inference);
        Ok(routes.routes())
    }

    /// Serves on `listener` until `shutdown` resolves, then lets running
    /// calls finish (the caller bounds how long).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let routes = self.routes()?;
        // Small requests must not wait for Nagle's algorithm (a ~40 ms tail).
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let mut builder = Server::builder();
        if let Some(age) = self.max_connection_age {
            // Running calls get the drain grace to finish before the connection closes.
            builder = builder
                .max_connection_age(age)
                .max_connection_age_grace(CONNECTION_AGE_GRACE);
        }
        if let Some(tls) = self.tls {
            let mut config = ServerTlsConfig::new().identity(Identity::from_pem(tls.cert, tls.key));
            if let Some(ca) = tls.client_ca {
                config = config.client_ca_root(Certificate::from_pem(ca));
            }
            builder = builder.tls_config(config)?;
        }
        builder
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }
}
