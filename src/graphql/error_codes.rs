//! Gives every error a code. async-graphql answers malformed queries, invalid queries and
//! over-limit queries with plain messages; this extension adds the contract's
//! `extensions.code` to them (BAD_USER_INPUT, or QUERY_TOO_COMPLEX for the limits), and
//! marks any resolver error that has no code as an internal error.

use std::sync::Arc;

use async_graphql::{
    Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation},
    parser::types::ExecutableDocument,
};

use crate::error::code;

pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

fn with_code(mut err: ServerError, code: &'static str) -> ServerError {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    err
}

fn is_limit(err: &ServerError) -> bool {
    err.message.starts_with("Query is too complex") || err.message.starts_with("Query is nested too deep")
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| with_code(e, code::BAD_USER_INPUT))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let c = if is_limit(&e) { code::QUERY_TOO_COMPLEX } else { code::BAD_USER_INPUT };
                    with_code(e, c)
                })
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|e| {
                // Argument values that fail their type's parsing are the caller's to fix.
                let c = if e.message.starts_with("Failed to parse") || e.message.starts_with("Invalid value") {
                    code::BAD_USER_INPUT
                } else {
                    code::INTERNAL_SERVER_ERROR
                };
                with_code(e, c)
            })
            .collect();
        response
    }
}
