//! Refuses control characters in every text a GraphQL request carries, in one place: string
//! arguments written in the query (including escapes such as `\u0000`) and in its variables.
//! Tab and line breaks are allowed here; fields that hold one line (names, slugs) refuse
//! them in their own checks. A NUL would otherwise reach PostgreSQL, which cannot store it.

use async_graphql::{
    Name, ServerError, ServerResult, Value, Variables,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::{
    error::code,
    values::{Lines, describe_character, forbidden_character},
};

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

/// The first forbidden character of the variables, and where it is.
fn in_variables(variables: &Variables) -> Option<(char, String)> {
    let mut path = Vec::new();
    for (name, value) in variables.iter() {
        path.push(format!("${name}"));
        if let Some(c) = in_const_value(value, &mut path) {
            return Some((c, path.join(".")));
        }
        path.clear();
    }
    None
}

/// The first forbidden character written in the query itself, and where it is.
fn in_document(doc: &ExecutableDocument) -> Option<(char, String)> {
    let mut path = Vec::new();
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

fn refuse((c, at): (char, String)) -> ServerError {
    let mut err = ServerError::new(
        format!("the text at {at} holds the control character {}, which is not allowed", describe_character(c)),
        None,
    );
    err.extensions.get_or_insert_with(Default::default).set("code", code::BAD_USER_INPUT);
    err
}

/// Refuses a query whose own text holds a forbidden character.
pub fn check_document(doc: &ExecutableDocument) -> ServerResult<()> {
    in_document(doc).map_or(Ok(()), |found| Err(refuse(found)))
}

/// Refuses variables that hold a forbidden character.
pub fn check_variables(variables: &Variables) -> ServerResult<()> {
    in_variables(variables).map_or(Ok(()), |found| Err(refuse(found)))
}
