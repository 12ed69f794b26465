//! Relay cursor connections: opaque cursors, page arguments and the `totalCount` field.

use std::borrow::Cow;

use async_graphql::{Object, OutputType, TypeName, connection::PageInfo};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::{
    catalogue::page::{Page, PageArgs},
    error::AppError,
};

/// A page of a list (a Relay connection), named after its items (`MeasureConnection`, ...).
pub struct Conn<T> {
    edges: Vec<ConnEdge<T>>,
    has_previous_page: bool,
    has_next_page: bool,
    total_count: u64,
}

/// A page of a list: its items (`nodes`, or `edges` with each item's cursor), where the page
/// stands (`pageInfo`) and the size of the whole list (`totalCount`). Page forward with
/// `first` and `after` (the previous page's `pageInfo.endCursor`), backward with `last` and
/// `before`.
#[Object(name_type)]
impl<T: OutputType> Conn<T> {
    /// Where this page stands in the list, and the cursors to page on from it.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.edges.first().map(|e| e.cursor.clone()),
            end_cursor: self.edges.last().map(|e| e.cursor.clone()),
        }
    }

    /// The page's items, each with its cursor.
    async fn edges(&self) -> &[ConnEdge<T>] {
        &self.edges
    }

    /// The page's items.
    async fn nodes(&self) -> Vec<&T> {
        self.edges.iter().map(|e| &e.node).collect()
    }

    /// How many items the whole list holds, across all pages (counted only when asked for).
    async fn total_count(&self) -> u64 {
        self.total_count
    }
}

impl<T: OutputType> TypeName for Conn<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", T::type_name()).into()
    }
}

/// One item of a page, with the cursor that marks its place (named `MeasureEdge`, ...).
pub struct ConnEdge<T> {
    cursor: String,
    node: T,
}

/// One item of a page, with the cursor that marks its place in the list.
#[Object(name_type)]
impl<T: OutputType> ConnEdge<T> {
    /// The item.
    async fn node(&self) -> &T {
        &self.node
    }

    /// An opaque mark of this item's place: pass it as `after` (or `before`) to page on
    /// from here.
    async fn cursor(&self) -> &str {
        &self.cursor
    }
}

impl<T: OutputType> TypeName for ConnEdge<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", T::type_name()).into()
    }
}

const CURSOR_PREFIX: &str = "cursor:";

fn encode_cursor(key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{key}"))
}

fn decode_cursor(name: &str, cursor: &str) -> Result<i64, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(CURSOR_PREFIX).and_then(|k| k.parse().ok()))
        .ok_or_else(|| AppError::BadUserInput(format!("`{name}` is not a cursor from this list: '{cursor}'")))
}

/// The page a client asked for, with its cursors decoded.
pub fn page_args(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<PageArgs, AppError> {
    Ok(PageArgs {
        first,
        after: after.as_deref().map(|c| decode_cursor("after", c)).transpose()?,
        last,
        before: before.as_deref().map(|c| decode_cursor("before", c)).transpose()?,
        skip_count: false,
    })
}

/// The page a connection field asks for; its `totalCount` is counted only when the query
/// selects it (under any alias or fragment), which saves a `COUNT(*)` a connection.
pub fn args(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> async_graphql::Result<PageArgs> {
    let mut args = super::OrGql::gql(page_args(first, after, last, before))?;
    args.skip_count = !ctx.look_ahead().field("totalCount").exists();
    Ok(args)
}

/// Wraps a page of rows as a connection of GraphQL objects.
pub fn connection<M, T: async_graphql::OutputType>(page: Page<M>, wrap: impl Fn(M) -> T) -> Conn<T> {
    Conn {
        edges: page.items.into_iter().map(|(key, m)| ConnEdge { cursor: encode_cursor(key), node: wrap(m) }).collect(),
        has_previous_page: page.has_previous_page,
        has_next_page: page.has_next_page,
        total_count: page.total_count,
    }
}

/// A small related list in a stable order (the order rows were added).
pub fn sorted_by_id<T>(mut rows: Vec<T>, id: impl Fn(&T) -> i64) -> Vec<T> {
    rows.sort_by_key(|r| id(r));
    rows
}

#[cfg(test)]
mod tests {
    use super::{decode_cursor, encode_cursor, page_args};

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        assert_eq!(decode_cursor("after", &encode_cursor(17)).expect("valid"), 17);
        assert!(decode_cursor("after", "17").is_err());
        assert!(page_args(Some(1), Some("nonsense".into()), None, None).is_err());
    }
}
