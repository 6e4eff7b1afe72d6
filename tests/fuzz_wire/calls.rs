//! Generated requests sent through a real tonic client, on ModelInfer
//! (concurrent clients) and on ModelStreamInfer, each answer judged by the
//! oracle.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use switchyard::proto::inference::{
    ModelInferRequest, ModelInferResponse, ModelStreamInferResponse, ServerReadyRequest,
};
use tonic::Code;

use crate::common::{Exposition, TestServer, add_request, f32_values};
use crate::generate::{EXPIRED_TIMEOUTS, generate, grpc_timeout};
use crate::models::{CONTRACT_CODES, MAX_ERROR_MESSAGE};
use crate::oracle::{Verdict, check_outputs, judge};
use crate::report::{Findings, clip, short};

/// Whether the contract allows an error answer with `code` to a request
/// judged `verdict`. A full queue may refuse anything.
fn allows(verdict: &Verdict, code: Code) -> bool {
    match verdict {
        _ if code == Code::ResourceExhausted => true,
        Verdict::Ok(_) => false,
        Verdict::NotFound { also_invalid } => {
            code == Code::NotFound || (*also_invalid && code == Code::InvalidArgument)
        }
        Verdict::Invalid(_) => code == Code::InvalidArgument,
        Verdict::Runtime => code == Code::Internal,
    }
}

/// Error messages quote request strings (up to 64 KiB here) but are cut
/// at [`MAX_ERROR_MESSAGE`] bytes, ending with '…'.
fn check_message_length(message: &str) -> Result<(), String> {
    let longest = MAX_ERROR_MESSAGE + '…'.len_utf8();
    if message.len() > longest || (message.len() > MAX_ERROR_MESSAGE && !message.ends_with('…')) {
        return Err(format!(
            "error message of {} bytes (at most {MAX_ERROR_MESSAGE}, then '…'): {}",
            message.len(),
            clip(&message, 200)
        ));
    }
    Ok(())
}

/// How a call whose `grpc-timeout` has passed may end: DEADLINE_EXCEEDED
/// from the server, or CANCELLED "Timeout expired" from tonic's own timer
/// (the client's, or the server's transport before the handler runs: a
/// documented limitation).
pub fn deadline_answer(code: Code, message: &str) -> bool {
    code == Code::DeadlineExceeded || (code == Code::Cancelled && message == "Timeout expired")
}

/// Judges one unary answer; returns a tally label, or the violation.
/// `timeout` is the call's `grpc-timeout` header.
fn check_unary(
    request: &ModelInferRequest,
    timeout: Option<&str>,
    result: Result<tonic::Response<ModelInferResponse>, tonic::Status>,
) -> Result<String, String> {
    let verdict = judge(request);
    let expired = timeout.is_some_and(|t| EXPIRED_TIMEOUTS.contains(&t));
    let status = match (result, &verdict) {
        (Ok(response), Verdict::Ok(expected)) if !expired => {
            return check_outputs(request, expected, response.get_ref()).map(|_| "Ok".into());
        }
        (Ok(_), _) => {
            return Err(format!(
                "answered OK, expected {verdict:?} (grpc-timeout {timeout:?})"
            ));
        }
        (Err(status), _) => status,
    };
    let (code, message) = (status.code(), status.message());
    // Checked first: when tonic's own timer ends the call on the client's
    // side, the status carries a source like a transport failure.
    if expired && deadline_answer(code, message) {
        return Ok(format!("expired deadline: {code:?}"));
    }
    // Any other status that wraps an error was made by the client from a
    // transport failure (reset, disconnect, oversized trailers), not sent by
    // the server.
    if let Some(source) = std::error::Error::source(&status) {
        return Err(format!("transport error: {status:?} (source: {source})"));
    }
    check_message_length(message)?;
    if expired {
        // The server answers what it finds before looking at the deadline
        // (a malformed request, an unknown model), else DEADLINE_EXCEEDED.
        return if allows(&verdict, code) {
            Ok(format!("expired deadline: {code:?}"))
        } else {
            Err(format!(
                "grpc-timeout {timeout:?}: expected DEADLINE_EXCEEDED or {verdict:?}, got {code:?} {}",
                clip(&message, 300)
            ))
        };
    }
    if CONTRACT_CODES.contains(&code) && allows(&verdict, code) {
        Ok(format!("{code:?}"))
    } else {
        Err(format!(
            "expected {verdict:?}, got {code:?} {}",
            clip(&message, 300)
        ))
    }
}

/// (a) `total` generated requests from `clients` concurrent clients.
pub async fn unary(server: &TestServer, seed: u64, total: usize, clients: usize) -> Findings {
    let mut tasks = Vec::new();
    for worker in 0..clients {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut found = Findings::default();
            for index in (worker..total).step_by(clients) {
                let (request, mutations) = generate(seed, index);
                let mut call = tonic::Request::new(request.clone());
                let timeout = grpc_timeout(index);
                if let Some(timeout) = timeout {
                    call.metadata_mut()
                        .insert("grpc-timeout", timeout.parse().unwrap());
                }
                let result = client.model_infer(call).await;
                match check_unary(&request, timeout, result) {
                    Ok(label) => found.tally.add(label),
                    Err(why) => found.fail(format!(
                        "unary #{index} (mutations {mutations:?}, grpc-timeout {timeout:?}): {why}\n    request: {}",
                        short(&request)
                    )),
                }
            }
            found
        }));
    }
    let mut found = Findings::default();
    for task in tasks {
        found.merge(task.await.expect("client task panicked"));
    }
    found
}

/// The code an error on ModelStreamInfer stands for: the stream carries
/// only the message (src/error.rs words it).
fn stream_code(message: &str) -> Code {
    let has = |words: &[&str]| words.iter().any(|w| message.contains(w));
    if has(&["unknown model or route", "has no version"]) {
        Code::NotFound
    } else if has(&["queue is full", "concurrency limit"]) {
        Code::ResourceExhausted
    } else if has(&["onnx runtime failed"]) {
        Code::Internal
    } else {
        Code::InvalidArgument
    }
}

fn check_stream_answer(
    request: &ModelInferRequest,
    answer: &ModelStreamInferResponse,
) -> Result<String, String> {
    let verdict = judge(request);
    match (&verdict, answer.error_message.as_str()) {
        (Verdict::Ok(expected), "") => {
            check_outputs(request, expected, answer.infer_response.as_ref().unwrap()).map(|_| "Ok".into())
        }
        (_, "") => Err(format!("accepted, expected {verdict:?}")),
        (_, message) if allows(&verdict, stream_code(message)) => Ok(format!("{:?}", stream_code(message))),
        (_, message) => Err(format!("expected {verdict:?}, got {}", clip(&message, 300))),
    }
}

/// (a') `count` generated requests on one ModelStreamInfer call: every
/// request gets exactly one answer, carrying its own id and its own results.
pub async fn stream(server: &TestServer, seed: u64, count: usize) -> Findings {
    let mut found = Findings::default();
    let requests: Vec<ModelInferRequest> = (0..count)
        .map(|i| {
            let (mut request, _) = generate(seed, i);
            request.id = format!("stream-{i}");
            request
        })
        .collect();
    let by_id: HashMap<String, ModelInferRequest> =
        requests.iter().map(|r| (r.id.clone(), r.clone())).collect();
    let mut client = server.client().await;
    let mut answers = match client.model_stream_infer(tokio_stream::iter(requests)).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            found.fail(format!("ModelStreamInfer refused: {status:?}"));
            return found;
        }
    };
    let mut seen = HashSet::new();
    loop {
        let answer = match tokio::time::timeout(Duration::from_secs(20), answers.message()).await {
            Err(_) => {
                found.fail(format!(
                    "stream: no answer within 20 s after {} answers",
                    seen.len()
                ));
                break;
            }
            Ok(Err(status)) => {
                found.fail(format!("stream broke after {} answers: {status:?}", seen.len()));
                break;
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(answer))) => answer,
        };
        let id = answer
            .infer_response
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let Some(request) = by_id.get(&id) else {
            found.fail(format!("stream answer with unknown id {}", clip(&id, 60)));
            continue;
        };
        if !seen.insert(id.clone()) {
            found.fail(format!("stream: second answer for {id}"));
        }
        match check_stream_answer(request, &answer) {
            Ok(label) => found.tally.add(label),
            Err(why) => found.fail(format!("stream {id}: {why}\n    request: {}", short(request))),
        }
    }
    if seen.len() != count {
        found.fail(format!("stream: {} answers for {count} requests", seen.len()));
    }
    found
}

/// (c) After the fuzzing: the process is alive, ready, answers a correct
/// request correctly, renders /metrics, and never panicked.
pub async fn still_serving(server: &TestServer) -> Findings {
    let mut found = Findings::default();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid())).expect("server process gone");
    let state = stat.rsplit(')').next().unwrap_or("").trim_start().chars().next();
    assert!(
        matches!(state, Some('R' | 'S' | 'D')),
        "server process state {state:?}: {stat}"
    );
    let mut client = server.client().await;
    let ready = client.server_ready(ServerReadyRequest {}).await;
    if !ready.is_ok_and(|r| r.into_inner().ready) {
        found.fail("ServerReady is not true after the fuzzing");
    }
    // Known values, not the oracle's: this also checks the oracle.
    let answer = client
        .model_infer(add_request(&[1.0, 2.0, 3.0, 4.0, -1.5, 0.0, 10.0, 0.25]))
        .await
        .map(|a| a.into_inner());
    let right = answer.as_ref().is_ok_and(|a| {
        let names: Vec<(&str, &[i64])> = a
            .outputs
            .iter()
            .map(|o| (o.name.as_str(), &o.shape[..]))
            .collect();
        let values: Vec<Vec<f32>> = a.raw_output_contents.iter().map(|r| f32_values(r)).collect();
        a.model_name == "add_fp32"
            && names == [("sum", &[2, 4][..]), ("diff", &[2, 4][..])]
            && values
                == [
                    vec![2.0, 3.0, 4.0, 5.0, -0.5, 1.0, 11.0, 1.25],
                    vec![0.0, 1.0, 2.0, 3.0, -2.5, -1.0, 9.0, -0.75],
                ]
    });
    if !right {
        found.fail(format!("a correct request after the fuzzing: {answer:?}"));
    }
    let metrics = tokio::time::timeout(Duration::from_secs(10), server.metrics())
        .await
        .expect("/metrics answers");
    if !metrics.starts_with("HTTP/1.1 200") || !metrics.contains("switchyard_requests_total") {
        found.fail(format!("/metrics: {}", clip(&metrics, 2000)));
    }
    // The only calls cancelled here are those whose deadline had passed
    // (tonic's client-side timer ends them), which count as DEADLINE_EXCEEDED,
    // and h2 calls reset midway through the message, which never reach the
    // handler. UNKNOWN is no code of the contract.
    let metrics = Exposition::parse(&metrics);
    for code in ["UNKNOWN", "CANCELLED"] {
        let series = metrics.series("switchyard_requests_total", &[("code", code)]);
        if !series.is_empty() {
            found.fail(format!("/metrics counts {code} answers:\n{series}"));
        }
    }
    let panics: Vec<String> = server
        .logs()
        .into_iter()
        .filter(|l| l.contains("panicked"))
        .collect();
    if !panics.is_empty() {
        found.fail(format!(
            "the server panicked (and caught it):\n{}",
            panics.join("\n")
        ));
    }
    found
}
