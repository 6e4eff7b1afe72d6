//! `--max-connection-age`: the server closes a client connection gracefully
//! once it is that old (a GOAWAY, then the connection ends), so long-lived
//! HTTP/2 clients reconnect and rebalance; a younger connection stays open.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::net::TcpStream;

/// Opens an HTTP/2 connection and returns how long the server kept it open
/// (`None`: still open after `wait`).
async fn connection_lifetime(server: &TestServer, wait: Duration) -> Option<Duration> {
    let addr = server.grpc_url().trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(&addr).await.expect("connect");
    let (_client, connection) = h2::client::handshake(stream).await.expect("HTTP/2 handshake");
    let opened = Instant::now();
    match tokio::time::timeout(wait, connection).await {
        Ok(_) => Some(opened.elapsed()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn an_old_connection_is_closed_and_a_young_one_is_not() {
    let repo = TestRepo::with_models(&["add_fp32"]);
    let aged = TestServer::start_ready(repo.path(), &["--max-connection-age", "0.5"]).await;
    let lifetime = connection_lifetime(&aged, Duration::from_secs(10))
        .await
        .expect("the server closed the connection");
    assert!(
        lifetime >= Duration::from_millis(450),
        "closed after {lifetime:?}"
    );
    let unlimited = TestServer::start_ready(repo.path(), &[]).await;
    assert_eq!(
        connection_lifetime(&unlimited, Duration::from_secs(2)).await,
        None
    );
}
