//! The `inference.GRPCInferenceService` adapter: each RPC converts protobuf
//! to engine types, asks the engine, and converts back. No logic lives here.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use super::model_config::model_config;
use super::readiness::Readiness;
use super::stream;
use crate::error::ServeError;
use crate::gateway::Gateway;
use crate::proto::inference::grpc_inference_service_server::GrpcInferenceService;
use crate::proto::inference::model_metadata_response::TensorMetadata;
use crate::proto::inference::repository_index_response::ModelIndex;
use crate::proto::inference::*;

/// Server name reported by ServerMetadata.
pub const SERVER_NAME: &str = "switchyard";
/// Platform reported for every model, as Triton names ONNX Runtime models.
pub const PLATFORM: &str = "onnxruntime_onnx";

pub struct InferenceService {
    gateway: Arc<Gateway>,
    readiness: Arc<Readiness>,
}

impl InferenceService {
    pub fn new(gateway: Arc<Gateway>, readiness: Arc<Readiness>) -> Self {
        Self { gateway, readiness }
    }
}

fn unimplemented<T>(rpc: &str) -> Result<Response<T>, Status> {
    Err(ServeError::Unimplemented(rpc.to_string()).into())
}

type InferStream = Pin<Box<dyn Stream<Item = Result<ModelStreamInferResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl GrpcInferenceService for InferenceService {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        let ready = self.readiness.server_ready(&self.gateway.snapshot());
        Ok(Response::new(ServerReadyResponse { ready }))
    }

    async fn model_ready(
        &self,
        request: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let request = request.into_inner();
        let ready = self
            .gateway
            .snapshot()
            .resolve_name(&request.name, &request.version)
            .is_ok();
        Ok(Response::new(ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse {
            name: SERVER_NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec!["model_repository".into()],
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let request = request.into_inner();
        let snapshot = self.gateway.snapshot();
        let version = snapshot.resolve_name(&request.name, &request.version)?;
        let versions = snapshot.models[&version.key.model]
            .ready
            .keys()
            .map(u64::to_string)
            .collect();
        let tensors = |specs: &[crate::model::TensorSpec]| {
            specs
                .iter()
                .map(|spec| TensorMetadata {
                    name: spec.name.clone(),
                    datatype: spec.datatype.as_str().into(),
                    shape: spec.shape.clone(),
                })
                .collect()
        };
        Ok(Response::new(ModelMetadataResponse {
            name: request.name,
            versions,
            platform: PLATFORM.into(),
            inputs: tensors(&version.inputs),
            outputs: tensors(&version.outputs),
        }))
    }

    async fn model_infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let deadline = convert::deadline(request.metadata());
        let (metadata, _, message) = request.into_parts();
        let model_name = message.model_name.clone();
        let request = convert::infer_request(message, metadata, deadline)
            .inspect_err(|error| self.gateway.record_rejected(&model_name, error))?;
        let response = self.gateway.infer(request).await?;
        Ok(Response::new(convert::infer_response(response)))
    }

    type ModelStreamInferStream = InferStream;

    /// Each request on the stream runs independently; answers come back in
    /// completion order, errors as `error_message` (the stream stays open).
    async fn model_stream_infer(
        &self,
        request: Request<Streaming<ModelInferRequest>>,
    ) -> Result<Response<Self::ModelStreamInferStream>, Status> {
        let metadata = request.metadata().clone();
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(stream::serve_stream(
            self.gateway.clone(),
            metadata,
            request.into_inner(),
            sender,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn model_config(
        &self,
        request: Request<ModelConfigRequest>,
    ) -> Result<Response<ModelConfigResponse>, Status> {
        let request = request.into_inner();
        let version = self
            .gateway
            .snapshot()
            .resolve_name(&request.name, &request.version)?;
        Ok(Response::new(ModelConfigResponse {
            config: Some(model_config(&version)),
        }))
    }

    async fn model_statistics(
        &self,
        _: Request<ModelStatisticsRequest>,
    ) -> Result<Response<ModelStatisticsResponse>, Status> {
        unimplemented("ModelStatistics (use the Prometheus metrics)")
    }

    async fn repository_index(
        &self,
        request: Request<RepositoryIndexRequest>,
    ) -> Result<Response<RepositoryIndexResponse>, Status> {
        let only_ready = request.into_inner().ready;
        let snapshot = self.gateway.snapshot();
        let mut models = Vec::new();
        for (name, state) in &snapshot.models {
            for version in state.ready.keys() {
                models.push(ModelIndex {
                    name: name.clone(),
                    version: version.to_string(),
                    state: "READY".into(),
                    reason: String::new(),
                });
            }
            if only_ready {
                continue;
            }
            for (version, reason) in &state.unavailable {
                models.push(ModelIndex {
                    name: name.clone(),
                    version: version.to_string(),
                    state: "UNAVAILABLE".into(),
                    reason: reason.clone(),
                });
            }
        }
        models
            .sort_by(|a, b| (&a.name, a.version.parse::<u64>().ok()).cmp(&(&b.name, b.version.parse().ok())));
        Ok(Response::new(RepositoryIndexResponse { models }))
    }

    async fn repository_model_load(
        &self,
        _: Request<RepositoryModelLoadRequest>,
    ) -> Result<Response<RepositoryModelLoadResponse>, Status> {
        unimplemented("RepositoryModelLoad (the repository directory is watched; add files instead)")
    }

    async fn repository_model_unload(
        &self,
        _: Request<RepositoryModelUnloadRequest>,
    ) -> Result<Response<RepositoryModelUnloadResponse>, Status> {
        unimplemented("RepositoryModelUnload (remove the version directory instead)")
    }

    async fn system_shared_memory_status(
        &self,
        _: Request<SystemSharedMemoryStatusRequest>,
    ) -> Result<Response<SystemSharedMemoryStatusResponse>, Status> {
        unimplemented("SystemSharedMemoryStatus")
    }

    async fn system_shared_memory_register(
        &self,
        _: Request<SystemSharedMemoryRegisterRequest>,
    ) -> Result<Response<SystemSharedMemoryRegisterResponse>, Status> {
        unimplemented("SystemSharedMemoryRegister")
    }

    async fn system_shared_memory_unregister(
        &self,
        _: Request<SystemSharedMemoryUnregisterRequest>,
    ) -> Result<Response<SystemSharedMemoryUnregisterResponse>, Status> {
        unimplemented("SystemSharedMemoryUnregister")
    }

    async fn cuda_shared_memory_status(
        &self,
        _: Request<CudaSharedMemoryStatusRequest>,
    ) -> Result<Response<CudaSharedMemoryStatusResponse>, Status> {
        unimplemented("CudaSharedMemoryStatus")
    }

    async fn cuda_shared_memory_register(
        &self,
        _: Request<CudaSharedMemoryRegisterRequest>,
    ) -> Result<Response<CudaSharedMemoryRegisterResponse>, Status> {
        unimplemented("CudaSharedMemoryRegister")
    }

    async fn cuda_shared_memory_unregister(
        &self,
        _: Request<CudaSharedMemoryUnregisterRequest>,
    ) -> Result<Response<CudaSharedMemoryUnregisterResponse>, Status> {
        unimplemented("CudaSharedMemoryUnregister")
    }

    async fn trace_setting(
        &self,
        _: Request<TraceSettingRequest>,
    ) -> Result<Response<TraceSettingResponse>, Status> {
        unimplemented("TraceSetting")
    }

    async fn log_settings(
        &self,
        _: Request<LogSettingsRequest>,
    ) -> Result<Response<LogSettingsResponse>, Status> {
        unimplemented("LogSettings (set RUST_LOG at start-up)")
    }
}
