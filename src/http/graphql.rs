//! GraphQL over HTTP, as the GraphQL-over-HTTP specification has it: `POST /graphql` with a
//! JSON body, `GET /graphql?query=...` for queries, and GraphiQL for a browser that opens
//! `/graphql`.
//!
//! - **Media types**: the answer is `application/graphql-response+json` when the caller
//!   accepts it, `application/json` otherwise (and when `Accept` is missing); a caller that
//!   accepts neither gets 406. A `POST` must say its body is `application/json` (415 if not).
//! - **Status codes**: a request that cannot run at all (malformed JSON or parameters: 400; a
//!   query that does not parse or validate) has no `data`; with
//!   `application/graphql-response+json` it is a 400, with `application/json` a 200, as the
//!   specification asks of each. A query that ran is a 200, with any field errors beside the
//!   `data` they left `null`.
//! - **Persisted queries**: Apollo's automatic persisted queries (`persisted`).
//! - **Caching**: answers to anonymous queries are kept while the published data is unchanged
//!   (`response_cache`); an anonymous `GET` is answered with `Cache-Control: public`, a
//!   strong `ETag` and `304 Not Modified` to a matching `If-None-Match`. Anything a token
//!   can see is `private, no-store`.

use async_graphql::{
    ErrorExtensions as _, Request, Response, ServerError, Value, Variables,
    parser::{parse_query, types::OperationType},
};
use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::Response as HttpResponse,
};
use serde::Serialize;
use tracing::Instrument as _;

use std::{net::SocketAddr, sync::Arc};

use axum::{extract::ConnectInfo, http::Extensions};

use super::{
    AppState,
    persisted::Outcome,
    rate_limit::{self, Caller, RateSlot},
    response_cache::{self, Miss, ResponseCache},
};

/// How long a request waits for another that is building the same answer before building
/// it itself.
const BUILD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);
use crate::{auth::Principal, error::AppError, graphql::with_request_data};

/// The media type of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    Json,
    GraphqlResponse,
}

impl Media {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        })
    }
}

/// The answer's media type for an `Accept` header: the acceptable one with the highest
/// quality, `application/graphql-response+json` on a tie; `application/json` when the header
/// is missing or names any type (`*/*`, `application/*`); `None` when nothing offered fits.
pub(super) fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT) else { return Some(Media::Json) };
    let Ok(accept) = accept.to_str() else { return Some(Media::Json) };
    if accept.trim().is_empty() {
        return Some(Media::Json);
    }
    let mut best: Option<(f32, u8, Media)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut quality = 1.0_f32;
        let mut utf8 = true;
        for p in parts {
            let Some((name, value)) = p.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => quality = value.parse().unwrap_or(0.0),
                "charset" => utf8 = value.eq_ignore_ascii_case("utf-8"),
                _ => {}
            }
        }
        if quality <= 0.0 || !utf8 {
            continue;
        }
        // The second number ranks exact types over wildcards, and ours over JSON.
        let candidate = match range.as_str() {
            "application/graphql-response+json" => (quality, 3, Media::GraphqlResponse),
            "application/json" => (quality, 2, Media::Json),
            "application/*" | "*/*" => (quality, 1, Media::Json),
            _ => continue,
        };
        if best.is_none_or(|b| (candidate.0, candidate.1) > (b.0, b.1)) {
            best = Some(candidate);
        }
    }
    best.map(|b| b.2)
}

/// A GraphQL-over-HTTP request's parameters.
#[derive(Debug, Default)]
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    /// An object, or null.
    variables: serde_json::Value,
    extensions: serde_json::Map<String, serde_json::Value>,
}

/// The parameters of a JSON body; the message says what is malformed.
fn params_from_json(value: serde_json::Value) -> Result<Params, String> {
    let serde_json::Value::Object(mut body) = value else {
        return Err("the body must be a JSON object with a `query` (batches are not accepted)".into());
    };
    let text = |name: &str, value: Option<serde_json::Value>| match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` must be a string")),
    };
    let query = text("query", body.remove("query"))?;
    let operation_name = text("operationName", body.remove("operationName"))?;
    let variables = match body.remove("variables") {
        None | Some(serde_json::Value::Null) => serde_json::Value::Null,
        Some(v @ serde_json::Value::Object(_)) => v,
        Some(_) => return Err("`variables` must be an object".into()),
    };
    let extensions = match body.remove("extensions") {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => return Err("`extensions` must be an object".into()),
    };
    Ok(Params { query, operation_name, variables, extensions })
}

/// The parameters of a `GET` query string: `variables` and `extensions` are JSON texts.
fn params_from_uri(uri: &Uri) -> Result<Params, String> {
    let pairs: Vec<(String, String)> = axum::extract::Query::try_from_uri(uri)
        .map(|q: axum::extract::Query<Vec<(String, String)>>| q.0)
        .map_err(|e| format!("the query string is malformed: {e}"))?;
    let mut body = serde_json::Map::new();
    for (name, value) in pairs {
        let value = match name.as_str() {
            "query" | "operationName" => serde_json::Value::String(value),
            "variables" | "extensions" if value.is_empty() => serde_json::Value::Null,
            "variables" | "extensions" => {
                serde_json::from_str(&value).map_err(|e| format!("`{name}` must be a JSON object: {e}"))?
            }
            _ => continue,
        };
        if body.insert(name.clone(), value).is_some() {
            return Err(format!("`{name}` is given more than once"));
        }
    }
    params_from_json(serde_json::Value::Object(body))
}

/// Whether a `POST` body is declared as JSON (in UTF-8, if a charset is named).
fn is_json_body(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        && parts.all(|p| match p.split_once('=') {
            Some((name, v)) if name.trim().eq_ignore_ascii_case("charset") => {
                v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

/// The principal the request's bearer token stands for; no token is an anonymous request,
/// and a token that fails any check is refused before the query runs.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Principal, crate::db::Versions)>, HttpResponse> {
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
    // One statement: the database's versions, against which the kept directory is checked
    // (and on which kept answers are keyed).
    let authenticated = match crate::db::versions(&state.db.conn).await {
        Ok(v) => state.directory.authenticate(&state.db.conn, v.directory, &state.tokens, token).await.map(|p| (p, v)),
        Err(e) => Err(AppError::from(e)),
    };
    match authenticated {
        Ok(p) => Ok(Some(p)),
        Err(e @ AppError::Unauthenticated(_)) => Err(refuse(e)),
        Err(e) => Err(error(e.http_status(), e)),
    }
}

/// The principal of a request's bearer token, if it sends one (see [`signed_in`]).
pub(super) async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, HttpResponse> {
    Ok(signed_in(state, headers).await?.map(|(p, _)| p))
}

pub async fn post(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResponse {
    let Some(media) = negotiate(&headers) else { return not_acceptable() };
    if !is_json_body(&headers) {
        return error_as(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::BadUserInput("send the request as `Content-Type: application/json`".into()),
        );
    }
    let params = serde_json::from_slice(&body)
        .map_err(|e| format!("the body is not valid JSON: {e}"))
        .and_then(params_from_json);
    match params {
        Ok(params) => serve(&state, &headers, client_address(&extensions), media, false, params).await,
        Err(message) => error_as(media, StatusCode::BAD_REQUEST, AppError::BadUserInput(message)),
    }
}

pub async fn get(State(state): State<AppState>, extensions: Extensions, headers: HeaderMap, uri: Uri) -> HttpResponse {
    // A browser opening the address (it asks for HTML first) gets GraphiQL, with the query
    // in the address, if any, in its editor; programs get the answer.
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.trim_start().to_ascii_lowercase().starts_with("text/html"));
    if browser {
        return super::graphiql::page();
    }
    let Some(media) = negotiate(&headers) else { return not_acceptable() };
    match params_from_uri(&uri) {
        Ok(params) => serve(&state, &headers, client_address(&extensions), media, true, params).await,
        Err(message) => error_as(media, StatusCode::BAD_REQUEST, AppError::BadUserInput(message)),
    }
}

/// The address of the client, as the connection shows it.
fn client_address(extensions: &Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(addr)| addr.ip().to_string())
}

/// Resolves the query, runs it (or serves it from the cache) and answers.
async fn serve(
    state: &AppState,
    headers: &HeaderMap,
    address: String,
    media: Media,
    by_get: bool,
    params: Params,
) -> HttpResponse {
    let started = std::time::Instant::now();
    let (principal, versions) = match signed_in(state, headers).await {
        Ok(Some((p, v))) => (Some(p), Some(v)),
        Ok(None) => (None, None),
        Err(refused) => return refused,
    };
    let caller = match &principal {
        Some(p) => Caller::Principal(format!("{}/{}", p.organisation.slug, p.subject)),
        None => Caller::Anonymous(address),
    };
    let slot = Arc::new(RateSlot::new(state.limits.clone(), caller));
    let query = match state.persisted.resolve(params.query, params.extensions.get("persistedQuery")) {
        Some(Outcome::Run(query)) => query,
        Some(Outcome::NotFound) => return persisted_query_not_found(media),
        Some(Outcome::Invalid(message)) => {
            return error_as(media, StatusCode::BAD_REQUEST, AppError::BadUserInput(message));
        }
        None => {
            return error_as(
                media,
                StatusCode::BAD_REQUEST,
                AppError::BadUserInput("the request has no `query`".into()),
            );
        }
    };
    let operation = params.operation_name;
    let OperationFacts { mutation, named, shared } = operation_of(&query, operation.as_deref());
    let span = tracing::Span::current();
    span.record("operation", named.as_deref().unwrap_or(if mutation { "mutation" } else { "query" }));
    if let Some(p) = &principal {
        span.record("org", p.organisation.slug.as_str());
    }
    // GET is for reading: a mutation sent by GET could be replayed by a link or a cache.
    if by_get && mutation {
        let mut refused = error_as(
            media,
            StatusCode::METHOD_NOT_ALLOWED,
            AppError::BadUserInput("mutations must be sent with POST".into()),
        );
        refused.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return refused;
    }
    let anonymous = principal.is_none();
    // Who may share a kept answer: every anonymous caller; a signed-in caller's organisation
    // with the same roles (so the same scope and visibility), at the same directory version,
    // for queries whose answers depend on nothing else.
    let audience = match (&principal, versions) {
        (None, _) => Some(String::new()),
        (Some(p), Some(v)) if shared => {
            let mut roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
            roles.sort_unstable();
            Some(format!("{}|{}|{}", p.organisation.id, roles.join(","), v.directory))
        }
        _ => None,
    };
    let keep = match &audience {
        Some(_) if mutation => Keep::Never,
        Some(_) if anonymous => Keep::Public,
        Some(_) => Keep::Private,
        None => Keep::Never,
    };
    let mut kept = None;
    // The directory version read with the data generation, for the areas the answer shows.
    let mut kept_directory = None;
    if let Some(audience) = audience.filter(|_| !mutation && state.responses.enabled()) {
        // A signed-in caller's request has read the versions already.
        let read = match versions {
            Some(v) => Ok(v),
            None => crate::db::versions(&state.db.conn).await,
        };
        match read {
            Ok(read) => {
                kept_directory = Some(read.directory);
                let generation = read.data;
                let key = ResponseCache::key(generation, &audience, &query, operation.as_deref(), &params.variables);
                let mut builder = None;
                // At most twice: look, and if another request is building this answer, wait
                // for it and look again; otherwise build it here.
                for attempt in 0..2 {
                    if let Some(hit) = state.responses.get(generation, &key) {
                        // A kept answer costs what the query cost when it ran.
                        if !slot.spend(hit.cost) {
                            state.metrics.rate_limited();
                            return rate_limited(media, &slot, hit.cost);
                        }
                        state.metrics.graphql(named.as_deref(), false, started.elapsed(), Some(hit.cost), &[]);
                        let mut http =
                            finish(state, headers, media, by_get, StatusCode::OK, hit.body, Some(hit.etag), keep);
                        standing_headers(&slot, &mut http);
                        return http;
                    }
                    if attempt == 1 {
                        break;
                    }
                    match state.responses.build_or_wait(key, BUILD_PATIENCE).await {
                        Miss::Build(b) => {
                            builder = Some(b);
                            break;
                        }
                        Miss::Retry => {}
                    }
                }
                kept = Some((generation, key, builder));
            }
            // The database cannot be reached: say so now rather than wait for it again.
            Err(e) if crate::db::fault(&e) == crate::db::Fault::Unavailable => {
                let e = AppError::from(e);
                return error_as(media, e.http_status(), e);
            }
            Err(e) => tracing::warn!(error = %e, "reading the data generation: answering without the cache"),
        }
    }
    let mut request = Request::new(query)
        .variables(Variables::from_json(params.variables))
        .data(slot.clone())
        .data(state.events.clone())
        .data(state.due)
        .data(state.webhooks)
        .data(state.receipts.clone())
        .data(state.tokens.clone());
    if let Some(operation) = operation {
        request = request.operation_name(operation);
    }
    let org = principal.as_ref().map(|p| p.organisation.slug.clone()).unwrap_or_default();
    let areas = crate::graphql::Areas {
        directory: state.directory.clone(),
        version: versions.map(|v| v.directory).or(kept_directory),
    };
    let request = with_request_data(request, &state.db.conn, principal, state.batch_window, areas);
    let schema = state.schema.clone();
    let run = async move { schema.execute(request).await }.instrument(tracing::info_span!("graphql", org = %org));
    let response = if mutation {
        // A write runs to its own commit or rollback, whatever happens to the caller.
        match crate::db::run_to_end(&state.db.conn, run).await {
            Ok(response) => response,
            Err(e) => return error_as(media, e.http_status(), e),
        }
    } else {
        run.await
    };
    if let Some(Err(_)) = slot.outcome() {
        state.metrics.rate_limited();
        return rate_limited(media, &slot, reported_cost(&response));
    }
    let cost = reported_cost(&response);
    let codes: Vec<String> = response
        .errors
        .iter()
        .filter_map(|e| match e.extensions.as_ref().and_then(|x| x.get("code")) {
            Some(Value::String(c)) => Some(c.clone()),
            _ => None,
        })
        .collect();
    state.metrics.graphql(named.as_deref(), mutation, started.elapsed(), Some(cost), &codes);
    let answer = match answer(response, media, state.max_response_bytes, mutation) {
        Ok(answer) => answer,
        Err(refused) => {
            let mut refused = *refused;
            standing_headers(&slot, &mut refused);
            return refused;
        }
    };
    let (status, body, ok) = answer;
    let mut etag = None;
    if let Some((generation, key, builder)) = kept {
        if ok {
            etag = state.responses.put(generation, key, body.clone(), cost).map(|c| c.etag);
        }
        // Those waiting for this answer look again now.
        drop(builder);
    }
    let keep = if ok { keep } else { Keep::Never };
    let etag = etag.or_else(|| (keep == Keep::Private).then(|| response_cache::etag(&body)));
    let mut http = finish(state, headers, media, by_get, status, body, etag, keep);
    standing_headers(&slot, &mut http);
    http
}

/// The cost an answer reports in `extensions.cost`.
fn reported_cost(response: &Response) -> u64 {
    let Some(Value::Object(cost)) = response.extensions.get("cost") else { return 1 };
    match cost.get("requestedQueryCost") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(1),
        _ => 1,
    }
}

/// The caller's standing after this request, as `X-RateLimit-*` headers.
fn standing_headers(slot: &RateSlot, http: &mut HttpResponse) {
    match slot.outcome() {
        Some(Ok(standing)) => rate_limit::headers(&standing, http.headers_mut()),
        Some(Err(refusal)) => rate_limit::headers(&refusal.standing, http.headers_mut()),
        None => {}
    }
}

/// 429 with `Retry-After`: the caller's allowance does not cover this request now.
fn rate_limited(media: Media, slot: &RateSlot, cost: u64) -> HttpResponse {
    let retry_after = match slot.outcome() {
        Some(Err(refusal)) => refusal.retry_after,
        _ => crate::error::RETRY_AFTER_SECONDS,
    };
    let mut http = error_as(
        media,
        StatusCode::TOO_MANY_REQUESTS,
        AppError::RateLimited(format!(
            "this query costs {cost} and the caller's allowance is spent: try again in {retry_after} seconds, \
             or send cheaper queries"
        )),
    );
    http.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    standing_headers(slot, &mut http);
    http
}

/// The HTTP answer with its caching headers; `304 Not Modified` when the caller already holds
/// this answer.
#[allow(clippy::too_many_arguments)]
/// How an answer may be kept by browsers and proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Anyone's answer: `public, max-age` by GET, with an `ETag`.
    Public,
    /// A signed-in caller's answer that depends only on what its organisation and roles may
    /// see: the caller's browser may keep it and ask again with the `ETag`
    /// (`private, no-cache`); no proxy keeps it.
    Private,
    /// Kept by nobody (`private, no-store`): mutations, errors, answers about the very caller.
    Never,
}

#[allow(clippy::too_many_arguments)]
fn finish(
    state: &AppState,
    headers: &HeaderMap,
    media: Media,
    by_get: bool,
    status: StatusCode,
    body: Bytes,
    etag: Option<HeaderValue>,
    keep: Keep,
) -> HttpResponse {
    let cache_control = match keep {
        Keep::Never => HeaderValue::from_static("private, no-store"),
        Keep::Private => HeaderValue::from_static("private, no-cache"),
        Keep::Public if by_get => HeaderValue::from_str(&format!("public, max-age={}", state.http_max_age))
            .unwrap_or_else(|_| HeaderValue::from_static("no-cache")),
        Keep::Public => HeaderValue::from_static("no-cache"),
    };
    let tagged = by_get && keep != Keep::Never;
    let not_modified = tagged
        && etag.as_ref().is_some_and(|tag| {
            headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|wanted| response_cache::matches(wanted, tag))
        });
    let mut http = if not_modified {
        let mut r = HttpResponse::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = HttpResponse::new(Body::from(body));
        *r.status_mut() = status;
        r.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
        r
    };
    let h = http.headers_mut();
    h.insert(header::CACHE_CONTROL, cache_control);
    h.insert(header::VARY, HeaderValue::from_static("Authorization, Accept"));
    if let Some(tag) = etag.filter(|_| tagged) {
        h.insert(header::ETAG, tag);
    }
    http
}

/// The wire form of an answer: `data` left out when the request could not run.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, Value>,
}

/// The status and body of a GraphQL response, and whether it is a clean answer (no errors)
/// that may be kept. An answer to a query larger than `max_bytes` is refused (the cost limit
/// keeps honest queries far below it); a mutation's answer is never dropped, since its write
/// has happened. A server too busy to take a write answers 503 with `Retry-After`.
fn answer(
    response: Response,
    media: Media,
    max_bytes: usize,
    is_mutation: bool,
) -> Result<(StatusCode, Bytes, bool), Box<HttpResponse>> {
    if let Some(seconds) = response.errors.iter().find_map(retry_after) {
        let mut http = error_as(media, StatusCode::SERVICE_UNAVAILABLE, AppError::Busy(busy_message(&response)));
        http.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Err(Box::new(http));
    }
    // A request error: nothing ran (the document did not parse or validate, or cost too much).
    let not_run = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let wire =
        Wire { data: (!not_run).then_some(&response.data), errors: &response.errors, extensions: &response.extensions };
    let body = match serde_json::to_vec(&wire) {
        Ok(body) => body,
        Err(e) => {
            let err = AppError::Internal(format!("serialising: {e}"));
            return Err(Box::new(error_as(media, StatusCode::INTERNAL_SERVER_ERROR, err)));
        }
    };
    if body.len() > max_bytes && !is_mutation {
        let too_large = AppError::TooLarge(format!(
            "the answer would be {} bytes, over the limit of {max_bytes}: ask for fewer items",
            body.len()
        ));
        return Err(Box::new(error_as(media, StatusCode::OK, too_large)));
    }
    let status = if not_run && media == Media::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok((status, Bytes::from(body), response.errors.is_empty()))
}

fn busy_message(response: &Response) -> String {
    response.errors.iter().find(|e| retry_after(e).is_some()).map(|e| e.message.clone()).unwrap_or_default()
}

/// The `Retry-After` seconds of an error that says the server is too busy, if it is one.
fn retry_after(err: &ServerError) -> Option<u64> {
    let ext = err.extensions.as_ref()?;
    match ext.get("code") {
        Some(Value::String(c)) if c == crate::error::code::SERVICE_UNAVAILABLE => {}
        _ => return None,
    }
    match ext.get("retryAfter") {
        Some(Value::Number(n)) => n.as_u64(),
        _ => Some(1),
    }
}

/// A request that fails whole, answered with `status` and the error with its code, as every
/// endpoint answers (the CSV endpoint too), in JSON. Internal errors are logged by `extend`.
/// A caller asked to come back (busy, or too many at once) is told when with `Retry-After`.
pub(super) fn error(status: StatusCode, err: AppError) -> HttpResponse {
    error_as(Media::Json, status, err)
}

/// `error` in the media type the caller asked for.
pub(super) fn error_as(media: Media, status: StatusCode, err: AppError) -> HttpResponse {
    let gql = err.extend();
    let server_error =
        ServerError { message: gql.message, source: None, locations: vec![], path: vec![], extensions: gql.extensions };
    let busy = matches!(err, AppError::Busy(_) | AppError::RateLimited(_));
    let mut http = errors_only(media, status, vec![server_error]);
    if busy {
        http.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::error::RETRY_AFTER_SECONDS));
    }
    http
}

fn errors_only(media: Media, status: StatusCode, errors: Vec<ServerError>) -> HttpResponse {
    let extensions = Default::default();
    let wire = Wire { data: None, errors: &errors, extensions: &extensions };
    let body = serde_json::to_vec(&wire)
        .unwrap_or_else(|_| b"{\"errors\":[{\"message\":\"internal server error\"}]}".to_vec());
    let mut http = HttpResponse::new(Body::from(body));
    *http.status_mut() = status;
    let h = http.headers_mut();
    h.insert(header::CONTENT_TYPE, media.content_type());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    http
}

/// Apollo's answer to a hash it does not know: the client sends the text next. A 200, so
/// that the client's persisted-query link retries rather than turning the protocol off.
fn persisted_query_not_found(media: Media) -> HttpResponse {
    let mut err = ServerError::new("PersistedQueryNotFound", None);
    err.extensions.get_or_insert_with(Default::default).set("code", crate::error::code::PERSISTED_QUERY_NOT_FOUND);
    errors_only(media, StatusCode::OK, vec![err])
}

fn not_acceptable() -> HttpResponse {
    error(
        StatusCode::NOT_ACCEPTABLE,
        AppError::BadUserInput(
            "the answer is `application/graphql-response+json` or `application/json`: accept one of them".into(),
        ),
    )
}

/// Whether the operation `operation_name` of `query` (or its only one) is a mutation, and
/// that operation's name.
/// What a request's text says of the operation it runs.
#[derive(Debug, Default, PartialEq, Eq)]
struct OperationFacts {
    /// A mutation: never kept, never by GET.
    mutation: bool,
    /// Its name, for logs and metrics.
    named: Option<String>,
    /// Whether its answer depends only on the published data and on what the caller's
    /// organisation and roles may see, so that callers of the same organisation with the same
    /// roles may share it while the data is unchanged: none of its root fields is one of
    /// `PER_CALLER`.
    shared: bool,
}

/// Root fields whose answers depend on the very caller (`viewer`; `returns`, whose
/// `reviewable` leaves out the caller's own), on records the data generation does not count
/// (tokens, webhooks and their deliveries, the audit trail), or on any of these (`node`,
/// `nodes`): never kept for a signed-in caller.
const PER_CALLER: &[&str] =
    &["viewer", "returns", "issuedTokens", "webhooks", "webhookDeliveries", "auditEvents", "node", "nodes"];

fn operation_of(query: &str, operation_name: Option<&str>) -> OperationFacts {
    use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
    /// Whether a root selection set (with its fragments) names none of `PER_CALLER`.
    fn shared(doc: &ExecutableDocument, set: &SelectionSet, seen: &mut Vec<String>) -> bool {
        set.items.iter().all(|item| match &item.node {
            Selection::Field(f) => !PER_CALLER.contains(&f.node.name.node.as_str()),
            Selection::InlineFragment(i) => shared(doc, &i.node.selection_set.node, seen),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                if seen.contains(&name) {
                    return true;
                }
                seen.push(name.clone());
                doc.fragments.get(name.as_str()).is_none_or(|f| shared(doc, &f.node.selection_set.node, seen))
            }
        })
    }
    let Ok(doc) = parse_query(query) else {
        return OperationFacts { named: operation_name.map(str::to_owned), ..OperationFacts::default() };
    };
    let mut facts = OperationFacts { named: operation_name.map(str::to_owned), shared: true, mutation: false };
    for (name, op) in doc.operations.iter() {
        let selected = match (operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        };
        if selected {
            facts.mutation |= op.node.ty == OperationType::Mutation;
            facts.shared &=
                op.node.ty == OperationType::Query && shared(&doc, &op.node.selection_set.node, &mut Vec::new());
            if facts.named.is_none() {
                facts.named = name.map(|n| n.to_string());
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_is_shared_unless_a_root_field_is_about_the_very_caller() {
        assert!(operation_of("{ measures { nodes { slug } } }", None).shared);
        assert!(!operation_of("{ measures { totalCount } viewer { subject } }", None).shared);
        assert!(!operation_of("query { ...F } fragment F on Query { ... on Query { webhooks { id } } }", None).shared);
        assert!(operation_of("query A { viewer { subject } } query B { priorities { totalCount } }", Some("B")).shared);
        assert!(
            !operation_of("query A { viewer { subject } } query B { priorities { totalCount } }", Some("A")).shared
        );
        let write =
            operation_of("mutation { lockPeriod(input: { measure: \"m\", period: \"2020\" }) { locked } }", None);
        assert!(write.mutation && !write.shared);
        assert!(!operation_of("{ returns(reviewable: true) { totalCount } }", None).shared);
        assert!(!operation_of("{ not parsed", None).shared);
    }

    fn accept(value: &str) -> Option<Media> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(value).expect("header"));
        negotiate(&h)
    }

    #[test]
    fn the_answer_type_follows_accept() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(accept("application/json"), Some(Media::Json));
        assert_eq!(accept("application/graphql-response+json"), Some(Media::GraphqlResponse));
        assert_eq!(accept("application/graphql-response+json, application/json;q=0.9"), Some(Media::GraphqlResponse));
        assert_eq!(accept("application/json, application/graphql-response+json"), Some(Media::GraphqlResponse));
        assert_eq!(accept("application/json, application/graphql-response+json;q=0.5"), Some(Media::Json));
        assert_eq!(accept("*/*"), Some(Media::Json));
        assert_eq!(accept("application/json; charset=utf-8"), Some(Media::Json));
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/json; charset=iso-8859-1"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }

    #[test]
    fn parameters_are_checked_by_type() {
        assert!(params_from_json(serde_json::json!({"query": "{ a }"})).is_ok());
        assert!(params_from_json(serde_json::json!({"query": "{ a }", "variables": null, "extensions": null})).is_ok());
        assert!(params_from_json(serde_json::json!({"query": 1})).is_err());
        assert!(params_from_json(serde_json::json!({"query": "{ a }", "variables": "{}"})).is_err());
        assert!(params_from_json(serde_json::json!({"query": "{ a }", "operationName": 3})).is_err());
        assert!(params_from_json(serde_json::json!({"query": "{ a }", "extensions": []})).is_err());
        assert!(params_from_json(serde_json::json!([{"query": "{ a }"}])).is_err());
        let uri: Uri = "/graphql?query=%7B%20a%20%7D&variables=%7B%22x%22%3A1%7D".parse().expect("uri");
        let p = params_from_uri(&uri).expect("params");
        assert_eq!(p.query.as_deref(), Some("{ a }"));
        assert_eq!(p.variables, serde_json::json!({"x": 1}));
        let twice: Uri = "/graphql?query=a&query=b".parse().expect("uri");
        assert!(params_from_uri(&twice).is_err());
        let bad: Uri = "/graphql?query=a&variables=%7B".parse().expect("uri");
        assert!(params_from_uri(&bad).is_err());
    }

    #[test]
    fn only_json_bodies_are_read() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).expect("header"));
            is_json_body(&h)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("Application/JSON;charset=UTF-8"));
        assert!(!with("application/json; charset=latin1"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json_body(&HeaderMap::new()));
    }
}
