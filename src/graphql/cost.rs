//! The cost model of a query, counted before it runs (GitHub's and Shopify's model): every
//! field costs 1, and a list costs the most items it can hold times the cost of one item, so
//! that a query's cost bounds the work and the size of its answer. Aliases and fragments
//! count in full (async-graphql's complexity visitor walks fragments inline).
//!
//! The bounds below are the most each plain list holds in London's data model; a connection
//! costs its page size (`first`/`last`, or the largest page when neither is given).

use crate::{
    catalogue::{checks, page::MAX_PAGE_SIZE},
    error::AppError,
};

/// The most areas directly inside one area: London has 5 ICSs, an ICS up to 8 boroughs, and a
/// borough its wards or Primary Care Networks (London's largest has 25 wards).
pub const CHILDREN: usize = 50;
/// The most organisations based in one area.
pub const ORGANISATIONS_IN_AREA: usize = 20;
/// The most members of one partnership (London Councils: the 33 councils).
pub const MEMBERS: usize = checks::MAX_MEMBERS;
/// The most commitments of one priority, or tracked on one measure.
pub const COMMITMENTS: usize = 10;
/// The most measures of one priority (Table 1 lists at most 7).
pub const MEASURES_OF_PRIORITY: usize = 20;
/// The most priorities, areas and organisations one case study names.
pub const CASE_STUDY_PRIORITIES: usize = checks::MAX_CASE_STUDY_PRIORITIES;
pub const CASE_STUDY_AREAS: usize = checks::MAX_CASE_STUDY_AREAS;
pub const CASE_STUDY_ORGANISATIONS: usize = checks::MAX_CASE_STUDY_ORGANISATIONS;
/// The page of a priority's case studies when no size is asked for (at most 100 may be):
/// a list that grows with data, which `caseStudies(priority:)` pages through.
pub const PRIORITY_CASE_STUDIES_DEFAULT: usize = 20;
/// The page of a value's history when no size is asked for (at most 100 may be).
pub const HISTORY_DEFAULT: usize = 20;
/// The most periods locked on one measure that one request lists.
pub const LOCKED_PERIODS: usize = 100;
/// The most values due that one request lists.
pub const DUE: usize = 2_000;

/// No single field costs more than this, so that adding costs up can never overflow (at
/// most a few hundred thousand fields fit in a request body).
const CEILING: usize = 1 << 40;

/// The cost of a list of at most `bound` items, each costing `child_complexity`.
pub fn list(bound: usize, child_complexity: usize) -> usize {
    bound.saturating_mul(child_complexity.max(1)).saturating_add(1).min(CEILING)
}

/// The cost of a connection: its page size times the cost of one item (plus the page itself).
pub fn connection(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).unwrap_or(MAX_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    list(usize::try_from(size).unwrap_or(1), child_complexity)
}

/// The cost of a page of `first` items (`default` when not given) of a plain list.
pub fn page(first: Option<i32>, default: usize, child_complexity: usize) -> usize {
    let size = first.and_then(|f| usize::try_from(f).ok()).unwrap_or(default).clamp(1, MAX_PAGE_SIZE as usize);
    list(size, child_complexity)
}

/// The size of a page of a plain list: `first` (1 to 100), or `default`.
pub fn page_size(first: Option<i32>, default: usize) -> Result<usize, AppError> {
    match first {
        None => Ok(default),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(usize::try_from(n).unwrap_or(default)),
        Some(n) => Err(AppError::BadUserInput(format!("`first` must be between 1 and {MAX_PAGE_SIZE}, not {n}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::{connection, list, page};

    #[test]
    fn a_list_costs_its_bound_times_its_item() {
        assert_eq!(list(50, 3), 151);
        assert_eq!(list(50, 0), 51);
        assert_eq!(connection(Some(10), None, 4), 41);
        assert_eq!(connection(None, Some(5), 4), 21);
        assert_eq!(connection(None, None, 1), 101);
        assert_eq!(connection(Some(100_000), None, 1), 101);
        assert_eq!(page(Some(7), 100, 2), 15);
        assert_eq!(page(None, 100, 2), 201);
    }

    #[test]
    fn costs_never_overflow_when_added_up() {
        let deep = (0..20).fold(1, |child, _| list(50, child));
        assert_eq!(deep, 1 << 40);
        assert!(deep.checked_mul(100_000).is_some());
    }
}
