//! Serving HTTP/1.1 and h2c (HTTP/2 without TLS) on a listener, and the
//! one-port mode: gRPC and REST on the same port, told apart by the
//! request's content type (`application/grpc...` goes to the gRPC services).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, header::CONTENT_TYPE};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::{Builder, UpgradeableConnection};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower::util::{BoxCloneSyncService, MapRequest};

/// A service answering every request on a connection.
pub type HttpService = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// The gRPC services alone, as a service of this server.
pub fn grpc_service(grpc: tonic::service::Routes) -> HttpService {
    let grpc = grpc.prepare();
    let service = tower::service_fn(move |request: Request<Body>| {
        let grpc = grpc.clone();
        async move {
            let response = grpc.oneshot(request).await.unwrap_or_else(|e| match e {});
            Ok::<_, Infallible>(response.map(Body::new))
        }
    });
    BoxCloneSyncService::new(service)
}

/// The REST router as a service.
pub fn rest_service(router: Router) -> HttpService {
    BoxCloneSyncService::new(router.into_service::<Body>())
}

/// gRPC and REST on one service: gRPC requests (content type
/// `application/grpc`, `application/grpc+proto`, ...) go to `grpc`.
pub fn one_port_service(router: Router, grpc: tonic::service::Routes) -> HttpService {
    let grpc = grpc.prepare();
    let rest = router.into_service::<Body>();
    let dispatch = tower::service_fn(move |request: Request<Body>| {
        let grpc = grpc.clone();
        let rest = rest.clone();
        async move {
            let is_grpc = request
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/grpc"));
            if is_grpc {
                let response = grpc.oneshot(request).await.unwrap_or_else(|e| match e {});
                Ok(response.map(Body::new))
            } else {
                rest.oneshot(request).await
            }
        }
    });
    BoxCloneSyncService::new(dispatch)
}

/// How long connections live.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionLimits {
    /// Close a connection gracefully after this age (clients reconnect and
    /// so rebalance across replicas); running calls get `age_grace`.
    pub max_age: Option<Duration>,
    pub age_grace: Duration,
}

/// Serves `service` on `listener` (HTTP/1.1 and h2c) until `shutdown`
/// resolves, then lets open connections finish their requests (the caller
/// bounds how long). Nothing here times requests out: deadlines are the
/// engine's, so every expired call is answered and counted by it.
pub async fn serve(
    listener: TcpListener,
    service: HttpService,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let builder = Builder::new(TokioExecutor::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        // Small requests must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let to_body: fn(Request<Incoming>) -> Request<Body> = to_body;
        let hyper_service = TowerToHyperService::new(service.clone().map_request(to_body));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
            .into_owned();
        connections.spawn(drive(connection, limits, stop_rx.clone()));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}

type ConnectionService = TowerToHyperService<MapRequest<HttpService, fn(Request<Incoming>) -> Request<Body>>>;
type Connection = UpgradeableConnection<'static, TokioIo<TcpStream>, ConnectionService, TokioExecutor>;

fn to_body(request: Request<Incoming>) -> Request<Body> {
    request.map(Body::new)
}

/// Runs one connection until it ends, its age is up, or shutdown begins;
/// then closes it gracefully (in-flight requests finish).
async fn drive(connection: Connection, limits: ConnectionLimits, mut stop: watch::Receiver<bool>) {
    tokio::pin!(connection);
    let aged = async {
        match limits.max_age {
            Some(age) => tokio::time::sleep(age).await,
            None => std::future::pending().await,
        }
    };
    let grace = tokio::select! {
        _ = connection.as_mut() => return,
        () = aged => Some(limits.age_grace),
        _ = stop.wait_for(|&stop| stop) => None,
    };
    connection.as_mut().graceful_shutdown();
    match grace {
        Some(grace) => {
            let _ = tokio::time::timeout(grace, connection).await;
        }
        None => {
            let _ = connection.await;
        }
    }
}
