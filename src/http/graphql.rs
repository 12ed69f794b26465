//! GraphQL over HTTP: `POST /graphql` (JSON), `GET /graphql?query=...` for queries, and
//! GraphiQL for a browser that opens `/graphql`.

use async_graphql::{
    ErrorExtensions as _, Request, Response, ServerError,
    http::{GraphiQLSource, parse_query_string},
    parser::{parse_query, types::OperationType},
};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response as HttpResponse},
};

use tracing::Instrument as _;

use super::AppState;
use crate::{
    auth::{Principal, authenticate},
    error::AppError,
    graphql::with_request_data,
};

/// The principal the request's bearer token stands for; no token is an anonymous request,
/// and a token that fails any check is refused before the query runs.
pub(super) async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, HttpResponse> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let refuse = |err: AppError| {
        let mut response = error(StatusCode::UNAUTHORIZED, err);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        response
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim())
        .ok_or_else(|| refuse(AppError::Unauthenticated("send the token as `Authorization: Bearer <token>`".into())))?;
    match authenticate(&state.db.conn, &state.tokens, token).await {
        Ok(p) => Ok(Some(p)),
        Err(e @ AppError::Unauthenticated(_)) => Err(refuse(e)),
        Err(e) => Err(error(e.http_status(), e)),
    }
}

/// Runs a request and answers it over HTTP.
async fn execute(state: &AppState, principal: Option<Principal>, request: Request) -> HttpResponse {
    let org = principal.as_ref().map(|p| p.organisation.slug.clone()).unwrap_or_default();
    let query = request.query.clone();
    let operation = request.operation_name.clone();
    let mutation = is_mutation_text(&query, operation.as_deref());
    let request = with_request_data(request, &state.db.conn, principal, state.batch_window);
    let schema = state.schema.clone();
    let run = async move { schema.execute(request).await }.instrument(tracing::info_span!("graphql", org = %org));
    let response = if mutation {
        // A write runs to its own commit or rollback, whatever happens to the caller.
        match crate::db::run_to_end(&state.db.conn, run).await {
            Ok(response) => response,
            Err(e) => return error(e.http_status(), e),
        }
    } else {
        run.await
    };
    respond(response, state.max_response_bytes, mutation)
}

/// The HTTP answer to a GraphQL response. An answer to a query larger than `max_bytes` is
/// refused (the cost limit keeps honest queries far below it); a mutation's answer is never
/// dropped, since its write has happened. A server too busy to take a write answers 503
/// with `Retry-After`.
fn respond(response: Response, max_bytes: usize, is_mutation: bool) -> HttpResponse {
    let busy = response.errors.iter().find_map(retry_after);
    let body = match serde_json::to_vec(&response) {
        Ok(body) => body,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, AppError::Internal(format!("serialising: {e}"))),
    };
    if body.len() > max_bytes && !is_mutation {
        let too_large = AppError::TooLarge(format!(
            "the answer would be {} bytes, over the limit of {max_bytes}: ask for fewer items",
            body.len()
        ));
        return error(StatusCode::OK, too_large);
    }
    let mut http = HttpResponse::new(axum::body::Body::from(body));
    let headers = http.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/graphql-response+json"));
    headers.extend(response.http_headers);
    if let Some(seconds) = busy {
        *http.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        http.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    http
}

/// The `Retry-After` seconds of an error that says the server is too busy, if it is one.
fn retry_after(err: &ServerError) -> Option<u64> {
    let ext = err.extensions.as_ref()?;
    match ext.get("code") {
        Some(async_graphql::Value::String(c)) if c == crate::error::code::SERVICE_UNAVAILABLE => {}
        _ => return None,
    }
    match ext.get("retryAfter") {
        Some(async_graphql::Value::Number(n)) => n.as_u64(),
        _ => Some(1),
    }
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, request: GraphQLRequest) -> HttpResponse {
    match principal(&state, &headers).await {
        Ok(p) => execute(&state, p, request.into_inner()).await,
        Err(refused) => refused,
    }
}

/// A request that fails whole, answered with `status` and the error with its code, as every
/// endpoint answers (the CSV endpoint too). Internal errors are logged by `extend`. A caller
/// asked to come back (busy, or too many at once) is told when with `Retry-After`.
pub(super) fn error(status: StatusCode, err: AppError) -> HttpResponse {
    let gql = err.extend();
    let server_error =
        ServerError { message: gql.message, source: None, locations: vec![], path: vec![], extensions: gql.extensions };
    let mut http = GraphQLResponse::from(Response::from_errors(vec![server_error])).into_response();
    *http.status_mut() = status;
    if matches!(err, AppError::Busy(_) | AppError::RateLimited(_)) {
        http.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::error::RETRY_AFTER_SECONDS));
    }
    http
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> HttpResponse {
    let raw = raw.unwrap_or_default();
    let wants_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    if raw.is_empty() && wants_html {
        return Html(GraphiQLSource::build().endpoint("/graphql").title("London Vision partner API").finish())
            .into_response();
    }
    let request = match parse_query_string(&raw) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                AppError::BadUserInput(format!("a GET request needs a `query` parameter: {e}")),
            );
        }
    };
    // GET is for reading: a mutation sent by GET could be replayed by a link or a cache.
    if is_mutation(&request) {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            AppError::BadUserInput("mutations must be sent with POST".into()),
        );
    }
    match principal(&state, &headers).await {
        Ok(p) => execute(&state, p, request).await,
        Err(refused) => refused,
    }
}

/// Whether the operation the request would run is a mutation.
fn is_mutation(request: &Request) -> bool {
    is_mutation_text(&request.query, request.operation_name.as_deref())
}

/// Whether the operation `operation_name` of `query` (or its only one) is a mutation.
fn is_mutation_text(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(doc) = parse_query(query) else { return false };
    doc.operations.iter().any(|(name, op)| {
        let selected = match (operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        };
        selected && op.node.ty == OperationType::Mutation
    })
}
