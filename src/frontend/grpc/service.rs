//! The `inference.GRPCInferenceService` adapter: each RPC converts protobuf
//! to engine types, asks the engine, and converts back. No logic lives here.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::{self, Metadata};
use super::status::status;
use super::stream;
use crate::engine::{Engine, IndexEntry};
use crate::error::ServeError;
use crate::frontend::triton::{PLATFORM, SERVER_NAME, model_config, model_statistics};
use crate::proto::inference::grpc_inference_service_server::GrpcInferenceService;
use crate::proto::inference::model_metadata_response::TensorMetadata;
use crate::proto::inference::repository_index_response::ModelIndex;
use crate::proto::inference::*;
use crate::tensor::TensorSpec;

/// What ServerMetadata says is served over gRPC.
pub const EXTENSIONS: [&str; 2] = ["model_configuration", "statistics"];

pub struct InferenceService {
    engine: Arc<Engine>,
}

impl InferenceService {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

fn unimplemented<T>(rpc: &str) -> Result<Response<T>, Status> {
    Err(status(ServeError::Unimplemented(rpc.to_string())))
}

fn tensors(specs: &[TensorSpec]) -> Vec<TensorMetadata> {
    specs
        .iter()
        .map(|spec| TensorMetadata {
            name: spec.name.clone(),
            datatype: spec.datatype.as_str().into(),
            shape: spec.shape.clone(),
        })
        .collect()
}

fn index_entry(entry: IndexEntry) -> ModelIndex {
    ModelIndex {
        name: entry.name,
        version: entry.version.to_string(),
        state: entry.state.as_str().into(),
        reason: entry.reason,
    }
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
        let ready = self.engine.server_ready();
        Ok(Response::new(ServerReadyResponse { ready }))
    }

    async fn model_ready(
        &self,
        request: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let request = request.into_inner();
        let ready = self.engine.model_ready(&request.name, &request.version);
        Ok(Response::new(ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse {
            name: SERVER_NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: EXTENSIONS.iter().map(|e| e.to_string()).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let request = request.into_inner();
        let metadata = self
            .engine
            .model_metadata(&request.name, &request.version)
            .map_err(status)?;
        Ok(Response::new(ModelMetadataResponse {
            name: metadata.name,
            versions: metadata.versions,
            platform: PLATFORM.into(),
            inputs: tensors(&metadata.inputs),
            outputs: tensors(&metadata.outputs),
        }))
    }

    async fn model_infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let deadline = convert::deadline(request.metadata());
        let (metadata, _, message) = request.into_parts();
        let model_name = message.model_name.clone();
        let request = convert::infer_request(message, deadline).map_err(|error| {
            self.engine.record_rejected(&model_name, &error);
            status(error)
        })?;
        let response = self
            .engine
            .infer(request, &Metadata(&metadata))
            .await
            .map_err(status)?;
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
            self.engine.clone(),
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
        let description = self
            .engine
            .model_description(&request.name, &request.version)
            .map_err(status)?;
        Ok(Response::new(ModelConfigResponse {
            config: Some(model_config(&description)),
        }))
    }

    async fn model_statistics(
        &self,
        request: Request<ModelStatisticsRequest>,
    ) -> Result<Response<ModelStatisticsResponse>, Status> {
        let request = request.into_inner();
        let stats = self
            .engine
            .model_statistics(&request.name, &request.version)
            .map_err(status)?;
        Ok(Response::new(ModelStatisticsResponse {
            model_stats: stats.into_iter().map(model_statistics).collect(),
        }))
    }

    async fn repository_index(
        &self,
        request: Request<RepositoryIndexRequest>,
    ) -> Result<Response<RepositoryIndexResponse>, Status> {
        let ready_only = request.into_inner().ready;
        let models = self
            .engine
            .repository_index(ready_only)
            .into_iter()
            .map(index_entry)
            .collect();
        Ok(Response::new(RepositoryIndexResponse { models }))
    }

    async fn repository_model_load(
        &self,
        _: Request<RepositoryModelLoadRequest>,
    ) -> Result<Response<RepositoryModelLoadResponse>, Status> {
        Err(status(ServeError::RepositoryControl))
    }

    async fn repository_model_unload(
        &self,
        _: Request<RepositoryModelUnloadRequest>,
    ) -> Result<Response<RepositoryModelUnloadResponse>, Status> {
        Err(status(ServeError::RepositoryControl))
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
