//! Below tonic: raw bytes on a TCP socket, hand-made HTTP/2 frames, and
//! gRPC calls over the `h2` crate whose body (gRPC framing included) the
//! caller makes.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const INFER_PATH: &str = "/inference.GRPCInferenceService/ModelInfer";
pub const STREAM_PATH: &str = "/inference.GRPCInferenceService/ModelStreamInfer";
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Writes `bytes` on a fresh connection and reads until the server closes it
/// (`true`) or `wait` passes (`false`).
pub async fn raw_exchange(addr: SocketAddr, bytes: Vec<u8>, wait: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        panic!("cannot connect to {addr}: server gone?");
    };
    // The server may close before everything is written: that is fine.
    let _ = stream.write_all(&bytes).await;
    let mut buf = vec![0u8; 16 << 10];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// One HTTP/2 frame: 24-bit length, type, flags, stream id, payload.
pub fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(9 + payload.len());
    frame.extend(&(payload.len() as u32).to_be_bytes()[1..]);
    frame.push(kind);
    frame.push(flags);
    frame.extend(stream.to_be_bytes());
    frame.extend(payload);
    frame
}

/// One gRPC message frame; `declared_len` need not be the true length.
pub fn grpc_frame(flag: u8, declared_len: u32, message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(flag);
    out.put_u32(declared_len);
    out.put_slice(message);
    out.freeze()
}

/// A well-formed, uncompressed gRPC message frame.
pub fn grpc_message(message: &[u8]) -> Bytes {
    grpc_frame(0, message.len() as u32, message)
}

/// What came back for a hand-made gRPC call.
#[derive(Debug)]
pub struct H2Answer {
    pub http_status: u16,
    pub grpc_status: Option<i32>,
    pub message: String,
    /// The gRPC messages of the response body.
    pub messages: Vec<Bytes>,
}

impl H2Answer {
    pub fn code(&self) -> Option<tonic::Code> {
        self.grpc_status.map(tonic::Code::from)
    }
}

/// Splits a gRPC body into its messages (`None` if the framing is broken).
fn grpc_messages(mut body: &[u8]) -> Option<Vec<Bytes>> {
    let mut messages = Vec::new();
    while !body.is_empty() {
        if body.len() < 5 || body[0] != 0 {
            return None;
        }
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        messages.push(Bytes::copy_from_slice(body.get(5..5 + len)?));
        body = &body[5 + len..];
    }
    Some(messages)
}

fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

fn grpc_message_header(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get("grpc-message")?;
    Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// An HTTP/2 connection driven by the `h2` crate, ready for one request.
async fn h2_connect(
    addr: SocketAddr,
) -> Result<(h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<()>), String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (client, connection) = h2::client::handshake(tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let client = client.ready().await.map_err(|e| format!("ready: {e}"))?;
    Ok((client, driver))
}

fn grpc_post(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("te", "trailers");
    if !headers.iter().any(|(name, _)| *name == "content-type") {
        request = request.header("content-type", "application/grpc");
    }
    for &(name, value) in headers {
        request = request.header(name, value);
    }
    request.body(()).unwrap()
}

/// POSTs `body` (already gRPC-framed, or not) as one call over a fresh
/// HTTP/2 connection; gives up after 10 s.
pub async fn h2_call(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<H2Answer, String> {
    let (mut client, driver) = h2_connect(addr).await?;
    let result = async {
        let (response, mut stream) = client
            .send_request(grpc_post(addr, path, headers), false)
            .map_err(|e| format!("send_request: {e}"))?;
        // A server that answers early may reset the stream while we send.
        let _ = stream.send_data(body, true);
        let response = response.await.map_err(|e| format!("response: {e}"))?;
        let (parts, mut body) = response.into_parts();
        let mut grpc = grpc_status(&parts.headers);
        let mut message = grpc_message_header(&parts.headers).unwrap_or_default();
        let mut received = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| format!("body: {e}"))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            received.extend_from_slice(&chunk);
        }
        let messages = grpc_messages(&received).ok_or("response body is not gRPC-framed")?;
        if grpc.is_none()
            && let Some(trailers) = body.trailers().await.map_err(|e| format!("trailers: {e}"))?
        {
            grpc = grpc_status(&trailers);
            message = grpc_message_header(&trailers).unwrap_or(message);
        }
        Ok(H2Answer {
            http_status: parts.status.as_u16(),
            grpc_status: grpc,
            message,
            messages,
        })
    };
    let result = tokio::time::timeout(Duration::from_secs(10), result)
        .await
        .unwrap_or_else(|_| Err("no answer within 10 s".into()));
    driver.abort();
    result
}

/// Starts a ModelInfer call, sends part of a message, then resets the stream.
pub async fn h2_cancel_midway(addr: SocketAddr, partial: Bytes) -> Result<(), String> {
    let (mut client, driver) = h2_connect(addr).await?;
    let (_response, mut stream) = client
        .send_request(grpc_post(addr, INFER_PATH, &[]), false)
        .map_err(|e| format!("send_request: {e}"))?;
    let _ = stream.send_data(partial, false);
    tokio::time::sleep(Duration::from_millis(5)).await;
    stream.send_reset(h2::Reason::CANCEL);
    tokio::time::sleep(Duration::from_millis(5)).await;
    driver.abort();
    Ok(())
}
