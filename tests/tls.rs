//! TLS and mutual TLS with certificates made at test time (rcgen).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use switchyard::proto::inference::ServerReadyRequest;
use switchyard::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
    /// A client certificate from a CA the server does not trust.
    stranger: (String, String),
}

fn ca() -> (CertificateParams, KeyPair, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

fn leaf(issuer: &Issuer<'_, KeyPair>, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let (ca_params, ca_key, ca_pem) = ca();
    let issuer = Issuer::new(ca_params, ca_key);
    let (other_params, other_key, _) = ca();
    let other = Issuer::new(other_params, other_key);
    Pki {
        ca_pem,
        server: leaf(
            &issuer,
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        client: leaf(&issuer, &["client"], ExtendedKeyUsagePurpose::ClientAuth),
        stranger: leaf(&other, &["stranger"], ExtendedKeyUsagePurpose::ClientAuth),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

async fn ready_over(server: &TestServer, tls: Option<ClientTlsConfig>) -> Result<bool, String> {
    let url = match tls {
        Some(_) => format!("https://localhost:{}", server.grpc_addr.port()),
        None => server.grpc_url(),
    };
    let mut endpoint = Channel::from_shared(url)
        .unwrap()
        .connect_timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let channel = endpoint.connect().await.map_err(|e| format!("connect: {e:?}"))?;
    let mut client = GrpcInferenceServiceClient::new(channel);
    client
        .server_ready(ServerReadyRequest {})
        .await
        .map(|r| r.into_inner().ready)
        .map_err(|status| format!("{status:?}"))
}

fn client_tls(pki: &Pki, identity: Option<&(String, String)>) -> ClientTlsConfig {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    tls
}

/// Waits until the server reports ready over TLS (the TestServer helper
/// speaks plaintext).
async fn wait_ready_tls(server: &TestServer, tls: ClientTlsConfig) {
    let started = std::time::Instant::now();
    while ready_over(server, Some(tls.clone())).await != Ok(true) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never ready over TLS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn tls_serves_encrypted_and_refuses_plaintext() {
    let pki = pki();
    let files = tempfile::tempdir().unwrap();
    let cert = write(files.path(), "server.pem", &pki.server.0);
    let key = write(files.path(), "server.key", &pki.server.1);
    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = TestServer::start(repo.path(), &["--tls-cert", &cert, "--tls-key", &key]);
    wait_ready_tls(&server, client_tls(&pki, None)).await;
    assert_eq!(ready_over(&server, Some(client_tls(&pki, None))).await, Ok(true));
    assert!(
        ready_over(&server, None).await.is_err(),
        "plaintext must not be served"
    );
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = pki();
    let files = tempfile::tempdir().unwrap();
    let cert = write(files.path(), "server.pem", &pki.server.0);
    let key = write(files.path(), "server.key", &pki.server.1);
    let ca = write(files.path(), "ca.pem", &pki.ca_pem);
    let repo = TestRepo::with_models(&["add_fp32"]);
    let server = TestServer::start(
        repo.path(),
        &["--tls-cert", &cert, "--tls-key", &key, "--tls-client-ca", &ca],
    );
    wait_ready_tls(&server, client_tls(&pki, Some(&pki.client))).await;

    let with_cert = ready_over(&server, Some(client_tls(&pki, Some(&pki.client)))).await;
    assert_eq!(with_cert, Ok(true));
    let without = ready_over(&server, Some(client_tls(&pki, None))).await;
    assert!(
        without.is_err(),
        "a client without a certificate must be refused: {without:?}"
    );
    let stranger = ready_over(&server, Some(client_tls(&pki, Some(&pki.stranger)))).await;
    assert!(
        stranger.is_err(),
        "a certificate from another CA must be refused: {stranger:?}"
    );
}

#[test]
fn unreadable_tls_files_fail_start_up_clearly() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let output = serve_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_switchyard")),
        repo.path(),
    )
    .args([
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read /nonexistent/cert.pem"), "{stderr}");
}
