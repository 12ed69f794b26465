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
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response as HttpResponse},
};

use super::AppState;
use crate::{catalogue::Visibility, error::AppError, graphql::with_request_data};

async fn execute(state: &AppState, request: Request) -> Response {
    let request = with_request_data(request, &state.db.conn, Visibility::default(), state.batch_window);
    state.schema.execute(request).await
}

pub async fn post(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    execute(&state, request.into_inner()).await.into()
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
    GraphQLResponse::from(execute(&state, request).await).into_response()
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
