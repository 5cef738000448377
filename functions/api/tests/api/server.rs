//! The local server below the router, over raw sockets: slow clients are cut off, connection
//! limits hold, and the statuses hyper produces itself (400, 414, 431) and the header timeout
//! (408) carry the JSON envelope like every other error.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

async fn serve(app: &TestApp, limits: api::ServerLimits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("address");
    tokio::spawn(api::serve(
        listener,
        app.router.clone(),
        limits,
        std::future::pending(),
    ));
    address
}

/// What came back on a socket: status, headers (lower-cased) and body; `None` if the server
/// closed the connection without a word.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn code(&self) -> String {
        let json: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.head, self.body));
        assert_eq!(json.as_object().map(|o| o.len()), Some(1), "{json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{json}"
        );
        json["error"]["code"].as_str().expect("a code").to_owned()
    }
}

async fn read_answer(stream: &mut TcpStream, within: Duration) -> Option<Answer> {
    let mut raw = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut raw))
        .await
        .expect("the server answered or closed in time")
        .expect("read");
    if raw.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head[9..12].parse().expect("a status");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    Some(Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    })
}

async fn exchange(address: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(request).await.expect("send");
    read_answer(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer")
}

#[tokio::test]
async fn what_hyper_refuses_on_its_own_still_gets_the_envelope() {
    let app = TestApp::spawn().await;
    let address = serve(&app, api::ServerLimits::default()).await;

    let malformed = exchange(address, b"GET /health HTTP/1.1\r\nHost localhost\r\n\r\n").await;
    assert_eq!(
        (malformed.status, malformed.code().as_str()),
        (400, "malformed_request")
    );
    let garbage = exchange(
        address,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    )
    .await;
    assert_eq!(
        (garbage.status, garbage.code().as_str()),
        (400, "malformed_request")
    );

    let cursor = "A".repeat(100 * 1024);
    let long = exchange(
        address,
        format!("GET /v1/prices/BTC/history?cursor={cursor} HTTP/1.1\r\nHost: x\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_eq!((long.status, long.code().as_str()), (414, "uri_too_long"));
    assert!(long.head.contains("connection: close"), "{}", long.head);

    let huge = exchange(
        address,
        format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "b".repeat(200 * 1024)
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(
        (huge.status, huge.code().as_str()),
        (431, "headers_too_large")
    );

    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let crowded = exchange(
        address,
        format!("GET /health HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(
        (crowded.status, crowded.code().as_str()),
        (431, "headers_too_large")
    );
}

#[tokio::test]
async fn limits_on_the_url_and_headers_hold_inside_the_router_too() {
    let app = TestApp::spawn().await;
    let address = serve(&app, api::ServerLimits::default()).await;
    let cursor = "A".repeat(api::limits::MAX_URI_BYTES);
    let long = exchange(
        address,
        format!("GET /v1/prices/BTC/history?cursor={cursor} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_eq!((long.status, long.code().as_str()), (414, "uri_too_long"));
    assert!(long.head.contains("x-request-id"), "{}", long.head);
    let big = exchange(
        address,
        format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
            "b".repeat(api::limits::MAX_HEADER_BYTES)
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(
        (big.status, big.code().as_str()),
        (431, "headers_too_large")
    );
}

#[tokio::test]
async fn clients_that_never_finish_their_headers_are_cut_off_while_others_are_served() {
    let app = TestApp::spawn().await;
    let limits = api::ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        ..api::ServerLimits::default()
    };
    let address = serve(&app, limits).await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("a partial head");
        slow.push(stream);
    }
    let mut idle = TcpStream::connect(address).await.expect("connect");

    // The server still answers others at once.
    let reply = tickwatch::net::http_client_builder()
        .build()
        .expect("client")
        .get(format!("http://{address}/openapi.json"))
        .send()
        .await
        .expect("served");
    assert_eq!(reply.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));

    for stream in &mut slow {
        let answer = read_answer(stream, Duration::from_secs(5))
            .await
            .expect("a partial request is answered");
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (408, "request_timeout")
        );
    }
    assert!(
        read_answer(&mut idle, Duration::from_secs(5))
            .await
            .is_none(),
        "an idle connection is closed without a word"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_limits_are_refused_with_the_envelope() {
    let app = TestApp::spawn().await;
    let per_client = serve(
        &app,
        api::ServerLimits {
            max_connections_per_client: 3,
            ..api::ServerLimits::default()
        },
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(per_client).await.expect("connect"));
    }
    let refused = exchange(per_client, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (429, "too_many_connections")
    );
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = tickwatch::net::http_client_builder()
        .build()
        .expect("client")
        .get(format!("http://{per_client}/openapi.json"))
        .send()
        .await
        .expect("a place came free");
    assert_eq!(reply.status().as_u16(), 200);

    let total = serve(
        &app,
        api::ServerLimits {
            max_connections: 2,
            ..api::ServerLimits::default()
        },
    )
    .await;
    let _a = TcpStream::connect(total).await.expect("connect");
    let _b = TcpStream::connect(total).await.expect("connect");
    let refused = exchange(total, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (503, "too_many_connections")
    );
}
