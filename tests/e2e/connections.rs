//! Connections below HTTP/2: many connections that send half the HTTP/2 preface are closed
//! after the opening time while the gateway goes on serving; a connection that opened but has
//! no call in progress is closed after the idle time; one address holds at most its cap of
//! connections, trusted front ends excepted.

use std::time::Duration;

use crate::support::{Harness, Stores, start};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];

async fn connect(h: &Harness, first_bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(h.addr(portal_common::component::names::GATEWAY))
        .await
        .unwrap();
    stream.write_all(first_bytes).await.unwrap();
    stream
}

/// Whether the server closes `stream` within `within`: reads (and drops whatever the server
/// sends, such as its SETTINGS) until the end of the stream or an error.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

async fn serving(h: &Harness) {
    HealthClient::new(h.gateway.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("the gateway still serves");
}

#[tokio::test]
async fn half_open_connections_are_closed_after_the_opening_time() {
    let h = start(Stores::Embedded, |config| {
        config.shared.limits.connection_opening_seconds = 1;
        config.gateway.connections_per_source = 1000;
    })
    .await
    .unwrap();
    let mut half_open = Vec::new();
    for _ in 0..50 {
        half_open.push(connect(&h, &PREFACE[..12]).await);
    }
    // A complete opening is not closed for being slow: it waits for the idle time.
    let mut opened = connect(&h, PREFACE).await;
    opened.write_all(&EMPTY_SETTINGS).await.unwrap();
    serving(&h).await;
    for stream in &mut half_open {
        assert!(
            closed_within(stream, Duration::from_secs(5)).await,
            "a half-open connection is closed"
        );
    }
    assert!(
        !closed_within(&mut opened, Duration::from_millis(500)).await,
        "an opened connection is not closed for its opening"
    );
    serving(&h).await;
    drop(opened);
    h.shutdown().await;
}

#[tokio::test]
async fn a_connection_with_no_call_in_progress_is_closed_after_the_idle_time() {
    let h = start(Stores::Embedded, |config| {
        config.gateway.idle_connection_seconds = 1;
    })
    .await
    .unwrap();
    let mut idle = connect(&h, PREFACE).await;
    idle.write_all(&EMPTY_SETTINGS).await.unwrap();
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await,
        "an idle connection is closed"
    );
    // The client's own channel reconnects and is served.
    serving(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn one_address_holds_at_most_its_cap_of_connections_and_front_ends_none() {
    let h = start(Stores::Embedded, |config| {
        config.gateway.connections_per_source = 5;
    })
    .await
    .unwrap();
    // The start-up's readiness check closes its own connection first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut stream = connect(&h, PREFACE).await;
        stream.write_all(&EMPTY_SETTINGS).await.unwrap();
        held.push(stream);
    }
    let mut over = connect(&h, PREFACE).await;
    assert!(
        closed_within(&mut over, Duration::from_secs(2)).await,
        "the sixth connection from one address is closed"
    );
    for stream in &mut held {
        assert!(!closed_within(stream, Duration::from_millis(100)).await);
    }
    // A connection closed gives its place back.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect(&h, PREFACE).await;
    again.write_all(&EMPTY_SETTINGS).await.unwrap();
    assert!(!closed_within(&mut again, Duration::from_millis(300)).await);
    drop((held, again));
    h.shutdown().await;

    // Behind a trusted front end every caller comes from its address: no cap there.
    let h = start(Stores::Embedded, |config| {
        config.gateway.connections_per_source = 2;
        config.gateway.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    .unwrap();
    let mut front_end = Vec::new();
    for _ in 0..6 {
        let mut stream = connect(&h, PREFACE).await;
        stream.write_all(&EMPTY_SETTINGS).await.unwrap();
        front_end.push(stream);
    }
    for stream in &mut front_end {
        assert!(!closed_within(stream, Duration::from_millis(100)).await);
    }
    drop(front_end);
    h.shutdown().await;
}
