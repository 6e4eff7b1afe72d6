//! A bare tonic server for `inference.GRPCInferenceService` that runs no model:
//! ModelInfer answers at once with one output of the input's shape and datatype
//! whose raw contents are the input's bytes (shared, not copied). It is the
//! ceiling of the benchmark harness (benchmarks/run.sh): the same protocol,
//! transport and load generator as Switchyard, with nothing behind them.
//!
//! With `--handoff`, each request instead takes the trip Switchyard's requests
//! take to a model and back, with no model at the end: onto a bounded crossbeam
//! channel, to a dedicated OS thread, and back through a tokio oneshot (as in
//! src/model/executor.rs). The difference between the two modes is the cost of
//! that thread hop alone.
//!
//! With `--inline-model PATH` (a prototype, not an echo): ModelInfer runs an
//! FP32 ONNX model on the tokio worker that decoded the request, with one
//! session per worker thread taken from a pool of mutexes, so there is no
//! thread hop at all. It shows what Switchyard would gain by running fast
//! models inline (benchmarks/FINDINGS.md).
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:0 [--handoff | --inline-model m.onnx]
//! ```
//!
//! Prints `{"grpc_addr":"127.0.0.1:PORT"}` on stdout once listening.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use switchyard::backend::SessionSettings;

use ort::session::Session;
use ort::value::TensorRef;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::Stream;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

use switchyard::proto::inference::grpc_inference_service_server::{
    GrpcInferenceService, GrpcInferenceServiceServer,
};
use switchyard::proto::inference::model_infer_response::InferOutputTensor;
use switchyard::proto::inference::model_metadata_response::TensorMetadata;
use switchyard::proto::inference::*;

/// A request on its way to the hand-off thread, with the way back.
type Job = (ModelInferRequest, oneshot::Sender<ModelInferResponse>);

/// What ModelInfer does.
enum Mode {
    /// Answer the input back, on the tokio worker.
    Echo,
    /// Answer the input back from another thread (Switchyard's trip, no model).
    Handoff(crossbeam_channel::Sender<Job>),
    /// Run the model on the tokio worker.
    Inline(SessionPool),
}

struct Echo {
    mode: Mode,
}

/// Sessions shared by the tokio workers: a request takes a free one, or
/// waits for one (round-robin) when all are busy.
struct SessionPool {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl SessionPool {
    fn load(path: &str, count: usize) -> Result<Self, Box<dyn std::error::Error>> {
        let runtime = switchyard::backend::ort::init(None)?;
        let mut sessions = Vec::with_capacity(count);
        for _ in 0..count {
            // As Switchyard builds them, intra_op_threads 1.
            let session = switchyard::backend::ort::build_session(
                &runtime,
                Path::new(path),
                &SessionSettings::default(),
            )?;
            sessions.push(Mutex::new(session));
        }
        Ok(Self {
            sessions,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs the model on the request's first input (raw FP32) and answers its first output.
    fn infer(&self, request: ModelInferRequest) -> Result<ModelInferResponse, Status> {
        let (Some(input), Some(raw)) = (request.inputs.first(), request.raw_input_contents.first()) else {
            return Err(Status::invalid_argument("one raw FP32 input expected"));
        };
        // One copy into an aligned buffer, as Switchyard copies into the ORT tensor.
        let values: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let status = |e: ort::Error| Status::internal(e.to_string());
        let tensor = TensorRef::from_array_view((input.shape.clone(), values.as_slice())).map_err(status)?;
        let mut session = match self.sessions.iter().find_map(|s| s.try_lock().ok()) {
            Some(free) => free,
            None => {
                let index = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
                self.sessions[index]
                    .lock()
                    .map_err(|_| Status::internal("session poisoned"))?
            }
        };
        let input_name = session.inputs()[0].name().to_string();
        let output_name = session.outputs()[0].name().to_string();
        let outputs = session
            .run(ort::inputs![input_name.as_str() => tensor])
            .map_err(status)?;
        let (shape, data) = outputs[0].try_extract_tensor::<f32>().map_err(status)?;
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok(ModelInferResponse {
            model_name: request.model_name,
            model_version: "1".into(),
            id: request.id,
            outputs: vec![InferOutputTensor {
                name: output_name,
                datatype: "FP32".into(),
                shape: shape.iter().copied().collect(),
                ..Default::default()
            }],
            raw_output_contents: vec![bytes.into()],
            ..Default::default()
        })
    }
}

/// The answer: one output per input, same name, shape and datatype, same bytes.
fn echo(request: ModelInferRequest) -> ModelInferResponse {
    let outputs = request
        .inputs
        .into_iter()
        .map(|input| InferOutputTensor {
            name: input.name,
            datatype: input.datatype,
            shape: input.shape,
            ..Default::default()
        })
        .collect();
    ModelInferResponse {
        model_name: request.model_name,
        model_version: request.model_version,
        id: request.id,
        outputs,
        raw_output_contents: request.raw_input_contents,
        ..Default::default()
    }
}

type Answer<T> = Result<Response<T>, Status>;
type InferStream = std::pin::Pin<Box<dyn Stream<Item = Result<ModelStreamInferResponse, Status>> + Send>>;

fn unimplemented<T>(rpc: &str) -> Answer<T> {
    Err(Status::unimplemented(format!(
        "{rpc} is not implemented by the echo server"
    )))
}

#[tonic::async_trait]
impl GrpcInferenceService for Echo {
    async fn model_infer(&self, request: Request<ModelInferRequest>) -> Answer<ModelInferResponse> {
        let request = request.into_inner();
        let queue = match &self.mode {
            Mode::Echo => return Ok(Response::new(echo(request))),
            Mode::Inline(pool) => return pool.infer(request).map(Response::new),
            Mode::Handoff(queue) => queue,
        };
        let (reply, answer) = oneshot::channel();
        queue
            .try_send((request, reply))
            .map_err(|_| Status::resource_exhausted("hand-off queue full"))?;
        let response = answer
            .await
            .map_err(|_| Status::internal("hand-off thread gone"))?;
        Ok(Response::new(response))
    }

    async fn model_metadata(&self, request: Request<ModelMetadataRequest>) -> Answer<ModelMetadataResponse> {
        let tensor = |name: &str| TensorMetadata {
            name: name.into(),
            datatype: "FP32".into(),
            shape: vec![-1, -1],
        };
        Ok(Response::new(ModelMetadataResponse {
            name: request.into_inner().name,
            versions: vec!["1".into()],
            platform: "echo".into(),
            inputs: vec![tensor("x")],
            outputs: vec![tensor("x")],
        }))
    }

    async fn server_live(&self, _: Request<ServerLiveRequest>) -> Answer<ServerLiveResponse> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(&self, _: Request<ServerReadyRequest>) -> Answer<ServerReadyResponse> {
        Ok(Response::new(ServerReadyResponse { ready: true }))
    }

    async fn model_ready(&self, _: Request<ModelReadyRequest>) -> Answer<ModelReadyResponse> {
        Ok(Response::new(ModelReadyResponse { ready: true }))
    }

    async fn server_metadata(&self, _: Request<ServerMetadataRequest>) -> Answer<ServerMetadataResponse> {
        Ok(Response::new(ServerMetadataResponse {
            name: "echo".into(),
            version: "0".into(),
            extensions: Vec::new(),
        }))
    }

    type ModelStreamInferStream = InferStream;

    async fn model_stream_infer(
        &self,
        _: Request<Streaming<ModelInferRequest>>,
    ) -> Answer<Self::ModelStreamInferStream> {
        unimplemented("ModelStreamInfer")
    }

    async fn model_config(&self, _: Request<ModelConfigRequest>) -> Answer<ModelConfigResponse> {
        unimplemented("ModelConfig")
    }

    async fn model_statistics(&self, _: Request<ModelStatisticsRequest>) -> Answer<ModelStatisticsResponse> {
        unimplemented("ModelStatistics")
    }

    async fn repository_index(&self, _: Request<RepositoryIndexRequest>) -> Answer<RepositoryIndexResponse> {
        unimplemented("RepositoryIndex")
    }

    async fn repository_model_load(
        &self,
        _: Request<RepositoryModelLoadRequest>,
    ) -> Answer<RepositoryModelLoadResponse> {
        unimplemented("RepositoryModelLoad")
    }

    async fn repository_model_unload(
        &self,
        _: Request<RepositoryModelUnloadRequest>,
    ) -> Answer<RepositoryModelUnloadResponse> {
        unimplemented("RepositoryModelUnload")
    }

    async fn system_shared_memory_status(
        &self,
        _: Request<SystemSharedMemoryStatusRequest>,
    ) -> Answer<SystemSharedMemoryStatusResponse> {
        unimplemented("SystemSharedMemoryStatus")
    }

    async fn system_shared_memory_register(
        &self,
        _: Request<SystemSharedMemoryRegisterRequest>,
    ) -> Answer<SystemSharedMemoryRegisterResponse> {
        unimplemented("SystemSharedMemoryRegister")
    }

    async fn system_shared_memory_unregister(
        &self,
        _: Request<SystemSharedMemoryUnregisterRequest>,
    ) -> Answer<SystemSharedMemoryUnregisterResponse> {
        unimplemented("SystemSharedMemoryUnregister")
    }

    async fn cuda_shared_memory_status(
        &self,
        _: Request<CudaSharedMemoryStatusRequest>,
    ) -> Answer<CudaSharedMemoryStatusResponse> {
        unimplemented("CudaSharedMemoryStatus")
    }

    async fn cuda_shared_memory_register(
        &self,
        _: Request<CudaSharedMemoryRegisterRequest>,
    ) -> Answer<CudaSharedMemoryRegisterResponse> {
        unimplemented("CudaSharedMemoryRegister")
    }

    async fn cuda_shared_memory_unregister(
        &self,
        _: Request<CudaSharedMemoryUnregisterRequest>,
    ) -> Answer<CudaSharedMemoryUnregisterResponse> {
        unimplemented("CudaSharedMemoryUnregister")
    }

    async fn trace_setting(&self, _: Request<TraceSettingRequest>) -> Answer<TraceSettingResponse> {
        unimplemented("TraceSetting")
    }

    async fn log_settings(&self, _: Request<LogSettingsRequest>) -> Answer<LogSettingsResponse> {
        unimplemented("LogSettings")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut addr: SocketAddr = "127.0.0.1:0".parse()?;
    let mut mode = Mode::Echo;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--handoff" => {
                // Switchyard's default max_queue_size.
                let (sender, receiver) = crossbeam_channel::bounded::<Job>(128);
                std::thread::Builder::new()
                    .name("handoff".into())
                    .spawn(move || {
                        while let Ok((request, reply)) = receiver.recv() {
                            let _ = reply.send(echo(request));
                        }
                    })?;
                mode = Mode::Handoff(sender);
            }
            "--inline-model" => {
                let path = args.next().ok_or("--inline-model needs a path")?;
                // One session per tokio worker (tokio starts one per core).
                let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
                mode = Mode::Inline(SessionPool::load(&path, workers)?);
            }
            other if !other.starts_with("--") => addr = other.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // Same transport settings as Switchyard: no Nagle delay on small answers.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    println!("{{\"grpc_addr\":\"{local}\"}}");
    std::io::stdout().flush()?;
    let service = GrpcInferenceServiceServer::new(Echo { mode })
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024);
    Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
