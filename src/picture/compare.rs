//! Comparing areas: with a benchmark, by rank, and by quintile.
//!
//! - Comparison (the public health profiles' method): the area's confidence interval
//!   against the benchmark's value. Wholly above or below it is a significant difference,
//!   read as better or worse by the measure's polarity (higher or lower when the measure
//!   has no judgement); an interval that contains the value is similar.
//! - Rank: 1 is the best by polarity (the lowest value for `LOW_IS_GOOD`, the highest for
//!   `HIGH_IS_GOOD`), and the lowest value for a measure with no judgement. Tied values
//!   share the best rank of the tie and the next value skips the places they took
//!   ("1, 2, 2, 4", standard competition ranking).
//! - Quintile: the ranked areas cut into five groups of as nearly equal size as their
//!   number allows, by rank: quintile = ⌊5 (rank − 1) / n⌋ + 1 for n ranked areas, so
//!   quintile 1 holds the best (or lowest) fifth, and tied areas share a quintile. Of 33
//!   boroughs, quintiles 1 to 5 hold 7, 7, 6, 7 and 6 when no values tie.

use std::cmp::Ordering;

use super::intervals::Interval;
use crate::values::{Comparison, Polarity};

/// How a value with `interval` compares with `benchmark`.
pub fn compare(interval: Option<Interval>, benchmark: Option<f64>, polarity: Polarity) -> Comparison {
    let (Some(interval), Some(benchmark)) = (interval, benchmark) else { return Comparison::NotCompared };
    if !(interval.lower.is_finite() && interval.upper.is_finite() && benchmark.is_finite()) {
        return Comparison::NotCompared;
    }
    let higher = if interval.lower > benchmark {
        true
    } else if interval.upper < benchmark {
        false
    } else {
        return Comparison::Similar;
    };
    match (polarity, higher) {
        (Polarity::HighIsGood, true) | (Polarity::LowIsGood, false) => Comparison::Better,
        (Polarity::HighIsGood, false) | (Polarity::LowIsGood, true) => Comparison::Worse,
        (Polarity::NoJudgement, true) => Comparison::Higher,
        (Polarity::NoJudgement, false) => Comparison::Lower,
    }
}

/// The rank of each value (in the order given; `None` for an area without a value), 1 the
/// best by polarity, ties sharing the best rank of the tie.
pub fn ranks(values: &[Option<f64>], polarity: Polarity) -> Vec<Option<u32>> {
    let better = |a: f64, b: f64| -> Ordering {
        match polarity {
            Polarity::HighIsGood => b.total_cmp(&a),
            Polarity::LowIsGood | Polarity::NoJudgement => a.total_cmp(&b),
        }
    };
    values
        .iter()
        .map(|v| {
            let v = (*v).filter(|v| v.is_finite())?;
            let ahead = values.iter().flatten().filter(|o| o.is_finite() && better(**o, v) == Ordering::Less).count();
            u32::try_from(ahead + 1).ok()
        })
        .collect()
}

/// The quintile of a rank among `ranked` areas (see the module's description).
pub fn quintile(rank: u32, ranked: usize) -> Option<u32> {
    if rank == 0 || ranked == 0 || rank as usize > ranked {
        return None;
    }
    let q = (5 * (rank as usize - 1)) / ranked + 1;
    u32::try_from(q.min(5)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::IntervalMethod;

    fn ci(lower: f64, upper: f64) -> Option<Interval> {
        Some(Interval { lower, upper, method: IntervalMethod::Submitted })
    }

    #[test]
    fn an_interval_wholly_on_one_side_of_the_benchmark_differs_by_polarity() {
        assert_eq!(compare(ci(21.0, 25.0), Some(20.0), Polarity::HighIsGood), Comparison::Better);
        assert_eq!(compare(ci(21.0, 25.0), Some(20.0), Polarity::LowIsGood), Comparison::Worse);
        assert_eq!(compare(ci(21.0, 25.0), Some(20.0), Polarity::NoJudgement), Comparison::Higher);
        assert_eq!(compare(ci(15.0, 19.9), Some(20.0), Polarity::LowIsGood), Comparison::Better);
        assert_eq!(compare(ci(15.0, 19.9), Some(20.0), Polarity::NoJudgement), Comparison::Lower);
    }

    #[test]
    fn an_interval_holding_the_benchmark_is_similar_even_at_its_edge() {
        assert_eq!(compare(ci(18.0, 22.0), Some(20.0), Polarity::LowIsGood), Comparison::Similar);
        assert_eq!(compare(ci(20.0, 22.0), Some(20.0), Polarity::LowIsGood), Comparison::Similar);
    }

    #[test]
    fn without_an_interval_or_a_benchmark_nothing_is_compared() {
        assert_eq!(compare(None, Some(20.0), Polarity::LowIsGood), Comparison::NotCompared);
        assert_eq!(compare(ci(1.0, 2.0), None, Polarity::LowIsGood), Comparison::NotCompared);
    }

    #[test]
    fn ties_share_the_best_rank_and_the_next_skips() {
        let values = [Some(10.0), Some(12.0), Some(12.0), None, Some(8.0), Some(15.0)];
        assert_eq!(ranks(&values, Polarity::HighIsGood), vec![Some(4), Some(2), Some(2), None, Some(5), Some(1)]);
        assert_eq!(ranks(&values, Polarity::LowIsGood), vec![Some(2), Some(3), Some(3), None, Some(1), Some(5)]);
        assert_eq!(ranks(&values, Polarity::NoJudgement), ranks(&values, Polarity::LowIsGood));
    }

    #[test]
    fn thirty_three_boroughs_fall_into_quintiles_of_seven_seven_six_seven_six() {
        let sizes: Vec<usize> = (1..=5).map(|q| (1..=33u32).filter(|&r| quintile(r, 33) == Some(q)).count()).collect();
        assert_eq!(sizes, vec![7, 7, 6, 7, 6]);
        assert_eq!(quintile(1, 33), Some(1));
        assert_eq!(quintile(33, 33), Some(5));
        // Five areas: one in each; ten: two in each.
        assert_eq!((1..=5).map(|r| quintile(r, 5).unwrap_or(0)).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        assert_eq!(quintile(4, 10), Some(2));
        assert_eq!(quintile(0, 10), None);
        assert_eq!(quintile(11, 10), None);
    }
}
