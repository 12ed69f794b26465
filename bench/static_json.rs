//! The floor of the side-by-side benchmark (`bench/compare/run.py`): an HTTP server that
//! answers every request with the same JSON bytes, read once from a file, on the same stack
//! (tokio, hyper through axum) as the product. What the product does beyond this is the cost
//! of GraphQL and the database.
//!
//! Run: `cargo build --release --bench static_json`, then the executable it names, with
//! `PORT FILE` (the comparison does this itself).

use std::sync::Arc;

use axum::{Router, http::header, response::IntoResponse, routing::any};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let port: u16 = args.next().ok_or_else(|| anyhow::anyhow!("usage: static_json PORT FILE"))?.parse()?;
    let file = args.next().ok_or_else(|| anyhow::anyhow!("usage: static_json PORT FILE"))?;
    let body: Arc<[u8]> = std::fs::read(&file)?.into();
    let app = Router::new().route(
        "/graphql",
        any(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body.to_vec()).into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
