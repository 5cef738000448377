//! The API's own HTTP server, for runs outside Lambda (`make run`, the api binary on a laptop,
//! the tests). In the cloud API Gateway stands in front and enforces its own limits; here this
//! module does:
//!
//! - **slow clients**: a connection must deliver a request's headers within
//!   [`ServerLimits::header_read_timeout`], or it is closed (with 408 when part of a request
//!   had arrived; silently when the connection was merely idle between requests);
//! - **connection limits**: at most [`ServerLimits::max_connections`] open at once (more are
//!   answered 503) and [`ServerLimits::max_connections_per_client`] from one address (more are
//!   answered 429), so a few clients cannot starve the rest;
//! - **the envelope below the router**: hyper answers malformed requests (400), overlong URLs
//!   (414) and oversized heads (431) itself, with an empty body. [`Guarded`] recognises those
//!   automatic answers as hyper writes them, holds them back, and the connection task sends
//!   the JSON envelope in their place.
//!
//! axum's own `serve` exposes none of these settings, so the accept loop is ours, over hyper's
//! HTTP/1 connection.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tower::ServiceExt as _;
use tower::util::MapRequest;

use crate::error::{ErrorBody, ErrorEnvelope};

/// The most a request's line and headers may take in the read buffer. Beyond it hyper answers
/// 431 (414 for a URL longer than 64 KiB within it); both get the envelope.
pub const MAX_HEAD_BUFFER: usize = 128 * 1024;

/// How long a refused connection is drained before it is closed, so that the client reads
/// the answer instead of a reset.
const DRAIN: Duration = Duration::from_millis(500);

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The server's limits; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_connections_per_client: 128,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish
/// (up to ten seconds).
pub async fn serve(
    listener: TcpListener,
    app: crate::App,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = PerClient::new(limits.max_connections_per_client);
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BUFFER);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // An answer leaves as soon as it is written: with Nagle's algorithm, the last segment
        // of a response written in pieces waits for the client to acknowledge the previous
        // one, and a client that delays its acknowledgements (Linux: up to 40 ms) stalls it.
        let _ = stream.set_nodelay(true);
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, Refusal::ServerFull(limits.max_connections)));
            continue;
        };
        let Some(slot) = per_client.take(peer.ip()) else {
            tokio::spawn(refuse(
                stream,
                Refusal::ClientFull(limits.max_connections_per_client),
            ));
            continue;
        };
        let service = TowerToHyperService::new(app.clone().map_request(into_axum as IntoAxum));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _held = (permit, slot);
            connection(stream, peer, &builder, service, watcher, limits).await;
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running at shutdown were cut off");
        }
    }
    Ok(())
}

/// How a request read by hyper becomes one the [`crate::App`] takes: only its body's type
/// changes.
type IntoAxum = fn(hyper::Request<hyper::body::Incoming>) -> axum::extract::Request;

fn into_axum(request: hyper::Request<hyper::body::Incoming>) -> axum::extract::Request {
    request.map(Body::new)
}

/// One connection: hyper serves it over [`Guarded`]; if hyper gave up on a request itself,
/// the envelope goes out on the socket it hands back.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    builder: &hyper::server::conn::http1::Builder,
    service: TowerToHyperService<MapRequest<crate::App, IntoAxum>>,
    watcher: hyper_util::server::graceful::Watcher,
    limits: ServerLimits,
) {
    let (returned, back) = oneshot::channel();
    let io = Guarded::new(stream, returned);
    let served = watcher
        .watch(builder.serve_connection(TokioIo::new(io), service))
        .await;
    // hyper has dropped the connection, and with it `Guarded`, which sent the socket back.
    let Ok(Returned {
        stream,
        held_back,
        partial_request,
    }) = back.await
    else {
        return;
    };
    let refusal = match (held_back, &served) {
        (Some(status), _) => Some(Refusal::Hyper(status)),
        (None, Err(error)) if error.is_timeout() && partial_request => {
            Some(Refusal::SlowHeaders(limits.header_read_timeout))
        }
        _ => None,
    };
    match refusal {
        Some(refusal) => {
            tracing::info!(%peer, status = refusal.status().as_u16(), code = refusal.code(), "request refused before the router");
            answer(stream, refusal).await;
        }
        None => {
            if let Err(error) = served
                && !error.is_timeout()
                && !error.is_incomplete_message()
            {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
    }
}

/// Why a connection was answered without reaching the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// hyper's own answer to an unreadable request.
    Hyper(StatusCode),
    SlowHeaders(Duration),
    ServerFull(usize),
    ClientFull(usize),
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Self::Hyper(status) => status,
            Self::SlowHeaders(_) => StatusCode::REQUEST_TIMEOUT,
            Self::ServerFull(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::ClientFull(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Hyper(StatusCode::URI_TOO_LONG) => "uri_too_long",
            Self::Hyper(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE) => "headers_too_large",
            Self::Hyper(_) => "malformed_request",
            Self::SlowHeaders(_) => "request_timeout",
            Self::ServerFull(_) | Self::ClientFull(_) => "too_many_connections",
        }
    }

    fn message(self) -> String {
        match self {
            Self::Hyper(StatusCode::URI_TOO_LONG) => {
                "the URL is longer than this API accepts".to_owned()
            }
            Self::Hyper(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE) => format!(
                "the request line and headers are larger than the {} KiB this API accepts",
                MAX_HEAD_BUFFER / 1024
            ),
            Self::Hyper(_) => "the request is not valid HTTP/1.1 and could not be read".to_owned(),
            Self::SlowHeaders(timeout) => format!(
                "the request's headers did not arrive within {} s",
                timeout.as_secs_f64()
            ),
            Self::ServerFull(limit) => format!(
                "the server has {limit} connections open, the most it allows; try again shortly"
            ),
            Self::ClientFull(limit) => format!(
                "this client has {limit} connections open, the most one client may; reuse or close one"
            ),
        }
    }

    /// The whole HTTP/1.1 response: the envelope, and `connection: close`.
    fn response(self) -> Vec<u8> {
        let body = serde_json::to_vec(&ErrorEnvelope {
            error: ErrorBody {
                code: self.code().to_owned(),
                message: self.message(),
                details: None,
            },
        })
        .unwrap_or_default();
        let status = self.status();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{}: {}\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            body.len(),
            crate::request_id::HEADER,
            crate::request_id::fresh(),
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

/// Sends `refusal`, closes the sending side, and reads what the client still sends for a
/// moment, so that closing the socket does not reset the answer away.
async fn answer(mut stream: TcpStream, refusal: Refusal) {
    if stream.write_all(&refusal.response()).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(DRAIN, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn refuse(stream: TcpStream, refusal: Refusal) {
    if let Ok(peer) = stream.peer_addr() {
        tracing::warn!(%peer, status = refusal.status().as_u16(), "connection refused: {}", refusal.message());
    }
    answer(stream, refusal).await;
}

/// Connections open per client address.
#[derive(Debug, Clone)]
struct PerClient {
    limit: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in [`PerClient`], given back when dropped.
#[derive(Debug)]
struct ClientSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerClient {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Arc::default(),
        }
    }

    fn take(&self, ip: IpAddr) -> Option<ClientSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            ip,
            open: self.open.clone(),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What [`Guarded`] hands back when hyper drops it.
struct Returned {
    stream: TcpStream,
    /// The status of an automatic answer hyper tried to write, held back.
    held_back: Option<StatusCode>,
    /// Whether the client sent bytes after the last answer (a request was under way).
    partial_request: bool,
}

/// The socket as hyper sees it. It holds back hyper's own empty answers to unreadable
/// requests (see [`automatic_answer`]) and returns the socket when hyper is done with it.
struct Guarded {
    stream: Option<TcpStream>,
    returned: Option<oneshot::Sender<Returned>>,
    held_back: Option<StatusCode>,
    partial_request: bool,
}

impl Guarded {
    fn new(stream: TcpStream, returned: oneshot::Sender<Returned>) -> Self {
        Self {
            stream: Some(stream),
            returned: Some(returned),
            held_back: None,
            partial_request: false,
        }
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let (Some(stream), Some(returned)) = (self.stream.take(), self.returned.take()) {
            let _ = returned.send(Returned {
                stream,
                held_back: self.held_back,
                partial_request: self.partial_request,
            });
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(this.stream()?).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.partial_request = true;
        }
        polled
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.held_back.is_some() {
            // Nothing may follow an answer that is held back.
            return Poll::Ready(Ok(buf.len()));
        }
        match automatic_answer(buf) {
            Some((0, status)) => {
                this.held_back = Some(status);
                Poll::Ready(Ok(buf.len()))
            }
            // Write what precedes it first; hyper sends the rest in a later call.
            Some((start, _)) => Pin::new(this.stream()?).poll_write(cx, &buf[..start]),
            None => {
                this.partial_request = false;
                Pin::new(this.stream()?).poll_write(cx, buf)
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.stream()?).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.held_back.is_some() {
            // The envelope still has to go out on this socket.
            return Poll::Ready(Ok(()));
        }
        Pin::new(self.stream()?).poll_shutdown(cx)
    }
}

/// Finds an answer hyper wrote on its own in `buf`: its position and status. hyper answers an
/// unreadable request with a bare head (`HTTP/1.1 400 Bad Request`, 414 or 431, a zero
/// `content-length` and no `content-type`); every answer of the router carries a body with a
/// content type, so the two cannot be confused.
fn automatic_answer(buf: &[u8]) -> Option<(usize, StatusCode)> {
    const STATUS_LINES: [(&[u8], StatusCode); 3] = [
        (b"HTTP/1.1 400 Bad Request\r\n", StatusCode::BAD_REQUEST),
        (b"HTTP/1.1 414 URI Too Long\r\n", StatusCode::URI_TOO_LONG),
        (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
    ];
    // Every response passes here, so the scan is one vectorised search for the common prefix,
    // with a searcher built once; only its (rare) hits are looked at closely.
    static CLIENT_ERROR: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"HTTP/1.1 4"));
    CLIENT_ERROR.find_iter(buf).find_map(|start| {
        let head = &buf[start..];
        let (_, status) = STATUS_LINES
            .iter()
            .find(|(line, _)| head.starts_with(line))?;
        let end = memchr::memmem::find(head, b"\r\n\r\n").unwrap_or(head.len());
        let head = head[..end].to_ascii_lowercase();
        let bare = memchr::memmem::find(&head, b"\r\ncontent-length: 0").is_some()
            && memchr::memmem::find(&head, b"\r\ncontent-type:").is_none();
        bare.then_some((start, *status))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bare_answers_are_recognised_and_the_routers_are_not() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 01 Nov 2026 12:00:00 GMT\r\n\r\n";
        assert_eq!(
            automatic_answer(bare),
            Some((0, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE))
        );
        let mut after =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok".to_vec();
        let at = after.len();
        after.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(
            automatic_answer(&after),
            Some((at, StatusCode::BAD_REQUEST))
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_answer(ours), None);
        let ok = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n{}";
        assert_eq!(automatic_answer(ok), None);
    }

    #[test]
    fn refusals_carry_the_envelope_and_close_the_connection() {
        for refusal in [
            Refusal::Hyper(StatusCode::BAD_REQUEST),
            Refusal::Hyper(StatusCode::URI_TOO_LONG),
            Refusal::Hyper(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            Refusal::SlowHeaders(Duration::from_secs(10)),
            Refusal::ServerFull(512),
            Refusal::ClientFull(128),
        ] {
            let response = String::from_utf8(refusal.response()).expect("UTF-8");
            let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
            assert!(
                head.starts_with(&format!("HTTP/1.1 {} ", refusal.status().as_u16())),
                "{head}"
            );
            assert!(head.contains("\r\nconnection: close"), "{head}");
            assert!(
                head.contains(&format!("\r\ncontent-length: {}", body.len())),
                "{head}"
            );
            let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
            assert_eq!(json["error"]["code"], refusal.code());
            assert!(
                json["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    }

    #[test]
    fn each_client_gets_its_own_share_of_connections() {
        let clients = PerClient::new(2);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let first = clients.take(a).expect("first");
        let _second = clients.take(a).expect("second");
        assert!(clients.take(a).is_none(), "a third from one client");
        assert!(clients.take(b).is_some(), "another client still gets in");
        drop(first);
        assert!(
            clients.take(a).is_some(),
            "a closed connection frees its place"
        );
    }
}
