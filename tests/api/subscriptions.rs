//! Live updates on `/graphql/ws` (graphql-transport-ws): each subscriber hears only what it
//! may read, and across server processes on one PostgreSQL database.

use std::time::Duration;

use london_vision::values::Role;
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::{
    helpers::{TestApp, spawn_app},
    picture::ratio,
    returns::{SUBMIT, input},
};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection to `address` (http://host:port), initialised with the
/// token, if any; `Err` with the close reason when the server refuses it.
pub(crate) async fn connect(address: &str, token: Option<&str>) -> Result<Socket, String> {
    use async_graphql::futures_util::{SinkExt as _, StreamExt as _};
    let url = format!("{}/graphql/ws", address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("a request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = connect_async(request).await.expect("the upgrade");
    let payload = token.map_or(json!({}), |t| json!({ "Authorization": format!("Bearer {t}") }));
    socket
        .send(Message::text(json!({ "type": "connection_init", "payload": payload }).to_string()))
        .await
        .expect("sent");
    match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => {
            let msg: Value = serde_json::from_str(&text).expect("json");
            if msg["type"] == "connection_ack" { Ok(socket) } else { Err(text.to_string()) }
        }
        Ok(Some(Ok(Message::Close(frame)))) => Err(frame.map(|f| f.reason.to_string()).unwrap_or_default()),
        other => Err(format!("{other:?}")),
    }
}

pub(crate) async fn subscribe(socket: &mut Socket, id: &str, query: &str) {
    use async_graphql::futures_util::SinkExt as _;
    let msg = json!({ "id": id, "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::text(msg.to_string())).await.expect("sent");
    // The server starts the subscription as it reads the message; give it that moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The next `next` or `error` message, or `None` when nothing arrives within `wait`.
pub(crate) async fn next(socket: &mut Socket, wait: Duration) -> Option<Value> {
    use async_graphql::futures_util::StreamExt as _;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let msg: Value = serde_json::from_str(&text).expect("json");
                match msg["type"].as_str() {
                    Some("next" | "error" | "complete") => return Some(msg),
                    _ => continue,
                }
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

const APPROVE: &str = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } } }";

/// A Camden value submitted by Camden; returns the return's id.
async fn submitted_by_camden(app: &TestApp, value: f64) -> Value {
    let submitter = app.token_for("camden", "analyst@camden", &[Role::Submitter]);
    let values = vec![ratio("hiv-testing-coverage", "E09000007", "2023", value, 600.0, 100.0)];
    let payload = app.data_as(&submitter, SUBMIT, input("camden", values)).await["submitReturn"].clone();
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    payload["return"]["id"].clone()
}

async fn approve(app: &TestApp, id: &Value) {
    let approver = app.token_for("camden", "reviewer@camden", &[Role::Approver]);
    let done = app.data_as(&approver, APPROVE, json!({ "id": id })).await;
    assert_eq!(done["approveReturn"]["return"]["status"], "APPROVED", "{done}");
}

#[tokio::test]
async fn an_anonymous_subscriber_hears_of_approved_values_only() {
    let app = spawn_app().await;
    let mut socket = connect(&app.address, None).await.expect("accepted");
    subscribe(
        &mut socket,
        "1",
        r#"subscription { observationsChanged(measure: "hiv-testing-coverage") { value period geography { code } } }"#,
    )
    .await;
    let id = submitted_by_camden(&app, 450.0).await;
    assert_eq!(next(&mut socket, Duration::from_millis(700)).await, None, "a value in review is not public");
    approve(&app, &id).await;
    let msg = next(&mut socket, Duration::from_secs(3)).await.expect("the approval is heard");
    assert_eq!(msg["id"], "1");
    let values = &msg["payload"]["data"]["observationsChanged"];
    assert_eq!(values, &json!([{ "value": 75.0, "period": "2023", "geography": { "code": "E09000007" } }]), "{msg}");
}

#[tokio::test]
async fn return_statuses_reach_only_those_who_may_read_the_return() {
    let app = spawn_app().await;
    let query = r#"subscription { returnStatusChanged { status organisation { slug } } }"#;
    let camden = app.token_for("camden", "reviewer@camden", &[Role::Approver]);
    let hackney = app.token_for("hackney", "reviewer@hackney", &[Role::Approver]);
    let mut own = connect(&app.address, Some(&camden)).await.expect("accepted");
    let mut other = connect(&app.address, Some(&hackney)).await.expect("accepted");
    subscribe(&mut own, "a", query).await;
    subscribe(&mut other, "b", query).await;
    let id = submitted_by_camden(&app, 420.0).await;
    let heard = next(&mut own, Duration::from_secs(3)).await.expect("Camden hears its submission");
    assert_eq!(
        heard["payload"]["data"]["returnStatusChanged"],
        json!({ "status": "SUBMITTED", "organisation": { "slug": "camden" } })
    );
    approve(&app, &id).await;
    let heard = next(&mut own, Duration::from_secs(3)).await.expect("and its approval");
    assert_eq!(heard["payload"]["data"]["returnStatusChanged"]["status"], "APPROVED");
    assert_eq!(next(&mut other, Duration::from_millis(500)).await, None, "Hackney hears nothing of Camden's return");

    // Without a token the subscription is refused with its code.
    let mut anonymous = connect(&app.address, None).await.expect("accepted");
    subscribe(&mut anonymous, "c", query).await;
    let refused = next(&mut anonymous, Duration::from_secs(3)).await.expect("an answer");
    assert_eq!(refused["payload"]["data"], Value::Null, "{refused}");
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");
}

#[tokio::test]
async fn a_picture_subscriber_gets_the_new_picture_after_an_approval() {
    let app = spawn_app().await;
    let mut socket = connect(&app.address, None).await.expect("accepted");
    subscribe(
        &mut socket,
        "p",
        r#"subscription { pictureChanged(measure: "hiv-testing-coverage") { period boroughs { geography { code } value } } }"#,
    )
    .await;
    let id = submitted_by_camden(&app, 480.0).await;
    approve(&app, &id).await;
    let msg = next(&mut socket, Duration::from_secs(3)).await.expect("the new picture");
    let picture = &msg["payload"]["data"]["pictureChanged"];
    assert_eq!(picture["period"], "2023");
    let camden =
        picture["boroughs"].as_array().expect("boroughs").iter().find(|b| b["geography"]["code"] == "E09000007");
    assert_eq!(camden.expect("Camden")["value"], 80.0);
}

#[tokio::test]
async fn a_bad_token_closes_the_connection_and_unknown_names_are_not_found() {
    let app = spawn_app().await;
    assert!(connect(&app.address, Some("not-a-token")).await.is_err(), "refused before any subscription");
    let mut socket = connect(&app.address, None).await.expect("accepted");
    subscribe(&mut socket, "x", r#"subscription { pictureChanged(measure: "no-such-measure") { period } }"#).await;
    let refused = next(&mut socket, Duration::from_secs(3)).await.expect("an answer");
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND", "{refused}");
}

/// Two server processes on one PostgreSQL database: a subscriber of one hears of a return
/// approved through the other within a second.
#[tokio::test]
async fn a_subscriber_of_one_process_hears_an_approval_made_through_another() {
    let app = spawn_app().await;
    if !app.database_url.starts_with("postgres") {
        // One SQLite file has one server process: nothing crosses processes there.
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port();
    let _other = Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_london-vision"))
            .arg("serve")
            .env("DATABASE_URL", &app.database_url)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("DATA_DIR", &app.config.data_dir)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("the second server starts"),
    );
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{address}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut socket = connect(&address, None).await.expect("accepted by the second server");
    subscribe(&mut socket, "1", r#"subscription { observationsChanged(measure: "hiv-testing-coverage") { value } }"#)
        .await;
    let id = submitted_by_camden(&app, 300.0).await;
    let approved = std::time::Instant::now();
    approve(&app, &id).await;
    let msg = next(&mut socket, Duration::from_secs(1)).await.expect("heard within a second");
    assert!(approved.elapsed() < Duration::from_secs(1));
    assert_eq!(msg["payload"]["data"]["observationsChanged"], json!([{ "value": 50.0 }]));
}

/// A server process, stopped when the test ends however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}
