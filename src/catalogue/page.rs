//! Keyset pagination over a table's primary key, shared by every list that grows with data.
//! Keyset (not offset) paging keeps a cursor pointing at the same row while rows are added.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Statement,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, Query},
};

use crate::error::{AppError, AppResult};

/// The largest page a client may ask for. An oversized request is an error, never cut short.
pub const MAX_PAGE_SIZE: i32 = 100;

/// What a client asked for: `first`/`after` forwards or `last`/`before` backwards, with
/// cursors already decoded to primary keys.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<i64>,
    pub last: Option<i32>,
    pub before: Option<i64>,
    /// Leave the total out (the caller did not ask for it): one statement fewer.
    pub skip_count: bool,
}

/// One page of rows in key order, with what a Relay connection needs around it.
#[derive(Debug, Clone)]
pub struct Page<M> {
    pub items: Vec<(i64, M)>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    pub total_count: u64,
}

impl<M> Page<M> {
    /// The same page with each row turned into another form.
    pub fn map<N>(self, f: impl Fn(M) -> N) -> Page<N> {
        Page {
            items: self.items.into_iter().map(|(cursor, m)| (cursor, f(m))).collect(),
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            total_count: self.total_count,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Forward,
    Backward,
}

impl PageArgs {
    /// The page size and direction, or why the request cannot be served.
    pub(crate) fn window(&self) -> AppResult<(u64, Direction)> {
        let check = |name: &str, n: i32| {
            if (0..=MAX_PAGE_SIZE).contains(&n) {
                Ok(u64::try_from(n).unwrap_or_default())
            } else {
                Err(AppError::BadUserInput(format!(
                    "`{name}` must be between 0 and {MAX_PAGE_SIZE}, not {n}: page through longer lists with cursors"
                )))
            }
        };
        match (self.first, self.last) {
            (Some(_), Some(_)) => Err(AppError::BadUserInput("pass either `first` or `last`, not both".into())),
            (Some(n), None) => Ok((check("first", n)?, Direction::Forward)),
            (None, Some(n)) => Ok((check("last", n)?, Direction::Backward)),
            // Without a size, a page is as large as allowed: forwards, or backwards from `before`.
            (None, None) if self.before.is_some() && self.after.is_none() => {
                Ok((MAX_PAGE_SIZE as u64, Direction::Backward))
            }
            (None, None) => Ok((MAX_PAGE_SIZE as u64, Direction::Forward)),
        }
    }
}

/// Fetches one page of `select`, ordered by `id_col`, with the total count of `select`.
pub async fn fetch<E, C>(
    db: &C,
    select: Select<E>,
    id_col: E::Column,
    key: impl Fn(&E::Model) -> i64,
    args: PageArgs,
) -> AppResult<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait,
{
    let (size, direction) = args.window()?;
    let total_count = if args.skip_count { 0 } else { select.clone().count(db).await? };
    let mut query = select;
    if let Some(after) = args.after {
        query = query.filter(id_col.gt(after));
    }
    if let Some(before) = args.before {
        query = query.filter(id_col.lt(before));
    }
    query = match direction {
        Direction::Forward => query.order_by_asc(id_col),
        Direction::Backward => query.order_by_desc(id_col),
    };
    let rows = if size == 0 { Vec::new() } else { query.limit(size + 1).all(db).await? };
    Ok(assemble(rows, key, args, size, direction, total_count))
}

/// The parents whose rows `fetch_many` pages: the column naming a row's parent, the parents
/// wanted, and how to read a row's parent.
pub struct Parents<'a, E: EntityTrait, F> {
    pub column: E::Column,
    pub ids: &'a [i64],
    pub of: F,
}

/// Fetches the same page (`args`) of the rows of many parents at once, each parent's rows
/// ordered by `id_col`: one statement for every page (a window numbering each parent's rows
/// and keeping `size + 1` of them) and one for the totals when they are asked for, whatever
/// the number of parents. `select` holds the filters every page shares.
pub async fn fetch_many<E, C, F>(
    db: &C,
    select: Select<E>,
    parents: Parents<'_, E, F>,
    id_col: E::Column,
    key: impl Fn(&E::Model) -> i64 + Copy,
    args: PageArgs,
) -> AppResult<HashMap<i64, Page<E::Model>>>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
    F: Fn(&E::Model) -> i64,
{
    let Parents { column: parent_col, ids: parents, of: parent_of } = parents;
    let (size, direction) = args.window()?;
    let per_parent = select.clone();
    let select = select.filter(parent_col.is_in(parents.iter().copied()));
    let mut totals: HashMap<i64, u64> = HashMap::new();
    if !args.skip_count && !parents.is_empty() {
        let counted: Vec<(i64, i64)> = select
            .clone()
            .select_only()
            .column(parent_col)
            .column_as(id_col.count(), "n")
            .group_by(parent_col)
            .into_tuple()
            .all(db)
            .await?;
        totals = counted.into_iter().map(|(p, n)| (p, u64::try_from(n).unwrap_or_default())).collect();
    }
    let mut rows_of: HashMap<i64, Vec<E::Model>> = HashMap::new();
    if size > 0 && !parents.is_empty() && db.get_database_backend() == DbBackend::Postgres {
        // PostgreSQL: each parent's first `size + 1` rows by the index on (parent, id), in a
        // lateral subquery over the parents' ids: it reads only the rows it returns (and those
        // its filters pass over), however many rows a parent has.
        let table = E::default().table_name().to_owned();
        let mut inner = per_parent.filter(Expr::cust(format!("{table}.{} = lateral_parent.id", parent_col.as_str())));
        if let Some(after) = args.after {
            inner = inner.filter(id_col.gt(after));
        }
        if let Some(before) = args.before {
            inner = inner.filter(id_col.lt(before));
        }
        let inner = match direction {
            Direction::Forward => inner.order_by_asc(id_col),
            Direction::Backward => inner.order_by_desc(id_col),
        }
        .limit(size.saturating_add(1));
        let built = inner.build(DbBackend::Postgres);
        // The parents' ids are numbers from this database, written in as such.
        let ids: Vec<String> = parents.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT ranked.* FROM UNNEST(ARRAY[{}]::bigint[]) AS lateral_parent(id) CROSS JOIN LATERAL ({}) AS ranked",
            ids.join(","),
            built.sql
        );
        let statement = Statement { sql, ..built };
        for row in E::Model::find_by_statement(statement).all(db).await? {
            rows_of.entry(parent_of(&row)).or_default().push(row);
        }
    } else if size > 0 && !parents.is_empty() {
        let mut inner = select;
        if let Some(after) = args.after {
            inner = inner.filter(id_col.gt(after));
        }
        if let Some(before) = args.before {
            inner = inner.filter(id_col.lt(before));
        }
        let order = match direction {
            Direction::Forward => "ASC",
            Direction::Backward => "DESC",
        };
        // Names from the entity, never from the caller.
        let table = E::default().table_name().to_owned();
        let window = format!(
            "ROW_NUMBER() OVER (PARTITION BY {table}.{} ORDER BY {table}.{} {order})",
            parent_col.as_str(),
            id_col.as_str()
        );
        let ranked = inner.column_as(Expr::cust(window), "page_rank").into_query();
        let outer = Query::select()
            .column(Asterisk)
            .from_subquery(ranked, Alias::new("ranked"))
            .and_where(Expr::col(Alias::new("page_rank")).lte(size.saturating_add(1)))
            .to_owned();
        let statement = db.get_database_backend().build(&outer);
        for row in E::Model::find_by_statement(statement).all(db).await? {
            rows_of.entry(parent_of(&row)).or_default().push(row);
        }
    }
    Ok(parents
        .iter()
        .map(|&p| {
            let mut rows = rows_of.remove(&p).unwrap_or_default();
            match direction {
                Direction::Forward => rows.sort_by_key(|m| key(m)),
                Direction::Backward => rows.sort_by_key(|m| std::cmp::Reverse(key(m))),
            }
            (p, assemble(rows, key, args, size, direction, totals.get(&p).copied().unwrap_or_default()))
        })
        .collect())
}

/// Builds the page of one parent from the rows fetched for it (at most `size + 1`, in the
/// direction's order): what `fetch` does after its query, for pages fetched many at once.
pub(crate) fn assemble<M>(
    mut rows: Vec<M>,
    key: impl Fn(&M) -> i64,
    args: PageArgs,
    size: u64,
    direction: Direction,
    total_count: u64,
) -> Page<M> {
    let more = rows.len() as u64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    if direction == Direction::Backward {
        rows.reverse();
    }
    let (has_previous_page, has_next_page) = match direction {
        Direction::Forward => (args.after.is_some(), more),
        Direction::Backward => (more, args.before.is_some()),
    };
    Page { items: rows.into_iter().map(|m| (key(&m), m)).collect(), has_previous_page, has_next_page, total_count }
}

#[cfg(test)]
mod tests {
    use super::PageArgs;

    #[test]
    fn page_sizes_above_the_maximum_or_below_zero_are_refused() {
        for args in [
            PageArgs { first: Some(101), ..Default::default() },
            PageArgs { last: Some(1000), ..Default::default() },
            PageArgs { first: Some(-1), ..Default::default() },
            PageArgs { first: Some(1), last: Some(1), ..Default::default() },
        ] {
            assert!(args.window().is_err(), "{args:?} should be refused");
        }
        assert!(PageArgs { first: Some(100), ..Default::default() }.window().is_ok());
        assert!(PageArgs { first: Some(0), ..Default::default() }.window().is_ok());
    }
}
