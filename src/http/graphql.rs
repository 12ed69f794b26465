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
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

async fn execute(state: &AppState, principal: Option<Principal>, request: Request) -> Response {
    let org = principal.as_ref().map(|p| p.organisation.slug.clone()).unwrap_or_default();
    let request = with_request_data(request, &state.db.conn, principal, state.batch_window);
    state.schema.execute(request).instrument(tracing::info_span!("graphql", org = %org)).await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, request: GraphQLRequest) -> HttpResponse {
    match principal(&state, &headers).await {
        Ok(p) => GraphQLResponse::from(execute(&state, p, request.into_inner()).await).into_response(),
        Err(refused) => refused,
    }
}

fn error(status: StatusCode, err: AppError) -> HttpResponse {
    let gql = err.extend();
    let server_error =
        ServerError { message: gql.message, source: None, locations: vec![], path: vec![], extensions: gql.extensions };
    (status, GraphQLResponse::from(Response::from_errors(vec![server_error]))).into_response()
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
        Ok(p) => GraphQLResponse::from(execute(&state, p, request).await).into_response(),
        Err(refused) => refused,
    }
}

/// Whether the operation the request would run is a mutation.
fn is_mutation(request: &Request) -> bool {
    let Ok(doc) = parse_query(&request.query) else { return false };
    doc.operations.iter().any(|(name, op)| {
        let selected = match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        };
        selected && op.node.ty == OperationType::Mutation
    })
}
