//! Building the picture of one measure and period from the approved values of the areas,
//! as pure functions: aggregation, intervals, comparison, ranking, coverage, suppression
//! and trends. Loading the values is `load`'s work.
//!
//! Aggregation: an ICS or London value submitted for the area itself stands as submitted.
//! Otherwise an ICS is added up from its boroughs and London from the 33 boroughs:
//! proportions and crude rates as the sum of the numerators over the sum of the
//! denominators times the measure's multiplier (never an average of rates), counts as a
//! sum. Boroughs without what the sum needs (a value, or a numerator and a denominator) are
//! listed as missing. Standardised rates, means and indices are never added up.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{
    compare::{compare, quintile, ranks},
    intervals::{Interval, interval},
    suppress::{self, Equation},
    trend::{self, Trend},
};
use crate::values::{AggregationMethod, Comparison, ConfidenceLevel, GeographyLevel, Polarity, ValueSource, ValueType};

/// What the picture needs to know of a measure.
#[derive(Debug, Clone, Copy)]
pub struct MeasureRules {
    pub value_type: ValueType,
    pub polarity: Polarity,
    /// numerator / denominator × this gives the value (proportions and rates).
    pub multiplier: Option<f64>,
    /// Counts from 1 to this number are suppressed for those outside the area.
    pub suppress_up_to: Option<f64>,
}

impl MeasureRules {
    pub fn aggregation(&self) -> AggregationMethod {
        match self.value_type {
            ValueType::Proportion | ValueType::CrudeRate if self.multiplier.is_some() => AggregationMethod::RatioOfSums,
            ValueType::Count => AggregationMethod::Sum,
            _ => AggregationMethod::NotAggregated,
        }
    }
}

/// An area of the picture: London, an ICS or a borough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub id: i64,
    pub level: GeographyLevel,
    /// The ICS of a borough, London for an ICS.
    pub parent: Option<i64>,
}

/// An approved value as submitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub interval: Option<(f64, f64)>,
}

/// Which areas an aggregate expected, and which it was built from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coverage {
    pub expected: Vec<i64>,
    pub missing: Vec<i64>,
}

impl Coverage {
    pub fn reported(&self) -> usize {
        self.expected.len() - self.missing.len()
    }
}

/// An area's value in one period, before comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub value: Option<f64>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub submitted_interval: Option<(f64, f64)>,
    pub source: Option<ValueSource>,
    /// For London and the ICSs: the boroughs under them.
    pub coverage: Option<Coverage>,
}

impl Computed {
    pub fn interval(&self, rules: &MeasureRules, level: ConfidenceLevel) -> Option<Interval> {
        self.value?;
        interval(rules.value_type, rules.multiplier, self.numerator, self.denominator, self.submitted_interval, level)
    }

    /// The number the disclosure rule reads: the numerator, or a count's value.
    fn count(&self, rules: &MeasureRules) -> Option<f64> {
        if rules.value_type == ValueType::Count { self.value } else { self.numerator }
    }
}

/// London, the ICSs and the boroughs, and who holds whom.
#[derive(Debug, Clone)]
pub struct Tree {
    pub areas: Vec<Area>,
}

impl Tree {
    pub fn london(&self) -> Option<i64> {
        self.areas.iter().find(|a| a.level == GeographyLevel::Region).map(|a| a.id)
    }

    pub fn of_level(&self, level: GeographyLevel) -> impl Iterator<Item = &Area> {
        self.areas.iter().filter(move |a| a.level == level)
    }

    /// The boroughs an aggregate area is made of (all of them for London).
    pub fn boroughs_under(&self, area: &Area) -> Vec<i64> {
        match area.level {
            GeographyLevel::Region => self.of_level(GeographyLevel::Borough).map(|b| b.id).collect(),
            GeographyLevel::Ics => {
                self.of_level(GeographyLevel::Borough).filter(|b| b.parent == Some(area.id)).map(|b| b.id).collect()
            }
            GeographyLevel::Borough | GeographyLevel::Neighbourhood => Vec::new(),
        }
    }

    fn ics_of(&self, borough: i64) -> Option<i64> {
        self.areas.iter().find(|a| a.id == borough).and_then(|a| a.parent)
    }

    /// The sums the figures obey: each ICS of its boroughs, London of the ICSs, and London
    /// of the boroughs.
    fn equations(&self) -> Vec<Equation> {
        let mut out = Vec::new();
        for area in &self.areas {
            if matches!(area.level, GeographyLevel::Region | GeographyLevel::Ics) {
                out.push(Equation { total: area.id, parts: self.boroughs_under(area) });
            }
            if area.level == GeographyLevel::Region {
                out.push(Equation {
                    total: area.id,
                    parts: self.of_level(GeographyLevel::Ics).map(|i| i.id).collect(),
                });
            }
        }
        out
    }
}

/// Every area's value in one period: as submitted, or added up from the boroughs.
pub fn compute(rules: &MeasureRules, tree: &Tree, figures: &HashMap<i64, Figure>) -> HashMap<i64, Computed> {
    let mut out = HashMap::new();
    for area in &tree.areas {
        let submitted = figures.get(&area.id);
        let mut computed = match submitted {
            Some(f) => Computed {
                value: Some(f.value),
                numerator: f.numerator,
                denominator: f.denominator,
                submitted_interval: f.interval,
                source: Some(ValueSource::Submitted),
                coverage: None,
            },
            None => Computed {
                value: None,
                numerator: None,
                denominator: None,
                submitted_interval: None,
                source: None,
                coverage: None,
            },
        };
        // London and the ICSs are added up from their boroughs; a borough's neighbourhoods
        // need not cover it (a PCN's patients live across boundaries), so a borough and a
        // neighbourhood have only the values submitted for them.
        if matches!(area.level, GeographyLevel::Region | GeographyLevel::Ics) {
            let expected = tree.boroughs_under(area);
            let usable = |id: &i64| {
                figures.get(id).is_some_and(|f| match rules.aggregation() {
                    AggregationMethod::RatioOfSums => f.numerator.is_some() && f.denominator.is_some_and(|d| d > 0.0),
                    AggregationMethod::Sum | AggregationMethod::NotAggregated => true,
                })
            };
            let missing: Vec<i64> = expected.iter().copied().filter(|id| !usable(id)).collect();
            let present: Vec<&Figure> =
                expected.iter().filter(|id| usable(id)).filter_map(|id| figures.get(id)).collect();
            if submitted.is_none() && !present.is_empty() {
                match rules.aggregation() {
                    AggregationMethod::RatioOfSums => {
                        let numerator: f64 = present.iter().filter_map(|f| f.numerator).sum();
                        let denominator: f64 = present.iter().filter_map(|f| f.denominator).sum();
                        computed.value = rules.multiplier.map(|m| numerator / denominator * m);
                        computed.numerator = Some(numerator);
                        computed.denominator = Some(denominator);
                        computed.source = Some(ValueSource::Aggregated);
                    }
                    AggregationMethod::Sum => {
                        computed.value = Some(present.iter().map(|f| f.value).sum());
                        computed.source = Some(ValueSource::Aggregated);
                    }
                    AggregationMethod::NotAggregated => {}
                }
            }
            computed.coverage = Some(Coverage { expected, missing });
        }
        out.insert(area.id, computed);
    }
    out
}

/// The areas whose figures the viewer may not see in one period: those with small counts
/// outside the viewer's own areas, and as many more as it takes that no sum the picture
/// shows has exactly one unknown part (see `suppress`).
pub fn hidden(
    rules: &MeasureRules,
    tree: &Tree,
    computed: &HashMap<i64, Computed>,
    own: &dyn Fn(i64) -> bool,
) -> BTreeSet<i64> {
    let Some(limit) = rules.suppress_up_to else { return BTreeSet::new() };
    let counts: HashMap<i64, f64> =
        computed.iter().filter(|(_, c)| c.value.is_some()).filter_map(|(id, c)| Some((*id, c.count(rules)?))).collect();
    let shown: BTreeSet<i64> = computed.iter().filter(|(_, c)| c.value.is_some()).map(|(id, _)| *id).collect();
    suppress::hide(&counts, &shown, &tree.equations(), limit, own)
}

/// One area in the picture.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaFigure {
    pub geography_id: i64,
    pub level: GeographyLevel,
    pub computed: Computed,
    pub suppressed: bool,
    pub interval_95: Option<Interval>,
    pub interval_99_8: Option<Interval>,
    /// Against London, at 95% and 99.8%.
    pub vs_london: [Comparison; 2],
    /// A borough against its ICS, at 95% and 99.8%.
    pub vs_ics: [Comparison; 2],
    /// A neighbourhood against its borough, at 95% and 99.8%.
    pub vs_borough: [Comparison; 2],
    pub rank: Option<u32>,
    pub quintile: Option<u32>,
    pub trend: Trend,
}

/// One period's values, oldest first, with the target period last.
pub struct Periods<'a> {
    /// (period, figures) for up to the five consecutive periods ending at the target,
    /// none before a series break.
    pub series: Vec<(String, HashMap<i64, Figure>)>,
    /// Why the series is shorter than a trend needs, if it is (a break, a gap).
    pub cut_short: Option<&'a str>,
}

/// The picture of one period for a viewer whose own areas are `own`.
pub fn build(rules: &MeasureRules, tree: &Tree, periods: &Periods<'_>, own: &dyn Fn(i64) -> bool) -> Vec<AreaFigure> {
    let levels = [ConfidenceLevel::NinetyFive, ConfidenceLevel::NinetyNinePointEight];
    let series: Vec<(String, HashMap<i64, Computed>, BTreeSet<i64>)> = periods
        .series
        .iter()
        .map(|(period, figures)| {
            let computed = compute(rules, tree, figures);
            let hidden = hidden(rules, tree, &computed, own);
            (period.clone(), computed, hidden)
        })
        .collect();
    let Some((_, now, hidden_now)) = series.last() else { return Vec::new() };
    let shown_value = |id: i64| now.get(&id).and_then(|c| c.value).filter(|_| !hidden_now.contains(&id));
    let london = tree.london();
    let london_value = london.and_then(shown_value);
    let mut ranked: HashMap<i64, (Option<u32>, usize)> = HashMap::new();
    // ICSs rank among the five, boroughs among the 33, neighbourhoods among their borough's.
    let mut groups: Vec<Vec<i64>> =
        [GeographyLevel::Ics, GeographyLevel::Borough].map(|level| tree.of_level(level).map(|a| a.id).collect()).into();
    let mut neighbourhoods: BTreeMap<Option<i64>, Vec<i64>> = BTreeMap::new();
    for a in tree.of_level(GeographyLevel::Neighbourhood) {
        neighbourhoods.entry(a.parent).or_default().push(a.id);
    }
    groups.extend(neighbourhoods.into_values());
    for ids in groups {
        let values: Vec<Option<f64>> = ids.iter().map(|id| shown_value(*id)).collect();
        let count = values.iter().flatten().count();
        for (id, rank) in ids.iter().zip(ranks(&values, rules.polarity)) {
            ranked.insert(*id, (rank, count));
        }
    }
    tree.areas
        .iter()
        .map(|area| {
            let computed = now.get(&area.id).cloned().unwrap_or_else(|| unreachable!("BUG: every area is computed"));
            let suppressed = hidden_now.contains(&area.id);
            let [interval_95, interval_99_8] = levels.map(|l| computed.interval(rules, l).filter(|_| !suppressed));
            let against =
                |benchmark: Option<f64>| [interval_95, interval_99_8].map(|i| compare(i, benchmark, rules.polarity));
            let vs_london = if Some(area.id) == london { [Comparison::NotCompared; 2] } else { against(london_value) };
            let vs_ics = match area.level {
                GeographyLevel::Borough => against(tree.ics_of(area.id).and_then(shown_value)),
                _ => [Comparison::NotCompared; 2],
            };
            let vs_borough = match area.level {
                GeographyLevel::Neighbourhood => against(area.parent.and_then(shown_value)),
                _ => [Comparison::NotCompared; 2],
            };
            let (rank, count) = ranked.get(&area.id).copied().unwrap_or((None, 0));
            let rank = rank.filter(|_| !suppressed);
            let trend = area_trend(rules, &series, area.id, periods.cut_short);
            AreaFigure {
                geography_id: area.id,
                level: area.level,
                computed,
                suppressed,
                interval_95,
                interval_99_8,
                vs_london,
                vs_ics,
                vs_borough,
                rank,
                quintile: rank.and_then(|r| quintile(r, count)),
                trend,
            }
        })
        .collect()
}

/// The trend of one area over the series; the values of periods the viewer may not see
/// are left out of the points shown, and then so are the statistic and its p-value, which
/// with the other points would give the hidden value away.
fn area_trend(
    rules: &MeasureRules,
    series: &[(String, HashMap<i64, Computed>, BTreeSet<i64>)],
    area: i64,
    cut_short: Option<&str>,
) -> Trend {
    let mut points = Vec::new();
    let mut any_hidden = false;
    // The most recent run of consecutive values, oldest first.
    for (period, computed, hidden) in series.iter().rev() {
        let Some(c) = computed.get(&area).filter(|c| c.value.is_some()) else { break };
        any_hidden |= hidden.contains(&area);
        points.push(trend::Point {
            period: period.clone(),
            value: c.value.unwrap_or_default(),
            numerator: c.numerator,
            denominator: c.denominator,
            interval: c.interval(rules, ConfidenceLevel::NinetyFive).map(|i| (i.lower, i.upper)),
            suppressed: false,
        });
    }
    points.reverse();
    let mut judged = if points.len() < trend::POINTS && points.len() == series.len() {
        let why = cut_short.unwrap_or("there are not enough periods");
        Trend::cannot(points, format!("{} consecutive periods are needed: {why}", trend::POINTS))
    } else {
        trend::judge(points, rules.value_type, rules.polarity)
    };
    if any_hidden {
        // A direction judged on hidden values would tell which side of the others they lie.
        judged.direction = crate::values::TrendDirection::CannotBeCalculated;
        judged.assessment = crate::values::TrendAssessment::NoJudgement;
        judged.method = None;
        judged.reason = Some("some of its values are hidden (small numbers), so no trend is given".into());
        judged.statistic = None;
        judged.p_value = None;
        let from = series.len().saturating_sub(judged.points.len());
        for (point, (_, _, hidden)) in judged.points.iter_mut().zip(&series[from..]) {
            point.suppressed = hidden.contains(&area);
        }
    }
    judged
}

#[cfg(test)]
mod tests {
    use super::*;

    // London (100) of ICS 10 (boroughs 1 and 2) and ICS 20 (borough 3).
    fn tree() -> Tree {
        let area = |id, level, parent| Area { id, level, parent };
        Tree {
            areas: vec![
                area(100, GeographyLevel::Region, None),
                area(10, GeographyLevel::Ics, Some(100)),
                area(20, GeographyLevel::Ics, Some(100)),
                area(1, GeographyLevel::Borough, Some(10)),
                area(2, GeographyLevel::Borough, Some(10)),
                area(3, GeographyLevel::Borough, Some(20)),
            ],
        }
    }

    fn rules(value_type: ValueType, multiplier: Option<f64>) -> MeasureRules {
        MeasureRules { value_type, polarity: Polarity::LowIsGood, multiplier, suppress_up_to: None }
    }

    fn figure(value: f64, numerator: Option<f64>, denominator: Option<f64>) -> Figure {
        Figure { value, numerator, denominator, interval: None }
    }

    #[test]
    fn proportions_add_up_as_the_sum_of_numerators_over_the_sum_of_denominators() {
        // 30 of 100 (30%) and 10 of 50 (20%): the ICS is 40 of 150 = 26.667%, not the mean 25%.
        let figures =
            HashMap::from([(1, figure(30.0, Some(30.0), Some(100.0))), (2, figure(20.0, Some(10.0), Some(50.0)))]);
        let c = compute(&rules(ValueType::Proportion, Some(100.0)), &tree(), &figures);
        let ics = &c[&10];
        assert!((ics.value.expect("a value") - 26.666_666_666_666_668).abs() < 1e-9);
        assert_eq!(
            (ics.numerator, ics.denominator, ics.source),
            (Some(40.0), Some(150.0), Some(ValueSource::Aggregated))
        );
        assert_eq!(ics.coverage.as_ref().map(Coverage::reported), Some(2));
        // London has the same two, and says borough 3 is missing; ICS 20 has nothing.
        let london = &c[&100];
        assert_eq!(london.coverage, Some(Coverage { expected: vec![1, 2, 3], missing: vec![3] }));
        assert_eq!(c[&20].value, None);
        assert_eq!(c[&20].coverage, Some(Coverage { expected: vec![3], missing: vec![3] }));
    }

    #[test]
    fn a_value_submitted_for_an_aggregate_area_stands_and_counts_are_summed() {
        let figures =
            HashMap::from([(1, figure(4.0, None, None)), (2, figure(6.0, None, None)), (10, figure(11.0, None, None))]);
        let c = compute(&rules(ValueType::Count, None), &tree(), &figures);
        assert_eq!((c[&10].value, c[&10].source), (Some(11.0), Some(ValueSource::Submitted)));
        assert_eq!((c[&100].value, c[&100].source), (Some(10.0), Some(ValueSource::Aggregated)));
    }

    #[test]
    fn standardised_rates_are_never_added_up_and_a_rate_without_counts_is_missing() {
        let figures = HashMap::from([(1, figure(9.5, Some(20.0), Some(200_000.0))), (2, figure(8.0, None, None))]);
        let dsr = compute(&rules(ValueType::DirectlyStandardisedRate, Some(100_000.0)), &tree(), &figures);
        assert_eq!((dsr[&10].value, dsr[&10].source), (None, None));
        let crude = compute(&rules(ValueType::CrudeRate, Some(100_000.0)), &tree(), &figures);
        assert_eq!(crude[&10].value, Some(10.0));
        assert_eq!(crude[&10].coverage.as_ref().map(|c| c.missing.clone()), Some(vec![2]));
    }

    #[test]
    fn the_picture_compares_ranks_and_judges_against_london() {
        let figures = HashMap::from([
            (1, figure(30.0, Some(300.0), Some(1000.0))),
            (2, figure(20.0, Some(200.0), Some(1000.0))),
            (3, figure(25.0, Some(250.0), Some(1000.0))),
        ]);
        let periods = Periods { series: vec![("2023".into(), figures)], cut_short: None };
        let picture = build(&rules(ValueType::Proportion, Some(100.0)), &tree(), &periods, &|_| false);
        let get = |id| picture.iter().find(|a| a.geography_id == id).expect("an area");
        // London: 750 of 3000 = 25%. Borough 1 (30%, Wilson 27.2-32.9) is worse (low is good),
        // borough 2 (20%) better, borough 3 (25%) similar; ranks by low value.
        assert_eq!(get(100).computed.value, Some(25.0));
        assert_eq!(get(1).vs_london[0], Comparison::Worse);
        assert_eq!(get(2).vs_london[0], Comparison::Better);
        assert_eq!(get(3).vs_london[0], Comparison::Similar);
        assert_eq!((get(2).rank, get(3).rank, get(1).rank), (Some(1), Some(2), Some(3)));
        assert_eq!(get(100).vs_london, [Comparison::NotCompared; 2]);
        assert_eq!(get(1).trend.direction, crate::values::TrendDirection::CannotBeCalculated);
    }
}
