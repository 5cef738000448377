//! Serving the router on a TCP port (everywhere but Lambda, where `lambda_http` drives it).

use std::future::Future;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

/// Serves `app` on `listener` until `shutdown` completes.
///
/// Every accepted connection gets `TCP_NODELAY`: an answer leaves as soon as it is written.
/// Without it, Nagle's algorithm holds back the last segment of a response written in more
/// than one piece until the client acknowledges the previous one, and a client that delays
/// its acknowledgement (Linux waits up to 40 ms) stalls the request by that much. axum 0.8's
/// `serve` leaves the socket option alone.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY on a connection");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
