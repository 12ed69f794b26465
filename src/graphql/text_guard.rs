//! Refuses control characters in every text a GraphQL request carries, in one place: string
//! arguments written in the query (including escapes such as `\u0000`) and in its variables.
//! Tab and line breaks are allowed here; fields that hold one line (names, slugs) refuse
//! them in their own checks. A NUL would otherwise reach PostgreSQL, which cannot store it.

use std::sync::Arc;

use async_graphql::{
    Name, ServerError, ServerResult, Value, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::{
    error::code,
    values::{Lines, describe_character, forbidden_character},
};

pub struct TextGuard;

impl ExtensionFactory for TextGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(TextGuard)
    }
}

/// The first forbidden character in a value, with the path to it.
fn in_const_value(value: &Value, path: &mut Vec<String>) -> Option<char> {
    match value {
        Value::String(s) => forbidden_character(s, Lines::Many),
        Value::List(items) => items.iter().enumerate().find_map(|(i, v)| {
            path.push(i.to_string());
            let found = in_const_value(v, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            path.push(k.to_string());
            let found = forbidden_character(k, Lines::One).or_else(|| in_const_value(v, path));
            if found.is_none() {
                path.pop();
            }
            found
        }),
        _ => None,
    }
}

fn in_selection_set(set: &SelectionSet, path: &mut Vec<String>) -> Option<char> {
    set.items.iter().find_map(|selection| match &selection.node {
        Selection::Field(field) => {
            let field = &field.node;
            field
                .arguments
                .iter()
                .find_map(|(name, value)| {
                    path.push(format!("{}({})", field.name.node, name.node));
                    // Variables inside a literal are checked with the variables.
                    let literal = value.node.clone().into_const_with(|_: Name| Ok::<_, ()>(Value::Null)).ok();
                    let found = literal.and_then(|v| in_const_value(&v, path));
                    if found.is_none() {
                        path.pop();
                    }
                    found
                })
                .or_else(|| in_selection_set(&field.selection_set.node, path))
        }
        Selection::InlineFragment(fragment) => in_selection_set(&fragment.node.selection_set.node, path),
        Selection::FragmentSpread(_) => None,
    })
}

/// The first forbidden character of a request, and where it is.
fn find(doc: &ExecutableDocument, variables: &Variables) -> Option<(char, String)> {
    let mut path = Vec::new();
    for (name, value) in variables.iter() {
        path.push(format!("${name}"));
        if let Some(c) = in_const_value(value, &mut path) {
            return Some((c, path.join(".")));
        }
        path.clear();
    }
    let sets = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node));
    for set in sets {
        path.clear();
        if let Some(c) = in_selection_set(set, &mut path) {
            return Some((c, path.join(".")));
        }
    }
    None
}

#[async_graphql::async_trait::async_trait]
impl Extension for TextGuard {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if let Some((c, at)) = find(&doc, variables) {
            let mut err = ServerError::new(
                format!("the text at {at} holds the control character {}, which is not allowed", describe_character(c)),
                None,
            );
            err.extensions.get_or_insert_with(Default::default).set("code", code::BAD_USER_INPUT);
            return Err(err);
        }
        Ok(doc)
    }
}
