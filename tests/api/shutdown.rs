//! Stopping gracefully on SIGTERM: a request in flight is answered, subscription connections
//! close as going away, and the process exits cleanly.

use std::{
    io::{Read as _, Write as _},
    time::Duration,
};

use async_graphql::futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue, protocol::frame::coding::CloseCode},
};

use crate::helpers::fresh_database;

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_and_closes_subscriptions_cleanly() {
    let (database_url, dir) = fresh_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_london-vision"))
        .arg("serve")
        .env("DATABASE_URL", &database_url)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", &dir)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("the server starts");
    let address = format!("127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if client.get(format!("http://{address}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server came up");

    // A subscriber.
    let mut request = format!("ws://{address}/graphql/ws").into_client_request().expect("a request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = connect_async(request).await.expect("the upgrade");
    socket.send(Message::text(json!({"type": "connection_init"}).to_string())).await.expect("sent");
    let ack = socket.next().await.expect("a message").expect("readable");
    assert!(ack.to_text().expect("text").contains("connection_ack"));
    let subscribe =
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { observationsChanged { value } }"}});
    socket.send(Message::text(subscribe.to_string())).await.expect("sent");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A request in flight: its headers and half its body sent before the signal.
    let body = json!({"query": "{ priority(slug: \"air-quality\") { number } }"}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut tcp = std::net::TcpStream::connect(&address).expect("connect");
    write!(
        tcp,
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .expect("sent");
    tcp.flush().expect("flushed");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let killed = std::process::Command::new("kill").arg("-TERM").arg(server.id().to_string()).status().expect("kill");
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The rest of the body after the signal: the request is still answered.
    tcp.write_all(rest.as_bytes()).expect("sent");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&answer).contains("\"number\":4") {
                    break;
                }
            }
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"number\":4"), "{answer}");

    // The connection closes as going away.
    let mut closed = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
        match msg {
            Ok(Message::Close(frame)) => {
                closed = frame.map(|f| f.code);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(closed, Some(CloseCode::Away), "closed as going away");

    // The process ends on its own, cleanly.
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = server.try_wait().expect("waitable") {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| {
        server.kill().ok();
        panic!("the server did not stop");
    });
    assert!(status.success(), "{status}");
    assert!(std::net::TcpStream::connect(&address).is_err(), "no new connections");
}
