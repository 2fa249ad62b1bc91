//! Compiles `proto/turnstile/v1/*.proto` with protox (pure Rust: no `protoc` to install) and
//! keeps the encoded descriptor set of the public API for gRPC server reflection (the internal
//! `Cluster` service is left out of it).

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let public = root.join("turnstile/v1/dialog.proto");
    let internal = root.join("turnstile/v1/cluster.proto");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("turnstile_descriptor.bin"),
        protox::compile([&public], [&root])?.encode_to_vec(),
    )?;
    let descriptors = protox::compile([&public, &internal], [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
