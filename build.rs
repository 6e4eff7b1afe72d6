//! Compiles the KServe v2 protocol definitions without a system `protoc`:
//! `protox` parses the .proto files in pure Rust, `tonic-prost-build`
//! generates the message types and the service trait from the descriptors.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/grpc_service.proto"];
    for proto in ["proto/grpc_service.proto", "proto/model_config.proto"] {
        println!("cargo:rerun-if-changed={proto}");
    }

    let fds = protox::compile(protos, ["proto"])?;

    // Server reflection needs the encoded descriptor set; `compile_fds` does
    // not write one, so write it next to the generated code.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("inference_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Tensor payloads stay reference-counted slices of the received frame.
        .bytes(".inference")
        .compile_fds(fds)?;
    Ok(())
}
