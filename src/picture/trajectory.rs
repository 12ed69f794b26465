//! Judging a commitment: is London's latest value on the straight line from the baseline to
//! the target? This is the usual reading of a dated public health target: progress is
//! expected to be steady, and a value behind the line by its own period is off track.

use chrono::NaiveDate;
use entity::commitment;

use super::load::LondonValue;

use crate::values::{Period, PeriodType, Polarity, TrajectoryStatus};

/// A value at a moment: the last day of the period it describes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub value: f64,
    pub at: NaiveDate,
}

/// The status of a commitment and how far it has come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    pub status: TrajectoryStatus,
    /// The share of the way from baseline to target: 0 at the baseline, 1 at the target,
    /// negative when the value has moved away from the target. `None` without a baseline.
    pub progress: Option<f64>,
}

/// The last day of a stated period, read as the measure's period type or as a calendar year
/// (targets are often "by 2030").
fn end_of(period: Option<&String>, period_type: PeriodType) -> Option<NaiveDate> {
    let period = Period::parse(period?).ok()?;
    period.bounds(period_type).or_else(|| period.bounds(PeriodType::CalendarYear)).map(|b| b.end)
}

/// Judges a commitment on London's figures in the picture (oldest period first): its stated
/// baseline and target, or London's first figure as the baseline when the strategy gives
/// none with a period, since a baseline without a date cannot anchor a line.
pub fn judge_commitment(
    c: &commitment::Model,
    series: &[LondonValue],
    period_type: PeriodType,
    polarity: Polarity,
) -> Judgement {
    let point =
        |value: Option<f64>, period: Option<&String>| Some(Point { value: value?, at: end_of(period, period_type)? });
    let first = series.first().map(|v| Point { value: v.value, at: v.period_end });
    let latest = series.last().map(|v| Point { value: v.value, at: v.period_end });
    let baseline = point(c.baseline_value, c.baseline_period.as_ref()).or(first);
    let target = point(c.target_value, c.target_period.as_ref());
    judge(baseline, target, latest, polarity)
}

/// Judges `latest` against the line from `baseline` to `target`. Which way is better comes
/// from the target itself (below the baseline means lower is the goal), and from the
/// measure's polarity only when there is no baseline to compare with.
pub fn judge(baseline: Option<Point>, target: Option<Point>, latest: Option<Point>, polarity: Polarity) -> Judgement {
    let no_data = Judgement { status: TrajectoryStatus::NoData, progress: None };
    let (Some(target), Some(latest)) = (target, latest) else { return no_data };
    let baseline = baseline.filter(|b| b.value != target.value && b.at < target.at);
    let lower_is_goal = match (baseline, polarity) {
        (Some(b), _) => target.value < b.value,
        (None, Polarity::LowIsGood) => true,
        (None, Polarity::HighIsGood) => false,
        (None, Polarity::NoJudgement) => return no_data,
    };
    let at_least_as_good = |a: f64, b: f64| if lower_is_goal { a <= b } else { a >= b };
    let progress = baseline.map(|b| (latest.value - b.value) / (target.value - b.value));

    let status = if at_least_as_good(latest.value, target.value) {
        TrajectoryStatus::Achieved
    } else if latest.at >= target.at {
        TrajectoryStatus::OffTrack
    } else if let Some(b) = baseline {
        let span = (target.at - b.at).num_days() as f64;
        let elapsed = ((latest.at - b.at).num_days() as f64 / span).clamp(0.0, 1.0);
        let expected = b.value + (target.value - b.value) * elapsed;
        if at_least_as_good(latest.value, expected) { TrajectoryStatus::OnTrack } else { TrajectoryStatus::OffTrack }
    } else {
        // Without a baseline there is no line to be behind: before the target date, a value
        // short of the target is still on track.
        TrajectoryStatus::OnTrack
    };
    Judgement { status, progress }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{Judgement, Point, judge};
    use crate::values::{Polarity, TrajectoryStatus};

    fn at(year: i32, value: f64) -> Point {
        Point { value, at: NaiveDate::from_ymd_opt(year, 8, 31).expect("BUG: test date") }
    }

    // Childhood obesity: 22% in 2017/18 to 19.8% by 2023/24, six years.
    const BASE: f64 = 22.0;
    const TARGET: f64 = 19.8;

    fn obesity(latest: Option<Point>) -> Judgement {
        judge(Some(at(2018, BASE)), Some(at(2024, TARGET)), latest, Polarity::LowIsGood)
    }

    #[test]
    fn no_latest_value_or_no_target_is_no_data() {
        assert_eq!(obesity(None).status, TrajectoryStatus::NoData);
        let no_target = judge(Some(at(2018, BASE)), None, Some(at(2020, 21.0)), Polarity::LowIsGood);
        assert_eq!(no_target.status, TrajectoryStatus::NoData);
    }

    #[test]
    fn a_value_at_or_past_the_target_is_achieved() {
        assert_eq!(obesity(Some(at(2021, 19.8))).status, TrajectoryStatus::Achieved);
        assert_eq!(obesity(Some(at(2022, 19.0))).status, TrajectoryStatus::Achieved);
    }

    #[test]
    fn half_way_in_time_needs_half_the_reduction() {
        // By 2021 (half of six years), the line expects 20.9.
        assert_eq!(obesity(Some(at(2021, 20.9))).status, TrajectoryStatus::OnTrack);
        assert_eq!(obesity(Some(at(2021, 20.8))).status, TrajectoryStatus::OnTrack);
        assert_eq!(obesity(Some(at(2021, 21.2))).status, TrajectoryStatus::OffTrack);
    }

    #[test]
    fn a_target_date_passed_unmet_is_off_track() {
        assert_eq!(obesity(Some(at(2024, 20.0))).status, TrajectoryStatus::OffTrack);
    }

    #[test]
    fn progress_is_the_share_of_the_way_from_baseline_to_target() {
        let progress = |v| obesity(Some(at(2021, v))).progress.expect("has a baseline");
        assert!((progress(22.0) - 0.0).abs() < 1e-9);
        assert!((progress(20.9) - 0.5).abs() < 1e-9);
        assert!((progress(19.8) - 1.0).abs() < 1e-9);
        assert!(progress(23.1) < 0.0, "moving away from the target is negative");
    }

    #[test]
    fn a_rising_target_is_judged_upwards() {
        // Children and young people's mental health access: 30.5% towards 35%.
        let j = judge(Some(at(2018, 30.5)), Some(at(2021, 35.0)), Some(at(2020, 34.0)), Polarity::HighIsGood);
        assert_eq!(j.status, TrajectoryStatus::OnTrack);
        let j = judge(Some(at(2018, 30.5)), Some(at(2021, 35.0)), Some(at(2020, 31.0)), Polarity::HighIsGood);
        assert_eq!(j.status, TrajectoryStatus::OffTrack);
    }

    #[test]
    fn without_a_baseline_polarity_gives_the_direction() {
        // Zero new HIV diagnoses by 2030.
        let hiv = |v| judge(None, Some(at(2030, 0.0)), Some(at(2023, v)), Polarity::LowIsGood);
        assert_eq!(hiv(12.0).status, TrajectoryStatus::OnTrack);
        assert_eq!(hiv(12.0).progress, None);
        assert_eq!(hiv(0.0).status, TrajectoryStatus::Achieved);
        let unjudged = judge(None, Some(at(2030, 0.0)), Some(at(2023, 1.0)), Polarity::NoJudgement);
        assert_eq!(unjudged.status, TrajectoryStatus::NoData);
    }
}
