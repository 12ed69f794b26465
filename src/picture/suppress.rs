//! Small-number suppression that subtraction cannot undo.
//!
//! The rule: a figure whose count (its numerator, or a count's value) is from 1 to the
//! measure's limit (7 for most measures of people: counts of 1 to 7 are suppressed) is
//! hidden from everyone outside the area: value, numerator, intervals, comparison, rank
//! and the points of its trend. The viewer's own areas are never hidden from it.
//!
//! One hidden figure is not enough: the picture also shows totals (each ICS is the sum of
//! its boroughs; London the sum of the ICSs and of the 33 boroughs), and a total less the
//! parts one can see would give the hidden part back. So, as statistical offices do with
//! tables that have margins ("secondary suppression"), no sum may have exactly one unknown
//! member: where a sum has one, the smallest other member the viewer may not otherwise see
//! (a part before the total) is hidden as well, and this is repeated until no sum has one
//! unknown. An unknown is then always one of at least two, so only their sum can be worked
//! out. Figures the viewer sees anyway (its own areas) are never chosen, since hiding them
//! would hide nothing.

use std::collections::{BTreeSet, HashMap};

/// A total and the parts that add up to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equation {
    pub total: i64,
    pub parts: Vec<i64>,
}

/// The areas to hide: `counts` are the disclosure counts of the areas with a value
/// (`shown` lists every area with a value, counted or not); `own` tells the viewer's areas.
pub fn hide(
    counts: &HashMap<i64, f64>,
    shown: &BTreeSet<i64>,
    equations: &[Equation],
    limit: f64,
    own: &dyn Fn(i64) -> bool,
) -> BTreeSet<i64> {
    let mut hidden: BTreeSet<i64> =
        counts.iter().filter(|(id, c)| **c > 0.0 && **c <= limit && !own(**id)).map(|(id, _)| *id).collect();
    if hidden.is_empty() {
        return hidden;
    }
    loop {
        let mut changed = false;
        for eq in equations {
            if !shown.contains(&eq.total) {
                continue;
            }
            let members: Vec<(i64, bool)> = std::iter::once((eq.total, true))
                .chain(eq.parts.iter().map(|p| (*p, false)))
                .filter(|(id, _)| shown.contains(id))
                .collect();
            if members.iter().filter(|(id, _)| hidden.contains(id)).count() != 1 {
                continue;
            }
            let candidate = members
                .iter()
                .filter(|(id, _)| !hidden.contains(id) && !own(*id))
                .min_by(|a, b| {
                    let count = |id: i64| counts.get(&id).copied().unwrap_or(f64::INFINITY);
                    a.1.cmp(&b.1).then(count(a.0).total_cmp(&count(b.0))).then(a.0.cmp(&b.0))
                })
                .map(|(id, _)| *id);
            if let Some(id) = candidate {
                hidden.insert(id);
                changed = true;
            }
        }
        if !changed {
            return hidden;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An ICS (id 10) of four boroughs (1-4), London (100) of two ICSs (10, 20), the second
    // of boroughs 5 and 6.
    fn equations() -> Vec<Equation> {
        vec![
            Equation { total: 10, parts: vec![1, 2, 3, 4] },
            Equation { total: 20, parts: vec![5, 6] },
            Equation { total: 100, parts: vec![10, 20] },
            Equation { total: 100, parts: vec![1, 2, 3, 4, 5, 6] },
        ]
    }

    fn counts(pairs: &[(i64, f64)]) -> (HashMap<i64, f64>, BTreeSet<i64>) {
        (pairs.iter().copied().collect(), pairs.iter().map(|p| p.0).collect())
    }

    /// Borough 1 has 3 (small); the rest of ICS 10 has 40, 12 and 50; ICS 20 has 30 and 35.
    fn one_small_borough() -> (HashMap<i64, f64>, BTreeSet<i64>) {
        counts(&[
            (1, 3.0),
            (2, 40.0),
            (3, 12.0),
            (4, 50.0),
            (5, 30.0),
            (6, 35.0),
            (10, 105.0),
            (20, 65.0),
            (100, 170.0),
        ])
    }

    fn nobody(_: i64) -> bool {
        false
    }

    #[test]
    fn one_small_count_takes_the_next_smallest_part_with_it() {
        let (c, shown) = one_small_borough();
        let hidden = hide(&c, &shown, &equations(), 7.0, &nobody);
        assert_eq!(hidden, BTreeSet::from([1, 3]));
        // What remains visible cannot give either back: the ICS less the shown parts is their sum.
        let shown_parts: f64 = [2, 4].iter().map(|id| c[id]).sum();
        assert_eq!(c[&10] - shown_parts, c[&1] + c[&3]);
    }

    #[test]
    fn nothing_small_hides_nothing_and_zero_is_not_small() {
        let (c, shown) = counts(&[(1, 0.0), (2, 40.0), (10, 40.0)]);
        assert!(hide(&c, &shown, &equations(), 7.0, &nobody).is_empty());
    }

    #[test]
    fn a_small_total_is_hidden_with_a_partner_at_its_own_level() {
        // ICS 20 is 5 (boroughs 2 and 3): both boroughs small, the ICS small, and London
        // less ICS 10 would give ICS 20 back, so ICS 10 goes too; then London less the
        // boroughs of ICS 10 ... every sum is left with none or two or more unknowns.
        let (c, shown) = counts(&[
            (1, 20.0),
            (2, 30.0),
            (3, 25.0),
            (4, 50.0),
            (5, 2.0),
            (6, 3.0),
            (10, 125.0),
            (20, 5.0),
            (100, 130.0),
        ]);
        let hidden = hide(&c, &shown, &equations(), 7.0, &nobody);
        for eq in equations() {
            let unknown = std::iter::once(eq.total).chain(eq.parts).filter(|id| hidden.contains(id)).count();
            assert_ne!(unknown, 1, "a sum with one unknown: {hidden:?}");
        }
        assert!(hidden.contains(&5) && hidden.contains(&6) && hidden.contains(&20));
    }

    #[test]
    fn the_viewers_own_areas_are_shown_and_never_chosen_to_cover() {
        let (c, shown) = one_small_borough();
        // The viewer is borough 1 itself: nothing of its own is hidden.
        assert!(hide(&c, &shown, &equations(), 7.0, &|id| id == 1).is_empty());
        // The viewer is borough 3: it knows its own 12, so 3 cannot cover for 1; 2 (40) does.
        let hidden = hide(&c, &shown, &equations(), 7.0, &|id| id == 3);
        assert_eq!(hidden, BTreeSet::from([1, 2]));
    }
}
