//! GraphiQL from the binary: the page a browser gets at `/graphql`, and the production builds
//! of React, GraphiQL and graphql-ws it loads from `/graphiql/` (pinned and refreshed by
//! `assets/graphiql/vendor.sh`). Nothing comes from a CDN, so GraphiQL works on networks
//! that filter them; the page's Content-Security-Policy lets it load nothing else.

use std::sync::OnceLock;

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::response_cache;

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// The files under `/graphiql/`: name, content, media type.
const ASSETS: &[(&str, &[u8], &str)] = &[
    ("start.js", include_bytes!("../../assets/graphiql/start.js"), "text/javascript; charset=utf-8"),
    ("page.css", include_bytes!("../../assets/graphiql/page.css"), "text/css; charset=utf-8"),
    (
        "graphiql.min.js",
        include_bytes!("../../assets/graphiql/vendor/graphiql.min.js"),
        "text/javascript; charset=utf-8",
    ),
    ("graphiql.min.css", include_bytes!("../../assets/graphiql/vendor/graphiql.min.css"), "text/css; charset=utf-8"),
    (
        "react.production.min.js",
        include_bytes!("../../assets/graphiql/vendor/react.production.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "react-dom.production.min.js",
        include_bytes!("../../assets/graphiql/vendor/react-dom.production.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "graphql-ws.min.js",
        include_bytes!("../../assets/graphiql/vendor/graphql-ws.min.js"),
        "text/javascript; charset=utf-8",
    ),
    ("LICENSES.txt", include_bytes!("../../assets/graphiql/vendor/LICENSES.txt"), "text/plain; charset=utf-8"),
];

/// What the page may load: its own scripts and styles (GraphiQL sets inline styles), data:
/// images and fonts, and connections back to this server over HTTP and WebSocket.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                      img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; \
                      frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The GraphiQL page.
pub fn page() -> Response {
    let mut response = axum::response::Html(PAGE).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn tags() -> &'static [HeaderValue] {
    static TAGS: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    TAGS.get_or_init(|| ASSETS.iter().map(|(_, bytes, _)| response_cache::etag(bytes)).collect())
}

/// `GET /graphiql/{file}`: one of the page's files, revalidated by its entity tag.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let (_, bytes, media) = ASSETS[i];
    let tag = &tags()[i];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|wanted| response_cache::matches(wanted, tag));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { bytes.into_response() };
    let h = response.headers_mut();
    if !fresh {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    }
    h.insert(header::ETAG, tag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_the_server_holds() {
        for src in PAGE.split("src=\"").skip(1).chain(PAGE.split("href=\"").skip(1)) {
            let path = src.split('"').next().unwrap_or_default();
            if path.starts_with("data:") {
                continue;
            }
            let name = path.strip_prefix("/graphiql/").unwrap_or_else(|| panic!("{path} is not served here"));
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name} is not embedded");
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"), "nothing from elsewhere");
    }
}
