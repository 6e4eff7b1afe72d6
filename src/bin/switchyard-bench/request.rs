//! The one request every send reuses: inputs from `--input` or ModelMetadata,
//! filled with deterministic pseudo-random data.

use std::time::Duration;

use bytes::Bytes;
use tonic::transport::Channel;

use super::args::{Header, InputSpec};
use switchyard::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use switchyard::proto::inference::model_infer_request::InferInputTensor;
use switchyard::proto::inference::{ModelInferRequest, ModelMetadataRequest};
use switchyard::tensor::DataType;

/// Largest tensor payload the generator builds; larger is surely a typo.
const MAX_TENSOR_BYTES: u64 = 1 << 30;

/// Built once at start; [`Template::request`] is the only per-send work.
#[derive(Debug)]
pub struct Template {
    message: ModelInferRequest,
    headers: Vec<Header>,
    timeout: Option<Duration>,
}

impl Template {
    pub fn new(
        model: &str,
        version: Option<&str>,
        inputs: &[InputSpec],
        headers: Vec<Header>,
        timeout: Option<Duration>,
    ) -> Result<Self, String> {
        let mut tensors = Vec::with_capacity(inputs.len());
        let mut raw = Vec::with_capacity(inputs.len());
        for (index, spec) in inputs.iter().enumerate() {
            raw.push(fill(spec, index as u64)?);
            tensors.push(InferInputTensor {
                name: spec.name.clone(),
                datatype: spec.datatype.as_str().to_string(),
                shape: spec.shape.clone(),
                ..Default::default()
            });
        }
        let message = ModelInferRequest {
            model_name: model.to_string(),
            model_version: version.unwrap_or_default().to_string(),
            inputs: tensors,
            raw_input_contents: raw,
            ..Default::default()
        };
        Ok(Self {
            message,
            headers,
            timeout,
        })
    }

    /// A fresh request: the message clone shares the tensor bytes (`Bytes`).
    pub fn request(&self) -> tonic::Request<ModelInferRequest> {
        let mut request = tonic::Request::new(self.message.clone());
        let metadata = request.metadata_mut();
        for header in &self.headers {
            metadata.append(header.key.clone(), header.value.clone());
        }
        if let Some(timeout) = self.timeout {
            request.set_timeout(timeout);
        }
        request
    }
}

/// Inputs described by the server: dynamic dimensions become `batch` for the
/// first one and 1 elsewhere.
pub async fn inputs_from_metadata(
    client: &mut GrpcInferenceServiceClient<Channel>,
    model: &str,
    version: Option<&str>,
    batch: i64,
) -> Result<Vec<InputSpec>, String> {
    let request = ModelMetadataRequest {
        name: model.to_string(),
        version: version.unwrap_or_default().to_string(),
    };
    let metadata = client
        .model_metadata(request)
        .await
        .map_err(|status| {
            format!(
                "ModelMetadata for '{model}' failed: {} {} (pass --input to skip it)",
                crate::code_label(status.code()),
                status.message()
            )
        })?
        .into_inner();
    if metadata.inputs.is_empty() {
        return Err(format!("model '{model}' declares no inputs; pass --input"));
    }
    metadata
        .inputs
        .into_iter()
        .map(|tensor| {
            let datatype = DataType::parse(&tensor.datatype).ok_or_else(|| {
                format!(
                    "input '{}' has unsupported type '{}'",
                    tensor.name, tensor.datatype
                )
            })?;
            let shape = tensor
                .shape
                .iter()
                .enumerate()
                .map(|(axis, &dim)| match dim {
                    d if d >= 0 => d,
                    _ if axis == 0 => batch,
                    _ => 1,
                })
                .collect();
            Ok(InputSpec {
                name: tensor.name,
                datatype,
                shape,
            })
        })
        .collect()
}

/// splitmix64: tiny, fast, and the same data on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Raw little-endian contents for `spec`. Integers stay in 0..64 because
/// integer inputs are often indices or categories that must be in range.
pub fn fill(spec: &InputSpec, seed: u64) -> Result<Bytes, String> {
    let count = spec
        .shape
        .iter()
        .try_fold(1u64, |n, &dim| n.checked_mul(u64::try_from(dim).ok()?))
        .filter(|&n| n.saturating_mul(8) <= MAX_TENSOR_BYTES)
        .ok_or_else(|| format!("input '{}': shape {:?} is too large", spec.name, spec.shape))?;
    let count = count as usize;
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED);
    let size = spec.datatype.element_size().unwrap_or(12);
    let mut out = Vec::with_capacity(count * size);
    for _ in 0..count {
        let small = rng.next() % 64;
        match spec.datatype {
            DataType::Bool => out.push((small & 1) as u8),
            DataType::Uint8 | DataType::Int8 => out.push(small as u8),
            DataType::Uint16 | DataType::Int16 => out.extend_from_slice(&(small as u16).to_le_bytes()),
            DataType::Uint32 | DataType::Int32 => out.extend_from_slice(&(small as u32).to_le_bytes()),
            DataType::Uint64 | DataType::Int64 => out.extend_from_slice(&small.to_le_bytes()),
            DataType::Fp16 => out.extend_from_slice(&half::f16::from_f64(rng.unit()).to_le_bytes()),
            DataType::Bf16 => out.extend_from_slice(&half::bf16::from_f64(rng.unit()).to_le_bytes()),
            DataType::Fp32 => out.extend_from_slice(&(rng.unit() as f32).to_le_bytes()),
            DataType::Fp64 => out.extend_from_slice(&rng.unit().to_le_bytes()),
            DataType::Bytes => {
                // v2 BYTES element: 4-byte little-endian length, then UTF-8 without NUL.
                let text = format!("s{}", rng.next() % 100_000);
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(datatype: DataType, shape: &[i64]) -> InputSpec {
        InputSpec {
            name: "x".into(),
            datatype,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn sizes_match_shape_and_are_deterministic() {
        for datatype in DataType::ALL {
            let Some(size) = datatype.element_size() else {
                continue;
            };
            let data = fill(&spec(datatype, &[2, 3]), 1).unwrap();
            assert_eq!(data.len(), 6 * size, "{datatype}");
            assert_eq!(data, fill(&spec(datatype, &[2, 3]), 1).unwrap());
        }
        assert!(fill(&spec(DataType::Fp32, &[0, 5]), 0).unwrap().is_empty());
        assert!(fill(&spec(DataType::Fp32, &[1 << 40, 1 << 40]), 0).is_err());
    }

    #[test]
    fn bytes_are_length_prefixed_strings() {
        let data = fill(&spec(DataType::Bytes, &[3]), 7).unwrap();
        let mut rest = &data[..];
        for _ in 0..3 {
            let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            let text = std::str::from_utf8(&rest[4..4 + len]).unwrap();
            assert!(text.starts_with('s') && !text.contains('\0'));
            rest = &rest[4 + len..];
        }
        assert!(rest.is_empty());
    }

    #[test]
    fn request_carries_headers_and_timeout() {
        let header: Header = Header {
            key: "x-user-id".parse().unwrap(),
            value: "42".parse().unwrap(),
        };
        let inputs = [spec(DataType::Fp32, &[1, 4])];
        let template = Template::new(
            "m",
            Some("2"),
            &inputs,
            vec![header],
            Some(Duration::from_millis(50)),
        )
        .unwrap();
        let request = template.request();
        assert_eq!(request.metadata().get("x-user-id").unwrap(), "42");
        assert_eq!(request.metadata().get("grpc-timeout").unwrap(), "50000000n");
        assert_eq!(request.get_ref().model_version, "2");
        assert_eq!(request.get_ref().raw_input_contents[0].len(), 16);
    }
}
