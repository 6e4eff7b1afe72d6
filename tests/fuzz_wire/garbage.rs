//! Garbage below the request level: bytes on fresh TCP connections, random
//! HTTP/2 frames, and broken gRPC framing, compression, content types and
//! paths over a real HTTP/2 client. The server must answer each with a
//! status (or close the connection), and keep serving.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use rand::Rng;
use rand::rngs::StdRng;
use switchyard::proto::inference::{ModelInferRequest, ModelStreamInferResponse};
use tonic::Code;

use crate::common::{add_request, f32_values};
use crate::generate::{pick, random_bytes_in};
use crate::models::{CONTRACT_CODES, MAX_MESSAGE_BYTES};
use crate::report::Findings;
use crate::transport::{
    INFER_PATH, PREFACE, STREAM_PATH, grpc_frame, grpc_message, h2_call, h2_cancel_midway, h2_frame,
    raw_exchange,
};

/// (b1) Garbage on fresh TCP connections, all at once.
pub async fn tcp(addr: SocketAddr, rng: &mut StdRng) -> Findings {
    // (what, bytes, whether the server must close the connection)
    let mut garbage: Vec<(&str, Vec<u8>, bool)> = Vec::new();
    for i in 0..120 {
        let mut bytes = random_bytes_in(rng, 1..4096);
        match i % 4 {
            0 | 1 => {
                bytes[0] = b'X';
                garbage.push(("random bytes", bytes, true));
            }
            2 => {
                let mut http1 =
                    b"POST /inference.GRPCInferenceService/ModelInfer HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
                http1.extend(&bytes[..bytes.len().min(64)]);
                garbage.push(("HTTP/1.1 request", http1, true));
            }
            _ => {
                // May legitimately wait: the garbage can read as the start
                // of a frame whose payload has not arrived yet.
                let mut with_preface = PREFACE.to_vec();
                with_preface.extend(bytes);
                garbage.push(("preface + random bytes", with_preface, false));
            }
        }
    }
    for _ in 0..60 {
        // Random frames may all be valid (PING, WINDOW_UPDATE, ...): the
        // connection may stay open.
        let mut bytes = PREFACE.to_vec();
        bytes.extend(h2_frame(4, 0, 0, &[]));
        for _ in 0..rng.random_range(1..8) {
            let payload = random_bytes_in(rng, 0..64);
            let kind = rng.random_range(0..12);
            let stream = pick(rng, &[0, 1, 3, 2, u32::MAX >> 1]);
            bytes.extend(h2_frame(kind, rng.random(), stream, &payload));
        }
        garbage.push(("preface + SETTINGS + random frames", bytes, false));
    }
    let outcomes =
        futures::future::join_all(garbage.into_iter().map(|(what, bytes, must_close)| async move {
            let closed = raw_exchange(addr, bytes, Duration::from_secs(3)).await;
            (what, closed, must_close)
        }))
        .await;
    let mut found = Findings::default();
    for (what, closed, must_close) in outcomes {
        found
            .tally
            .add(format!("{what}: {}", if closed { "closed" } else { "left open" }));
        if must_close && !closed {
            found.fail(format!("{what}: connection not closed by the server within 3 s"));
        }
    }
    found
}

/// A valid add_fp32 request (a = 1, 2, 3, 4), encoded: sums 2, 3, 4, 5.
fn valid() -> Vec<u8> {
    add_request(&[1.0, 2.0, 3.0, 4.0]).encode_to_vec()
}

/// (b2) Broken gRPC over a real HTTP/2 client.
pub async fn h2(addr: SocketAddr, rng: &mut StdRng) -> Findings {
    let mut found = Findings::default();
    framing(addr, rng, &mut found).await;
    compression(addr, rng, &mut found).await;
    stream_garbage(addr, rng, &mut found).await;
    not_grpc(addr, &mut found).await;
    cancelled_midway(addr, &mut found).await;
    found
}

fn oversized() -> Vec<u8> {
    let mut request = add_request(&[0.0; 4]);
    request.raw_input_contents[0] = vec![0u8; MAX_MESSAGE_BYTES + 4096].into();
    request.encode_to_vec()
}

/// Broken framing of a unary ModelInfer body: each gets one of the codes given.
async fn framing(addr: SocketAddr, rng: &mut StdRng, found: &mut Findings) {
    let valid = valid();
    let oversized = oversized();
    let mut two = grpc_message(&valid).to_vec();
    two.extend_from_slice(&grpc_message(&valid));
    let mut cases: Vec<(&str, Bytes, &[Code])> = vec![
        ("valid", grpc_message(&valid), &[Code::Ok]),
        (
            "length prefix larger than the body",
            grpc_frame(0, valid.len() as u32 + 100, &valid),
            &[Code::Internal],
        ),
        (
            "compressed flag without grpc-encoding",
            grpc_frame(1, valid.len() as u32, &valid),
            &[Code::Internal],
        ),
        (
            "invalid flag 2",
            grpc_frame(2, valid.len() as u32, &valid),
            &[Code::Internal],
        ),
        (
            "truncated 5-byte header",
            Bytes::from_static(&[0, 0, 0]),
            &[Code::Internal],
        ),
        (
            "empty body",
            Bytes::new(),
            &[Code::Internal, Code::InvalidArgument],
        ),
        (
            "truncated message",
            grpc_frame(0, valid.len() as u32, &valid[..valid.len() / 2]),
            &[Code::Internal],
        ),
        // gRPC says RESOURCE_EXHAUSTED for a message over the limit; tonic
        // answers OUT_OF_RANGE ("decoded message length too large").
        (
            "oversized message (max-message-bytes + 4 KiB)",
            grpc_message(&oversized),
            &[Code::ResourceExhausted, Code::OutOfRange],
        ),
        (
            "length prefix of 4 GiB, no body",
            grpc_frame(0, u32::MAX, &[]),
            &[Code::ResourceExhausted, Code::OutOfRange],
        ),
        (
            "two messages in a unary call",
            two.into(),
            &[
                Code::Ok,
                Code::Internal,
                Code::InvalidArgument,
                Code::Unimplemented,
            ],
        ),
    ];
    for _ in 0..120 {
        let body = if rng.random_bool(0.5) {
            random_bytes_in(rng, 0..512)
        } else {
            // a valid encoding with a few bytes changed
            let mut bytes = valid.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            bytes
        };
        cases.push(("random protobuf bytes", grpc_message(&body), CONTRACT_CODES));
    }
    let limit = MAX_MESSAGE_BYTES.to_string();
    for (what, body, allowed) in cases {
        match h2_call(addr, INFER_PATH, &[], body).await {
            Err(why) => found.fail(format!("h2 {what}: no gRPC answer: {why}")),
            Ok(answer) => {
                found.tally.add(format!("{what}: {:?}", answer.code()));
                if answer.http_status != 200 || !answer.code().is_some_and(|c| allowed.contains(&c)) {
                    found.fail(format!("h2 {what}: expected one of {allowed:?}, got {answer:?}"));
                }
                if what.starts_with("oversized") && !answer.message.contains(&limit) {
                    found.fail(format!("h2 {what}: message does not name the limit: {answer:?}"));
                }
            }
        }
    }
}

/// A compression the server does not accept: UNIMPLEMENTED per the gRPC
/// compression spec (or INTERNAL from the failed decompression).
async fn compression(addr: SocketAddr, rng: &mut StdRng, found: &mut Findings) {
    let valid = valid();
    for (flag, body) in [
        (1u8, valid.clone()),
        (1, random_bytes_in(rng, 1..64)),
        (0, valid.clone()),
    ] {
        let what = format!("grpc-encoding gzip, flag {flag}");
        let frame = grpc_frame(flag, body.len() as u32, &body);
        match h2_call(addr, INFER_PATH, &[("grpc-encoding", "gzip")], frame).await {
            Ok(answer)
                if answer.http_status == 200
                    && matches!(
                        answer.code(),
                        Some(Code::Unimplemented | Code::Internal | Code::Ok)
                    ) =>
            {
                found.tally.add(format!("{what}: {:?}", answer.code()));
            }
            other => found.fail(format!("h2 {what}: {other:?}")),
        }
    }
}

/// Garbage after good messages on ModelStreamInfer: the good ones are
/// answered, correctly, and then the call ends with a non-OK status for the
/// broken message; never silently OK, never a reset connection.
async fn stream_garbage(addr: SocketAddr, rng: &mut StdRng, found: &mut Findings) {
    let valid = valid();
    for _ in 0..40 {
        let good = rng.random_range(1..5);
        let mut body = Vec::new();
        for _ in 0..good {
            body.extend_from_slice(&grpc_message(&valid));
        }
        let junk = random_bytes_in(rng, 1..64);
        let flag = rng.random_range(0..3);
        // The true length, or more than is sent (possibly over the limit).
        let declared = if rng.random_bool(0.5) {
            junk.len() as u32
        } else {
            rng.random_range(junk.len() as u32 + 1..=u32::MAX)
        };
        body.extend_from_slice(&grpc_frame(flag, declared, &junk));
        // Random bytes can be a valid protobuf: then it is one more request.
        let decodes =
            flag == 0 && declared as usize == junk.len() && ModelInferRequest::decode(&junk[..]).is_ok();
        let answer = match h2_call(addr, STREAM_PATH, &[], body.into()).await {
            Ok(answer) if answer.http_status == 200 && answer.grpc_status.is_some() => answer,
            other => {
                found.fail(format!("h2 stream with garbage: {other:?}"));
                continue;
            }
        };
        let code = answer.code().unwrap();
        let what = if decodes { "decodable junk" } else { "garbage" };
        found.tally.add(format!("stream with {what}: {code:?}"));
        let sums: Vec<Option<Vec<f32>>> = answer
            .messages
            .iter()
            .map(|m| {
                let answer = ModelStreamInferResponse::decode(m.as_ref()).ok()?;
                let response = answer
                    .infer_response
                    .filter(|_| answer.error_message.is_empty())?;
                Some(f32_values(response.raw_output_contents.first()?))
            })
            .collect();
        let right = sums
            .iter()
            .filter(|s| s.as_deref() == Some(&[2.0, 3.0, 4.0, 5.0][..]))
            .count();
        let (answers, code_ok) = if decodes {
            (good + 1, code == Code::Ok)
        } else {
            (good, !matches!(code, Code::Ok | Code::Unknown))
        };
        if right < good || answer.messages.len() != answers || !code_ok {
            found.fail(format!(
                "h2 stream with {what} (flag {flag}, declared {declared}, {} bytes {junk:?}) after {good} good \
                 messages: answers {sums:?}, status {code:?} {:?}",
                junk.len(),
                answer.message
            ));
        }
    }
}

/// Not gRPC at all, and unknown methods: any answer, as long as there is one.
async fn not_grpc(addr: SocketAddr, found: &mut Findings) {
    let valid = valid();
    for content_type in ["application/json", "text/plain", "application/grpc+json", ""] {
        let headers = [("content-type", content_type)];
        if let Err(why) = h2_call(addr, INFER_PATH, &headers, grpc_message(&valid)).await {
            found.fail(format!("h2 content-type {content_type:?}: {why}"));
        }
    }
    for path in [
        "/inference.GRPCInferenceService/NoSuchMethod",
        "/",
        "/x/y/z",
        "/inference.GRPCInferenceService/",
    ] {
        match h2_call(addr, path, &[], grpc_message(&valid)).await {
            Ok(answer) => found.tally.add(format!("path {path}: {:?}", answer.code())),
            Err(why) => found.fail(format!("h2 path {path}: {why}")),
        }
    }
}

/// Calls reset midway through the message.
async fn cancelled_midway(addr: SocketAddr, found: &mut Findings) {
    let (valid, oversized) = (valid(), oversized());
    for i in 0..30 {
        let partial = if i % 2 == 0 {
            grpc_frame(0, valid.len() as u32, &valid[..valid.len() / 3])
        } else {
            grpc_frame(0, oversized.len() as u32, &oversized[..oversized.len() / 2])
        };
        if let Err(why) = h2_cancel_midway(addr, partial).await {
            found.fail(format!("h2 cancel midway: {why}"));
        }
    }
}
