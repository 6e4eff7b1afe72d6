//! ModelStreamInfer: every request on the stream runs independently and its
//! answer (or error, as `error_message`) is sent in completion order. A
//! message that cannot be decoded ends the call with that status after the
//! answers already running are sent, so no request is lost silently.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tonic::metadata::MetadataMap;
use tonic::{Status, Streaming};

use super::convert::{self, Metadata};
use crate::engine::{Engine, InferResponse};
use crate::error::ServeError;
use crate::proto::inference::{ModelInferRequest, ModelInferResponse, ModelStreamInferResponse};

type Answer = Result<ModelStreamInferResponse, Status>;

/// Runs until the client closes its side (or breaks it) and every answer is sent.
pub async fn serve_stream(
    engine: Arc<Engine>,
    metadata: MetadataMap,
    mut incoming: Streaming<ModelInferRequest>,
    answers: mpsc::Sender<Answer>,
) {
    let mut running = FuturesUnordered::new();
    let ended = loop {
        tokio::select! {
            next = incoming.next() => match next {
                Some(Ok(message)) => {
                    let engine = engine.clone();
                    let metadata = metadata.clone();
                    running.push(async move {
                        let id = message.id.clone();
                        let model_name = message.model_name.clone();
                        let result = match convert::infer_request(message, None) {
                            Ok(request) => engine.infer(request, &Metadata(&metadata)).await,
                            Err(error) => {
                                engine.record_rejected(&model_name, &error);
                                Err(error)
                            }
                        };
                        stream_answer(result, id)
                    });
                }
                Some(Err(status)) => break Some(status),
                None => break None,
            },
            Some(answer) = running.next(), if !running.is_empty() => {
                if answers.send(Ok(answer)).await.is_err() {
                    return;
                }
            }
        }
    };
    while let Some(answer) = running.next().await {
        if answers.send(Ok(answer)).await.is_err() {
            return;
        }
    }
    if let Some(status) = ended {
        let _ = answers.send(Err(status)).await;
    }
}

/// One stream answer: the response, or the error in `error_message` with the request's id.
fn stream_answer(result: Result<InferResponse, ServeError>, id: String) -> ModelStreamInferResponse {
    match result {
        Ok(response) => ModelStreamInferResponse {
            error_message: String::new(),
            infer_response: Some(convert::infer_response(response)),
        },
        Err(error) => ModelStreamInferResponse {
            error_message: error.to_string(),
            infer_response: Some(ModelInferResponse {
                id,
                ..Default::default()
            }),
        },
    }
}
