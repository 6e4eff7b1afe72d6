//! Serving HTTP/1.1 and h2c (HTTP/2 without TLS) on a listener, and the
//! one-port mode: gRPC and REST on the same port, told apart by the
//! request's content type (`application/grpc...` goes to the gRPC services).

use std::convert::Infallible;
use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, header::CONTENT_TYPE};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

/// A service answering every request on a connection.
pub type HttpService = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

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

/// Serves `service` on `listener` (HTTP/1.1 and h2c) until `shutdown`
/// resolves, then lets open connections finish their requests (the caller
/// bounds how long).
pub async fn serve(listener: TcpListener, service: HttpService, shutdown: impl Future<Output = ()>) {
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept an HTTP connection");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small requests must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let hyper_service =
            TowerToHyperService::new(service.map_request(|r: Request<Incoming>| r.map(Body::new)));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
