//! A database connection that gives up when the server stops answering.
//!
//! `statement_timeout` makes a live server cancel a slow statement, but a server that does not
//! run at all — a frozen host, a stopped process, a network that drops packets without a
//! reset — answers nothing, and a client would wait for ever: the kernel of a frozen host
//! still accepts and acknowledges the bytes, so TCP itself never fails.
//!
//! [`Watchdog`] wraps the plaintext stream of one connection and follows the protocol's
//! rhythm: every startup message, `Sync` and simple `Query` the client sends is answered by one
//! `ReadyForQuery` from the server. While an answer is owed, the server must send *something*
//! within `patience` of the last progress in either direction; otherwise reading fails with
//! [`std::io::ErrorKind::TimedOut`], which closes the connection and fails every statement
//! waiting on it. An idle connection (nothing owed) is never timed out, and a long result or a
//! long `COPY` keeps it alive by making progress. `patience` is the statement timeout plus a
//! margin, so a live server always answers first, with its own cancellation.
//!
//! Every connection of a pool reports to one [`Health`], which remembers a stall for a short
//! cool-down so that callers fail at once instead of each waiting out its own deadline.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use tokio_postgres::tls::{ChannelBinding, TlsStream};

/// How long, after the database last failed to answer or to accept a connection, new work is
/// refused at once rather than sent to wait for its own deadline.
pub const COOL_DOWN: Duration = Duration::from_secs(2);

/// When a watchdog last gave a connection up, and after how long: tokio-postgres tells the
/// statements waiting on that connection only that it closed, so [`stalled_just_now`] lets
/// the error they get say why.
static LAST_STALL: Mutex<Option<(Instant, Duration)>> = Mutex::new(None);

/// How soon after a stall a closed connection is put down to it: the waiting statements fail
/// within microseconds of the connection giving up.
const STALL_ECHO: Duration = Duration::from_secs(1);

fn note_stall(patience: Duration) {
    if let Ok(mut last) = LAST_STALL.lock() {
        *last = Some((Instant::now(), patience));
    }
}

/// The patience of a connection given up in the last moment, if any.
pub fn stalled_just_now() -> Option<Duration> {
    let last = *LAST_STALL.lock().ok()?;
    last.filter(|(at, _)| at.elapsed() < STALL_ECHO)
        .map(|(_, patience)| patience)
}

/// Whether the database has been answering, shared by every connection of one pool.
#[derive(Debug)]
pub struct Health {
    origin: Instant,
    /// Milliseconds since `origin` at which the last stall's cool-down ends; 0 when healthy.
    cool_until: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            cool_until: AtomicU64::new(0),
        }
    }
}

impl Health {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The database did not answer (a stall, a refused or timed-out connection).
    pub fn failed(&self) {
        let until = self.now_ms() + u64::try_from(COOL_DOWN.as_millis()).unwrap_or(0);
        self.cool_until.store(until.max(1), Ordering::Relaxed);
    }

    /// The database answered: whatever happened before is over.
    pub fn answered(&self) {
        if self.cool_until.load(Ordering::Relaxed) != 0 {
            self.cool_until.store(0, Ordering::Relaxed);
        }
    }

    /// The time left in the cool-down of the last failure, if any.
    pub fn cooling(&self) -> Option<Duration> {
        let until = self.cool_until.load(Ordering::Relaxed);
        let now = self.now_ms();
        (until > now).then(|| Duration::from_millis(until - now))
    }
}

/// Splits one direction of the protocol into messages: a type byte, then a 4-byte big-endian
/// length that counts itself and the body. The first message a client sends (the startup
/// message) has no type byte.
#[derive(Debug)]
struct Framer {
    untyped_next: bool,
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
}

/// The type reported for the untyped startup message.
const STARTUP: u8 = 0;

impl Framer {
    fn new(untyped_first: bool) -> Self {
        Self {
            untyped_next: untyped_first,
            header: [0; 5],
            header_len: 0,
            body_left: 0,
        }
    }

    /// Reads `bytes`, calling `message` with the type of each message whose header completes.
    fn feed(&mut self, mut bytes: &[u8], mut message: impl FnMut(u8)) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(bytes.len());
                self.body_left -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let header_size = if self.untyped_next { 4 } else { 5 };
            let take = (header_size - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&bytes[..take]);
            self.header_len += take;
            bytes = &bytes[take..];
            if self.header_len == header_size {
                let (kind, length) = if self.untyped_next {
                    (STARTUP, &self.header[..4])
                } else {
                    (self.header[0], &self.header[1..5])
                };
                let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]);
                self.body_left = (length as usize).saturating_sub(4);
                self.untyped_next = false;
                self.header_len = 0;
                message(kind);
            }
        }
    }
}

/// The plaintext stream of one connection, timed out when the server owes an answer and sends
/// nothing for `patience` (see the module documentation).
#[derive(Debug)]
pub struct Watchdog<S> {
    inner: S,
    patience: Arc<Patience>,
    health: Arc<Health>,
    sent: Framer,
    received: Framer,
    /// Answers the client is waiting for.
    owed: u64,
    timer: Pin<Box<Sleep>>,
    armed: bool,
}

/// How long a connection waits for the server, changeable while it is open (migrations relax
/// it for their long statements).
#[derive(Debug)]
pub struct Patience(AtomicU64);

impl Patience {
    pub fn new(patience: Option<Duration>) -> Arc<Self> {
        let this = Self(AtomicU64::new(0));
        this.set(patience);
        Arc::new(this)
    }

    /// `None`: wait as long as the server takes.
    pub fn set(&self, patience: Option<Duration>) {
        let millis = patience.map_or(0, |p| u64::try_from(p.as_millis()).unwrap_or(u64::MAX));
        self.0.store(millis, Ordering::Relaxed);
    }

    fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(Duration::from_millis(millis)),
        }
    }
}

impl<S> Watchdog<S> {
    pub fn new(inner: S, patience: Arc<Patience>, health: Arc<Health>) -> Self {
        Self {
            inner,
            patience,
            health,
            sent: Framer::new(true),
            received: Framer::new(false),
            owed: 0,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: false,
        }
    }

    /// Something moved: the server has `patience` from now to send the next byte it owes.
    ///
    /// The timer is polled here, with the task's waker, because the connection may not read
    /// again before it sleeps (tokio-postgres reads first, then writes its requests, then
    /// waits): a timer that was only reset would never wake it.
    fn progress(&mut self, cx: &mut Context<'_>) {
        match (self.owed, self.patience.get()) {
            (0, _) | (_, None) => self.armed = false,
            (_, Some(patience)) => {
                self.timer
                    .as_mut()
                    .reset(tokio::time::Instant::now() + patience);
                self.armed = true;
                let _registered = self.timer.as_mut().poll(cx);
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watchdog<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                if !new.is_empty() {
                    let mut answered = 0;
                    this.received.feed(new, |kind| {
                        // CopyInResponse: the server ignores every Sync it receives in copy-in
                        // mode, including the one sent with the COPY statement itself (the
                        // extended protocol's Bind/Execute/Sync), so that Sync is never
                        // answered; the one after CopyDone or CopyFail is.
                        if kind == b'Z' || kind == b'G' {
                            answered += 1;
                        }
                    });
                    this.owed = this.owed.saturating_sub(answered);
                    this.health.answered();
                    this.progress(cx);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if this.armed && this.timer.as_mut().poll(cx).is_ready() {
                    this.armed = false;
                    this.health.failed();
                    let waited = this.patience.get().unwrap_or_default();
                    note_stall(waited);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the database did not answer within {} ms; gave up on the connection",
                            waited.as_millis()
                        ),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watchdog<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        let mut expected = 0;
        this.sent.feed(&buf[..written], |kind| {
            // The startup message, each Sync of the extended protocol, each simple Query and
            // each function call is answered by one ReadyForQuery.
            if matches!(kind, STARTUP | b'S' | b'Q' | b'F') {
                expected += 1;
            }
        });
        this.owed += expected;
        if written > 0 {
            this.progress(cx);
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: TlsStream + Unpin> TlsStream for Watchdog<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn startup() -> Vec<u8> {
        let body = b"\x00\x03\x00\x00user\x00postgres\x00\x00";
        let mut out = (body.len() as u32 + 4).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn messages_are_framed_across_any_split() {
        let mut stream = startup();
        stream.extend(message(b'P', b"SELECT 1\x00\x00\x00"));
        stream.extend(message(b'S', b""));
        stream.extend(message(b'Q', b"BEGIN\x00"));
        for chunk in [1, 2, 3, 7, stream.len()] {
            let mut framer = Framer::new(true);
            let mut kinds = Vec::new();
            for piece in stream.chunks(chunk) {
                framer.feed(piece, |k| kinds.push(k));
            }
            assert_eq!(kinds, [STARTUP, b'P', b'S', b'Q'], "chunks of {chunk}");
        }
    }

    fn watchdog(
        patience: Duration,
    ) -> (
        Watchdog<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
        Arc<Health>,
    ) {
        let (client, server) = tokio::io::duplex(1 << 16);
        let health = Arc::new(Health::default());
        let dog = Watchdog::new(client, Patience::new(Some(patience)), health.clone());
        (dog, server, health)
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_owes_an_answer_and_sends_nothing_times_the_connection_out() {
        let (mut dog, _server, health) = watchdog(Duration::from_secs(6));
        dog.write_all(&startup()).await.expect("write");
        let started = tokio::time::Instant::now();
        let mut buf = [0u8; 16];
        let error = dog.read(&mut buf).await.expect_err("timed out");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(error.to_string().contains("6000 ms"), "{error}");
        assert_eq!(started.elapsed(), Duration::from_secs(6));
        assert!(health.cooling().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_wakes_a_connection_that_wrote_and_went_to_sleep_without_reading() {
        let (mut dog, _server, _health) = watchdog(Duration::from_secs(6));
        // Write, then wait for a wake-up without polling the read side, as tokio-postgres's
        // connection does after sending its requests.
        std::future::poll_fn(|cx| {
            let _ = Pin::new(&mut dog).poll_write(cx, &startup());
            Poll::Ready(())
        })
        .await;
        let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = std::task::Waker::from(Arc::new(Flag(woken.clone())));
        let mut cx = Context::from_waker(&waker);
        let _ = Pin::new(&mut dog).poll_write(&mut cx, &message(b'S', b""));
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert!(woken.load(Ordering::Relaxed), "the deadline woke the task");
    }

    struct Flag(Arc<std::sync::atomic::AtomicBool>);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_never_timed_out_and_progress_keeps_it_alive() {
        let (mut dog, mut server, health) = watchdog(Duration::from_secs(6));
        dog.write_all(&startup()).await.expect("write");
        // The server answers slowly but steadily: 5 s between pieces, each within patience.
        let mut answer = message(b'R', &[0, 0, 0, 0]);
        answer.extend(message(b'Z', b"I"));
        let feeder = tokio::spawn(async move {
            for byte in answer {
                tokio::time::sleep(Duration::from_secs(5)).await;
                server.write_all(&[byte]).await.expect("server write");
            }
            server
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 1];
        while got.len() < 15 {
            let n = dog.read(&mut buf).await.expect("progress keeps it alive");
            got.extend_from_slice(&buf[..n]);
        }
        let _server = feeder.await.expect("feeder");
        assert_eq!(dog.owed, 0);
        // Nothing owed: an hour of silence is fine.
        let idle = tokio::time::timeout(Duration::from_secs(3600), dog.read(&mut buf)).await;
        assert!(idle.is_err(), "still waiting, not failed");
        assert!(health.cooling().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn relaxed_patience_waits_as_long_as_the_server_takes() {
        let (client, _server) = tokio::io::duplex(1 << 16);
        let patience = Patience::new(Some(Duration::from_secs(1)));
        let mut dog = Watchdog::new(client, patience.clone(), Arc::new(Health::default()));
        patience.set(None);
        dog.write_all(&startup()).await.expect("write");
        let mut buf = [0u8; 1];
        let waited = tokio::time::timeout(Duration::from_secs(600), dog.read(&mut buf)).await;
        assert!(waited.is_err(), "no deadline while relaxed");
    }
}
