//! Confidence intervals, computed as the public health profiles compute them (Public Health
//! England, "Technical Guide: Confidence Intervals", and the PHEindicatormethods package):
//!
//! - proportions: the Wilson score interval (Wilson 1927, as given by Newcombe 1998);
//! - crude rates: the Poisson interval of the numerator, by Byar's approximation from 10
//!   events and exactly (from the chi-squared distribution) below 10, divided by the
//!   denominator and scaled by the multiplier;
//! - counts, standardised rates, means and indices: none is computed (an interval of
//!   those needs more than a value, a numerator and a denominator), only one submitted is used.
//!
//! z is the exact normal quantile (1.959964… for 95%, 3.090232… for 99.8%), not 1.96.

use super::stats::{Z_95, Z_99_8, chi_squared_quantile, positive};
use crate::values::{ConfidenceLevel, IntervalMethod, ValueType};

/// Events from which Byar's approximation is used rather than the exact limits.
pub const BYAR_FROM: f64 = 10.0;

/// A confidence interval and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
    pub method: IntervalMethod,
}

impl ConfidenceLevel {
    /// The two-sided normal quantile of the level.
    pub fn z(self) -> f64 {
        match self {
            Self::NinetyFive => Z_95,
            Self::NinetyNinePointEight => Z_99_8,
        }
    }

    /// The probability outside the interval (α): 0.05 or 0.002.
    pub fn alpha(self) -> f64 {
        match self {
            Self::NinetyFive => 0.05,
            Self::NinetyNinePointEight => 0.002,
        }
    }
}

/// The Wilson score interval of `events` out of `trials`, as proportions (0 to 1):
/// (2O + z² ± z√(z² + 4O(1 − O/n))) / 2(n + z²).
pub fn wilson(events: f64, trials: f64, z: f64) -> Option<(f64, f64)> {
    if !positive(trials) || events < 0.0 || events > trials {
        return None;
    }
    let z2 = z * z;
    let spread = z * (z2 + 4.0 * events * (1.0 - events / trials)).sqrt();
    let denominator = 2.0 * (trials + z2);
    Some((((2.0 * events + z2 - spread) / denominator).max(0.0), ((2.0 * events + z2 + spread) / denominator).min(1.0)))
}

/// Byar's approximation to the Poisson limits of an observed count O:
/// O(1 − 1/9O − z/3√O)³ and (O+1)(1 − 1/9(O+1) + z/3√(O+1))³.
pub fn byar(events: f64, z: f64) -> (f64, f64) {
    let lower =
        if events > 0.0 { events * (1.0 - 1.0 / (9.0 * events) - z / (3.0 * events.sqrt())).powi(3) } else { 0.0 };
    let o = events + 1.0;
    let upper = o * (1.0 - 1.0 / (9.0 * o) + z / (3.0 * o.sqrt())).powi(3);
    (lower.max(0.0), upper)
}

/// The exact Poisson limits of an observed count O at level 1 − α, from the chi-squared
/// distribution: χ²(α/2; 2O)/2 and χ²(1 − α/2; 2O + 2)/2 (the lower limit of 0 events is 0).
pub fn exact_poisson(events: f64, alpha: f64) -> (f64, f64) {
    let lower = if events > 0.0 { chi_squared_quantile(alpha / 2.0, 2.0 * events) / 2.0 } else { 0.0 };
    let upper = chi_squared_quantile(1.0 - alpha / 2.0, 2.0 * events + 2.0) / 2.0;
    (lower, upper)
}

/// The interval of a value of `value_type` at `level`: the submitted limits when there are
/// both (and the level is 95%, the level partners submit at), otherwise one computed from
/// the numerator and denominator when the type allows, otherwise none.
pub fn interval(
    value_type: ValueType,
    multiplier: Option<f64>,
    numerator: Option<f64>,
    denominator: Option<f64>,
    submitted: Option<(f64, f64)>,
    level: ConfidenceLevel,
) -> Option<Interval> {
    if level == ConfidenceLevel::NinetyFive
        && let Some((lower, upper)) = submitted
    {
        return Some(Interval { lower, upper, method: IntervalMethod::Submitted });
    }
    let (events, population, scale) = (numerator?, denominator?, multiplier?);
    if !positive(population) || events < 0.0 {
        return None;
    }
    match value_type {
        ValueType::Proportion => wilson(events, population, level.z()).map(|(lower, upper)| Interval {
            lower: lower * scale,
            upper: upper * scale,
            method: IntervalMethod::Wilson,
        }),
        ValueType::CrudeRate => {
            let ((lower, upper), method) = if events >= BYAR_FROM {
                (byar(events, level.z()), IntervalMethod::Byar)
            } else {
                (exact_poisson(events, level.alpha()), IntervalMethod::ExactPoisson)
            };
            Some(Interval { lower: lower / population * scale, upper: upper / population * scale, method })
        }
        ValueType::Count | ValueType::DirectlyStandardisedRate | ValueType::Mean | ValueType::Index => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, digits: i32) -> bool {
        (a - b).abs() < 0.5 * 10f64.powi(-digits)
    }

    // 65 events in 100: p = 0.65. By hand, z = 1.959964: z² = 3.841459,
    // √(3.841459 + 4·65·0.35) = √94.841459 = 9.738658, z·that = 19.087419;
    // (133.841459 ∓ 19.087419) / 207.682918 = 0.552544, 0.736358.
    #[test]
    fn wilson_score_interval_matches_the_hand_computation() {
        let (l, u) = wilson(65.0, 100.0, Z_95).expect("an interval");
        assert!(close(l, 0.552_544, 6) && close(u, 0.736_358, 6), "{l} {u}");
        // At 99.8%, z = 3.090232: z² = 9.549536, √100.549536 = 10.027439, z·that = 30.987122;
        // (139.549536 ∓ 30.987122) / 219.099072 = 0.495495, 0.778354.
        let (l, u) = wilson(65.0, 100.0, Z_99_8).expect("an interval");
        assert!(close(l, 0.495_495, 6) && close(u, 0.778_354, 6), "{l} {u}");
        // None of 50: the lower limit is 0 and the upper z²/(n + z²) = 3.841459/53.841459.
        let (l, u) = wilson(0.0, 50.0, Z_95).expect("an interval");
        assert_eq!(l, 0.0);
        assert!(close(u, 0.071_348, 6), "{u}");
        assert_eq!(wilson(5.0, 0.0, Z_95), None);
        assert_eq!(wilson(6.0, 5.0, Z_95), None);
    }

    // 50 events: 1/450 = 0.002222, z/(3√50) = 1.959964/21.213203 = 0.092394;
    // lower 50·(0.905384)³ = 37.108; upper with 51: 1/459 = 0.002179,
    // 1.959964/(3√51) = 0.091482, 51·(1.089303)³ = 65.920.
    #[test]
    fn byars_limits_match_the_hand_computation() {
        let (l, u) = byar(50.0, Z_95);
        assert!(close(l, 37.108, 3) && close(u, 65.920, 3), "{l} {u}");
        // At 99.8%: z/(3√50) = 3.090232/21.213203 = 0.145675, 50·(0.852103)³ = 30.935;
        // 3.090232/(3√51) = 0.144240, 51·(1.142061)³ = 75.969.
        let (l, u) = byar(50.0, Z_99_8);
        assert!(close(l, 30.935, 3) && close(u, 75.969, 3), "{l} {u}");
    }

    // The exact limits of small counts, as tables of Poisson confidence limits give them:
    // 0 → (0, 3.689), 5 → (1.623, 11.668), 9 → (4.115, 17.085) at 95%;
    // 5 → (0.739, 16.455) at 99.8%.
    #[test]
    fn exact_poisson_limits_match_published_tables() {
        let (l, u) = exact_poisson(0.0, 0.05);
        assert_eq!(l, 0.0);
        assert!(close(u, 3.689, 3), "{u}");
        let (l, u) = exact_poisson(5.0, 0.05);
        assert!(close(l, 1.623, 3) && close(u, 11.668, 3), "{l} {u}");
        let (l, u) = exact_poisson(9.0, 0.05);
        assert!(close(l, 4.115, 3) && close(u, 17.085, 3), "{l} {u}");
        let (l, u) = exact_poisson(5.0, 0.002);
        assert!(close(l, 0.739, 3) && close(u, 16.455, 3), "{l} {u}");
    }

    #[test]
    fn a_rate_uses_byar_from_ten_events_and_exact_limits_below() {
        let rate = |events, level| {
            interval(ValueType::CrudeRate, Some(100_000.0), Some(events), Some(200_000.0), None, level)
                .expect("an interval")
        };
        let ten = rate(10.0, ConfidenceLevel::NinetyFive);
        assert_eq!(ten.method, IntervalMethod::Byar);
        let nine = rate(9.0, ConfidenceLevel::NinetyFive);
        assert_eq!(nine.method, IntervalMethod::ExactPoisson);
        // 9 events in 200,000 per 100,000: (4.115373, 17.084803) / 2.
        assert!(close(nine.lower, 2.0577, 4) && close(nine.upper, 8.5424, 4), "{nine:?}");
    }

    #[test]
    fn submitted_limits_stand_and_types_that_do_not_add_up_get_none() {
        let given = interval(
            ValueType::Proportion,
            Some(100.0),
            Some(65.0),
            Some(100.0),
            Some((50.0, 80.0)),
            ConfidenceLevel::NinetyFive,
        )
        .expect("kept");
        assert_eq!((given.lower, given.upper, given.method), (50.0, 80.0, IntervalMethod::Submitted));
        // At 99.8% the submitted 95% limits cannot serve; Wilson's can.
        let wider = interval(
            ValueType::Proportion,
            Some(100.0),
            Some(65.0),
            Some(100.0),
            Some((50.0, 80.0)),
            ConfidenceLevel::NinetyNinePointEight,
        )
        .expect("computed");
        assert_eq!(wider.method, IntervalMethod::Wilson);
        assert!(close(wider.lower, 49.5495, 4), "{wider:?}");
        for t in [ValueType::Count, ValueType::DirectlyStandardisedRate, ValueType::Mean, ValueType::Index] {
            assert_eq!(interval(t, Some(100.0), Some(5.0), Some(10.0), None, ConfidenceLevel::NinetyFive), None);
        }
    }
}
