//! Compiles every `.proto` under `sieve/` with protox (pure Rust: no system `protoc`) and
//! writes the descriptor set next to the generated code so servers can offer reflection.
//! Google's error detail protos (`third_party/`) are compiled into a descriptor set of their
//! own, for reflection only: their Rust types come from tonic-types.

use std::path::{Path, PathBuf};

use prost::Message;

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let mut files = Vec::new();
    proto_files(&root.join("sieve"), &mut files)?;
    files.sort();
    let relative: Vec<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(&root).map(Path::to_path_buf))
        .collect::<Result<_, _>>()?;

    let fds = protox::compile(&relative, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("sieve_descriptor.bin"), fds.encode_to_vec())?;

    let third_party = root.join("third_party");
    let google_rpc = protox::compile(
        ["google/rpc/error_details.proto", "google/rpc/status.proto"],
        [&third_party],
    )?;
    std::fs::write(
        out.join("google_rpc_descriptor.bin"),
        google_rpc.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;

    println!("cargo:rerun-if-changed=sieve");
    println!("cargo:rerun-if-changed=third_party");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    Ok(())
}
