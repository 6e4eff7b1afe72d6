//! The command line every harness starts the server with: `serve` on
//! ephemeral loopback ports, info logs on a piped stderr (where the
//! `listening` line with the real addresses appears). Shared by the tests and
//! the soak benchmark (`benches/reload_soak/server.rs` includes this file).

use std::path::Path;
use std::process::{Command, Stdio};

pub fn serve_command(binary: &Path, repo: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .args([
            "serve",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .arg("--model-repo")
        .arg(repo)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}
