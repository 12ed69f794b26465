//! Relay cursor connections: opaque cursors, page arguments and the `totalCount` field.

use async_graphql::{
    SimpleObject,
    connection::{Connection, Edge},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::{
    catalogue::page::{Page, PageArgs},
    error::AppError,
};

/// Fields every connection has besides `edges`, `nodes` and `pageInfo`.
#[derive(SimpleObject)]
pub struct ConnectionFields {
    /// How many items the whole list holds, across all pages.
    pub total_count: u64,
}

/// A list page as GraphQL shows it.
pub type Conn<T> = Connection<String, T, ConnectionFields>;

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
    let mut conn = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        ConnectionFields { total_count: page.total_count },
    );
    conn.edges.extend(page.items.into_iter().map(|(key, m)| Edge::new(encode_cursor(key), wrap(m))));
    conn
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
