//! The models the fuzzed server serves, as the contract (README, "Protocol")
//! describes them, and the limits the oracle needs.

use switchyard::proto::inference::model_infer_request::InferRequestedOutputTensor;
use tonic::Code;

use crate::common::{TestRepo, TestServer};

/// `--max-message-bytes` of the fuzzed server.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Conversion limits (src/grpc/convert.rs): inputs/outputs per request, and
/// BYTES elements per input.
pub const MAX_TENSORS: usize = 256;
pub const MAX_BYTES_ELEMENTS: usize = 1 << 20;
/// Error messages are cut at this many bytes and end with '…', so that a
/// long name from a request cannot push the `grpc-message` trailer past a
/// client's header limit (8 KiB in gRPC core, 16 KiB in hyper).
pub const MAX_ERROR_MESSAGE: usize = 1024;

/// Codes a ModelInfer answer may carry at all (README, "Protocol"), when the
/// client sets no deadline that can expire.
pub const CONTRACT_CODES: &[Code] = &[
    Code::Ok,
    Code::NotFound,
    Code::Unavailable,
    Code::InvalidArgument,
    Code::ResourceExhausted,
    Code::Internal,
];

pub struct Spec {
    pub model: &'static str,
    /// The fixture it is a copy of (what it computes).
    pub fixture: &'static str,
    /// 0, or the `max_batch_size` of its config.yaml (with dynamic batching).
    pub max_batch_size: usize,
    pub inputs: &'static [(&'static str, &'static str, &'static [i64])],
    pub outputs: &'static [(&'static str, &'static str)],
}

/// Inputs (name, datatype, shape) and outputs (name, datatype) of a model.
type Io = (
    &'static [(&'static str, &'static str, &'static [i64])],
    &'static [(&'static str, &'static str)],
);
const ADD: Io = (
    &[("a", "FP32", &[-1, 4]), ("b", "FP32", &[-1, 4])],
    &[("sum", "FP32"), ("diff", "FP32")],
);
const STRINGS: Io = (&[("text", "BYTES", &[-1])], &[("out", "BYTES")]);
const INT64: Io = (&[("x", "INT64", &[-1, 3])], &[("y", "INT64")]);
const FP16: Io = (&[("x", "FP16", &[-1, 3])], &[("y", "FP16")]);

const fn served(model: &'static str, fixture: &'static str, max_batch_size: usize, io: Io) -> Spec {
    Spec {
        model,
        fixture,
        max_batch_size,
        inputs: io.0,
        outputs: io.1,
    }
}

const BATCH: usize = 8;

/// Each fixture as is, and a copy with dynamic batching, so that malformed
/// requests also travel next to well-formed ones merged into one run.
pub const SPECS: &[Spec] = &[
    served("add_fp32", "add_fp32", 0, ADD),
    served("string_identity", "string_identity", 0, STRINGS),
    served("int64_ops", "int64_ops", 0, INT64),
    served("fp16_ops", "fp16_ops", 0, FP16),
    served("add_fp32_batched", "add_fp32", BATCH, ADD),
    served("string_identity_batched", "string_identity", BATCH, STRINGS),
    served("int64_ops_batched", "int64_ops", BATCH, INT64),
    served("fp16_ops_batched", "fp16_ops", BATCH, FP16),
];

pub fn spec(model: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.model == model)
}

/// v2 datatype names and element sizes (0 = BYTES).
pub const DATATYPES: &[(&str, usize)] = &[
    ("BOOL", 1),
    ("UINT8", 1),
    ("UINT16", 2),
    ("UINT32", 4),
    ("UINT64", 8),
    ("INT8", 1),
    ("INT16", 2),
    ("INT32", 4),
    ("INT64", 8),
    ("FP16", 2),
    ("BF16", 2),
    ("FP32", 4),
    ("FP64", 8),
    ("BYTES", 0),
];

/// The datatype's canonical name and element size, if it is one.
pub fn datatype(name: &str) -> Option<(&'static str, usize)> {
    DATATYPES.iter().copied().find(|(known, _)| *known == name)
}

/// A server on a repository holding every model of [`SPECS`].
pub async fn serve_all() -> (TestRepo, TestServer) {
    let repo = TestRepo::new();
    for spec in SPECS {
        repo.add_fixture(spec.fixture, spec.model);
        if spec.max_batch_size > 0 {
            repo.write_config(
                spec.model,
                &format!("max_batch_size: {BATCH}\ndynamic_batching: {{max_queue_delay_us: 2000}}\n"),
            );
        }
    }
    let max = MAX_MESSAGE_BYTES.to_string();
    let server = TestServer::start_ready(repo.path(), &["--max-message-bytes", &max]).await;
    (repo, server)
}

/// v2 BYTES framing: each element as a 4-byte little-endian length and its bytes.
pub fn encode_bytes(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        out.extend((item.len() as u32).to_le_bytes());
        out.extend(item);
    }
    out
}

pub fn output(name: &str) -> InferRequestedOutputTensor {
    InferRequestedOutputTensor {
        name: name.into(),
        ..Default::default()
    }
}
