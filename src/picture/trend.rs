//! Recent trends, as the public health profiles judge them: over an area's five most recent
//! consecutive periods (no gap, no series break among them),
//!
//! - for proportions with their numerators and denominators, the chi-squared test for trend
//!   (Cochran-Armitage) with time scores 1 to 5, one degree of freedom:
//!   T = Σ tᵢOᵢ − R Σ tᵢnᵢ / N, V = p̄(1 − p̄)(Σ nᵢtᵢ² − (Σ nᵢtᵢ)² / N), χ² = T² / V,
//!   where R = Σ Oᵢ, N = Σ nᵢ and p̄ = R / N;
//! - otherwise, a weighted least-squares regression of the values on time, each point
//!   weighted by 1 / SEᵢ², its standard error read from its 95% interval as
//!   (upper − lower) / (2 × 1.959964): slope b = Σ wᵢ(tᵢ − t̄)(yᵢ − ȳ) / Σ wᵢ(tᵢ − t̄)², its
//!   standard error 1 / √(Σ wᵢ(tᵢ − t̄)²), and z = b / SE(b).
//!
//! A trend is significant at p < 0.002 (the 99.8% level the profiles use for trends), and
//! is reported only when its direction survives leaving out each point in turn: the same
//! test on each set of four must move the same way (not necessarily significantly), so that
//! one unusual value cannot make a trend on its own.

use super::stats::{Z_95, chi_squared_upper_tail, normal_two_sided_p, positive};
use crate::values::{Polarity, TrendAssessment, TrendDirection, TrendMethod, ValueType};

/// The number of consecutive periods a trend is judged over.
pub const POINTS: usize = 5;
/// The significance level of a trend.
pub const SIGNIFICANCE: f64 = 0.002;

/// One period's value, with what the methods need.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub period: String,
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    /// The 95% interval, submitted or computed.
    pub interval: Option<(f64, f64)>,
    /// The value is one the viewer may not see (the trend is judged on it all the same).
    pub suppressed: bool,
}

/// The judgement of a trend, and what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub direction: TrendDirection,
    pub assessment: TrendAssessment,
    pub method: Option<TrendMethod>,
    /// χ² for the chi-squared test for trend, z for the regression.
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    /// The points used, oldest first (empty when there were too few).
    pub points: Vec<Point>,
    /// Why no trend could be calculated, or why a significant one was not reported.
    pub reason: Option<String>,
}

impl Trend {
    pub fn cannot(points: Vec<Point>, reason: impl Into<String>) -> Self {
        Self {
            direction: TrendDirection::CannotBeCalculated,
            assessment: TrendAssessment::NoJudgement,
            method: None,
            statistic: None,
            p_value: None,
            points,
            reason: Some(reason.into()),
        }
    }
}

/// A test's answer: the signed effect (its sign is the direction), the statistic and p.
#[derive(Debug, Clone, Copy)]
struct Test {
    effect: f64,
    statistic: f64,
    p: f64,
}

/// One of the two tests.
type TestFn = fn(&[Point]) -> Option<Test>;

fn chi_squared_for_trend(points: &[Point]) -> Option<Test> {
    let mut data = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let (o, n) = (p.numerator?, p.denominator?);
        if !positive(n) || o < 0.0 || o > n {
            return None;
        }
        data.push((i as f64 + 1.0, o, n));
    }
    let total: f64 = data.iter().map(|d| d.2).sum();
    let events: f64 = data.iter().map(|d| d.1).sum();
    let p_bar = events / total;
    let sum_tn: f64 = data.iter().map(|(t, _, n)| t * n).sum();
    let sum_t2n: f64 = data.iter().map(|(t, _, n)| t * t * n).sum();
    let sum_to: f64 = data.iter().map(|(t, o, _)| t * o).sum();
    let effect = sum_to - events * sum_tn / total;
    let variance = p_bar * (1.0 - p_bar) * (sum_t2n - sum_tn * sum_tn / total);
    if !positive(variance) {
        // Every proportion 0 or every one 1: nothing moves.
        return Some(Test { effect: 0.0, statistic: 0.0, p: 1.0 });
    }
    let chi2 = effect * effect / variance;
    Some(Test { effect, statistic: chi2, p: chi_squared_upper_tail(chi2, 1.0) })
}

fn weighted_regression(points: &[Point]) -> Option<Test> {
    let mut data = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let (lower, upper) = p.interval?;
        let se = (upper - lower) / (2.0 * Z_95);
        if !positive(se) || !p.value.is_finite() {
            return None;
        }
        data.push((i as f64 + 1.0, p.value, 1.0 / (se * se)));
    }
    let weight: f64 = data.iter().map(|d| d.2).sum();
    let t_bar = data.iter().map(|(t, _, w)| w * t).sum::<f64>() / weight;
    let y_bar = data.iter().map(|(_, y, w)| w * y).sum::<f64>() / weight;
    let sxx: f64 = data.iter().map(|(t, _, w)| w * (t - t_bar) * (t - t_bar)).sum();
    let sxy: f64 = data.iter().map(|(t, y, w)| w * (t - t_bar) * (y - y_bar)).sum();
    if !positive(sxx) {
        return None;
    }
    let slope = sxy / sxx;
    let z = slope * sxx.sqrt();
    Some(Test { effect: slope, statistic: z, p: normal_two_sided_p(z) })
}

/// Judges the trend of `points` (oldest first, consecutive, no break among them).
pub fn judge(points: Vec<Point>, value_type: ValueType, polarity: Polarity) -> Trend {
    if points.len() < POINTS {
        let reason = format!("{POINTS} consecutive periods are needed; {} were found", points.len());
        return Trend::cannot(points, reason);
    }
    let proportions =
        value_type == ValueType::Proportion && points.iter().all(|p| p.numerator.is_some() && p.denominator.is_some());
    let (method, test): (TrendMethod, TestFn) = if proportions {
        (TrendMethod::ChiSquaredForTrend, chi_squared_for_trend)
    } else {
        (TrendMethod::WeightedRegression, weighted_regression)
    };
    let Some(full) = test(&points) else {
        return Trend::cannot(
            points,
            "every value needs a 95% interval (or, for a proportion, its numerator and denominator)",
        );
    };
    let mut trend = Trend {
        direction: TrendDirection::NoSignificantChange,
        assessment: TrendAssessment::NoJudgement,
        method: Some(method),
        statistic: Some(full.statistic),
        p_value: Some(full.p),
        points,
        reason: None,
    };
    let significant = full.p < SIGNIFICANCE;
    if !significant || full.effect == 0.0 {
        return trend;
    }
    let rising = full.effect > 0.0;
    let robust = (0..trend.points.len()).all(|left_out| {
        let rest: Vec<Point> =
            trend.points.iter().enumerate().filter(|(i, _)| *i != left_out).map(|(_, p)| p.clone()).collect();
        test(&rest).is_some_and(|t| t.effect != 0.0 && (t.effect > 0.0) == rising)
    });
    if !robust {
        trend.reason = Some("significant, but the direction does not hold when one of the points is left out".into());
        return trend;
    }
    trend.direction = if rising { TrendDirection::Increasing } else { TrendDirection::Decreasing };
    trend.assessment = match (polarity, rising) {
        (Polarity::HighIsGood, true) | (Polarity::LowIsGood, false) => TrendAssessment::GettingBetter,
        (Polarity::HighIsGood, false) | (Polarity::LowIsGood, true) => TrendAssessment::GettingWorse,
        (Polarity::NoJudgement, _) => TrendAssessment::NoJudgement,
    };
    trend
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proportion(i: usize, events: f64, trials: f64) -> Point {
        Point {
            period: format!("{}", 2019 + i),
            value: events / trials * 100.0,
            numerator: Some(events),
            denominator: Some(trials),
            interval: None,
            suppressed: false,
        }
    }

    fn proportions(counts: &[(f64, f64)]) -> Vec<Point> {
        counts.iter().enumerate().map(|(i, (o, n))| proportion(i, *o, *n)).collect()
    }

    // 100, 120, 140, 160, 180 of 1,000 each. By hand: N = 5,000, R = 700, p̄ = 0.14;
    // Σtn = 15,000, Σt²n = 55,000, Σto = 2,300; T = 2,300 − 700·15,000/5,000 = 200;
    // V = 0.14·0.86·(55,000 − 45,000) = 1,204; χ² = 40,000 / 1,204 = 33.2226.
    #[test]
    fn a_steady_rise_in_a_proportion_is_increasing_by_the_chi_squared_test_for_trend() {
        let points =
            proportions(&[(100.0, 1000.0), (120.0, 1000.0), (140.0, 1000.0), (160.0, 1000.0), (180.0, 1000.0)]);
        let t = judge(points, ValueType::Proportion, Polarity::LowIsGood);
        assert_eq!(t.method, Some(TrendMethod::ChiSquaredForTrend));
        assert!((t.statistic.expect("χ²") - 33.2226).abs() < 1e-4, "{t:?}");
        assert!(t.p_value.expect("p") < 1e-7);
        assert_eq!(t.direction, TrendDirection::Increasing);
        assert_eq!(t.assessment, TrendAssessment::GettingWorse);
        let t = judge(t.points.into_iter().rev().collect(), ValueType::Proportion, Polarity::LowIsGood);
        assert_eq!(t.direction, TrendDirection::Decreasing);
        assert_eq!(t.assessment, TrendAssessment::GettingBetter);
    }

    // 100, 104, 100, 104, 108 of 1,000. By hand: Σto = 100 + 208 + 300 + 416 + 540 = 1,564,
    // R = 516, T = 1,564 − 516·3 = 16; V = 0.1032·0.8968·10,000 = 925.498;
    // χ² = 256 / 925.498 = 0.27661, p = 0.599: no significant change.
    #[test]
    fn a_small_movement_is_no_significant_change() {
        let points =
            proportions(&[(100.0, 1000.0), (104.0, 1000.0), (100.0, 1000.0), (104.0, 1000.0), (108.0, 1000.0)]);
        let t = judge(points, ValueType::Proportion, Polarity::LowIsGood);
        assert!((t.statistic.expect("χ²") - 0.27661).abs() < 1e-4, "{t:?}");
        assert!((t.p_value.expect("p") - 0.599).abs() < 1e-3, "{t:?}");
        assert_eq!(t.direction, TrendDirection::NoSignificantChange);
        assert_eq!(t.assessment, TrendAssessment::NoJudgement);
    }

    // One high last value makes the whole series significant (T = 200, V = 1,056,
    // χ² = 37.879, p = 7.5e-10),
    // but without it the other four are flat: the trend is not reported.
    #[test]
    fn a_trend_made_by_one_point_does_not_survive_leaving_it_out() {
        let points =
            proportions(&[(100.0, 1000.0), (100.0, 1000.0), (100.0, 1000.0), (100.0, 1000.0), (200.0, 1000.0)]);
        let t = judge(points, ValueType::Proportion, Polarity::LowIsGood);
        assert!(t.p_value.expect("p") < SIGNIFICANCE, "{t:?}");
        assert_eq!(t.direction, TrendDirection::NoSignificantChange);
        assert!(t.reason.expect("says why").contains("left out"));
    }

    // Values 10, 12, 14, 16, 18, each with a 95% interval ±1.959964 (SE 1, weight 1): an
    // ordinary regression, slope 2, SE(b) = 1/√10, z = 2√10 = 6.3246, p = 2.5e-10.
    #[test]
    fn other_values_are_judged_by_weighted_regression_on_their_intervals() {
        let points: Vec<Point> = (0..5)
            .map(|i| {
                let v = 10.0 + 2.0 * i as f64;
                Point {
                    period: format!("{}", 2019 + i),
                    value: v,
                    numerator: None,
                    denominator: None,
                    interval: Some((v - Z_95, v + Z_95)),
                    suppressed: false,
                }
            })
            .collect();
        let t = judge(points, ValueType::DirectlyStandardisedRate, Polarity::HighIsGood);
        assert_eq!(t.method, Some(TrendMethod::WeightedRegression));
        assert!((t.statistic.expect("z") - 6.324_555).abs() < 1e-5, "{t:?}");
        assert_eq!(t.direction, TrendDirection::Increasing);
        assert_eq!(t.assessment, TrendAssessment::GettingBetter);
        let unjudged = judge(t.points.clone(), ValueType::DirectlyStandardisedRate, Polarity::NoJudgement);
        assert_eq!(
            (unjudged.direction, unjudged.assessment),
            (TrendDirection::Increasing, TrendAssessment::NoJudgement)
        );
    }

    #[test]
    fn too_few_points_or_missing_intervals_cannot_be_calculated() {
        let four = proportions(&[(1.0, 10.0), (2.0, 10.0), (3.0, 10.0), (4.0, 10.0)]);
        assert_eq!(
            judge(four, ValueType::Proportion, Polarity::LowIsGood).direction,
            TrendDirection::CannotBeCalculated
        );
        let bare: Vec<Point> = (0..5)
            .map(|i| Point {
                period: i.to_string(),
                value: 1.0,
                numerator: None,
                denominator: None,
                interval: None,
                suppressed: false,
            })
            .collect();
        let t = judge(bare, ValueType::Mean, Polarity::LowIsGood);
        assert_eq!(t.direction, TrendDirection::CannotBeCalculated);
        assert!(t.reason.is_some());
    }
}
