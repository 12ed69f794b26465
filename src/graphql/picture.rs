//! `Picture`, `AreaValue`, `Trend` and `Coverage`: the pan-London picture of one measure in
//! one period, computed by `picture` from approved values. Every figure names its method
//! in its description.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{case_study, series_break};
use tokio::sync::OnceCell;

use super::{
    OrGql, case_study::CaseStudy, cost, geography::Geography, measure::Measure, request, scalars::PeriodScalar,
};
use crate::{
    picture::{
        build::{AreaFigure, Coverage as CoverageFigures},
        intervals::Interval as IntervalFigures,
        load,
        trend::{Point, Trend as TrendFigures},
    },
    values::{
        AggregationMethod, Comparison, ConfidenceLevel, GeographyLevel, IntervalMethod, Period, TrendAssessment,
        TrendDirection, TrendMethod, ValueSource, ValueType,
    },
};

/// The picture of `measure` in `period` (or the latest), as of `as_of` (or now), as the
/// caller may see it. A period of another type than the measure's is a `BAD_USER_INPUT`.
pub async fn load(
    ctx: &Context<'_>,
    measure: entity::measure::Model,
    period: Option<Period>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Picture> {
    let r = request(ctx);
    if let Some(p) = &period {
        let period_type = crate::values::PeriodType::parse(&measure.period_type)
            .map_err(|e| crate::error::AppError::Internal(e.to_string()))
            .gql()?;
        if !p.fits(period_type) {
            return Err(crate::error::AppError::BadUserInput(format!(
                "'{p}' is not a period of {}, whose values are reported by {period_type}",
                measure.slug
            )))
            .gql();
        }
    }
    let picture = load::picture(&r.db, measure, period, as_of, &r.visibility).await.gql()?;
    Ok(Picture::new(picture))
}

/// The most case studies shown beside one area's figure.
pub const AREA_CASE_STUDIES: usize = 20;

/// The published case studies of the picture's priority, by area, loaded once a picture.
type CaseStudiesByArea = HashMap<i64, Vec<case_study::Model>>;

/// The pan-London picture of one measure in one period, from approved values: London, the
/// five ICSs and the 33 boroughs, each compared with London, ranked, and with its trend.
#[derive(Clone)]
pub struct Picture {
    inner: Arc<load::Picture>,
    case_studies: Arc<OnceCell<CaseStudiesByArea>>,
}

impl Picture {
    pub fn new(picture: load::Picture) -> Self {
        Self { inner: Arc::new(picture), case_studies: Arc::new(OnceCell::new()) }
    }

    fn area_value(&self, figure: &AreaFigure) -> Option<AreaValue> {
        let geography = self.inner.geographies.get(&figure.geography_id)?.clone();
        Some(AreaValue { picture: self.clone(), figure: figure.clone(), geography })
    }

    /// The trend of the area with this ONS code, if it is in the picture.
    pub fn trend_of(&self, code: &str) -> Option<Trend> {
        let id = self.inner.geographies.values().find(|g| g.code == code)?.id;
        self.inner.area(id).map(|a| Trend(a.trend.clone()))
    }

    fn level(&self, level: GeographyLevel) -> Vec<AreaValue> {
        self.inner.of_level(level).filter_map(|f| self.area_value(f)).collect()
    }

    fn coverage_of(&self, figures: &CoverageFigures) -> Coverage {
        let missing = figures
            .missing
            .iter()
            .filter_map(|id| self.inner.geographies.get(id).cloned())
            .map(Geography::from)
            .collect();
        Coverage { expected: figures.expected.len() as i32, reported: figures.reported() as i32, missing }
    }
}

/// The pan-London picture of one measure in one period, from approved values: London, the
/// five ICSs and the 33 boroughs, each compared with London, ranked, and with its trend.
#[Object]
impl Picture {
    /// The measure pictured.
    async fn measure(&self) -> Measure {
        Measure(self.inner.measure.clone())
    }

    /// The period pictured: the one asked for, or the latest with an approved value. Null
    /// when the measure has no approved value (as of `asOf`).
    async fn period(&self) -> Option<PeriodScalar> {
        self.inner.period.as_deref().and_then(|p| Period::parse(p).ok()).map(PeriodScalar)
    }

    /// The moment the picture was asked as of (null: now). Only revisions approved by then count.
    async fn as_of(&self) -> Option<super::scalars::Timestamp> {
        self.inner.as_of.map(super::scalars::Timestamp)
    }

    /// What kind of statistic the values are; it decides aggregation and intervals.
    async fn value_type(&self) -> ValueType {
        self.inner.rules.value_type
    }

    /// How London and the ICSs are added up from the boroughs when no value was submitted
    /// for them: `RATIO_OF_SUMS` (the sum of the numerators over the sum of the
    /// denominators, times the multiplier; never an average of rates), `SUM` (counts), or
    /// `NOT_AGGREGATED` (standardised rates, means and indices cannot be added up: only
    /// values submitted for an area itself are shown).
    async fn aggregation(&self) -> AggregationMethod {
        self.inner.aggregation()
    }

    /// London: as submitted for London, or added up from the 33 boroughs.
    async fn london(&self) -> Option<AreaValue> {
        self.level(GeographyLevel::Region).into_iter().next()
    }

    /// The five Integrated Care Systems, each as submitted or added up from its boroughs.
    #[graphql(complexity = "cost::list(5, child_complexity)")]
    async fn ics(&self) -> Vec<AreaValue> {
        self.level(GeographyLevel::Ics)
    }

    /// The 33 boroughs (32 London boroughs and the City of London).
    #[graphql(complexity = "cost::list(33, child_complexity)")]
    async fn boroughs(&self) -> Vec<AreaValue> {
        self.level(GeographyLevel::Borough)
    }

    /// Neighbourhoods (wards or Primary Care Networks imported under a borough): those of
    /// one borough, or all. Each has only the values submitted for it (neighbourhoods are not
    /// added up into their borough), is compared with London and with its borough
    /// (`comparedToBorough`), and ranked among its borough's neighbourhoods.
    #[graphql(complexity = "cost::list(50, child_complexity)")]
    async fn neighbourhoods(
        &self,
        #[graphql(desc = "The borough's ONS code; all neighbourhoods when omitted.")] borough: Option<String>,
    ) -> Vec<AreaValue> {
        let parent = borough.and_then(|code| self.inner.geographies.values().find(|g| g.code == code).map(|g| g.id));
        self.inner
            .of_level(GeographyLevel::Neighbourhood)
            .filter(|f| {
                parent.is_none_or(|p| self.inner.geographies.get(&f.geography_id).and_then(|g| g.parent_id) == Some(p))
            })
            .filter_map(|f| self.area_value(f))
            .collect()
    }

    /// Which boroughs have an approved value usable for adding up (for a ratio, one with its
    /// numerator and denominator), out of the 33, and which are missing.
    async fn coverage(&self) -> Coverage {
        let london = self.inner.of_level(GeographyLevel::Region).next().and_then(|a| a.computed.coverage.clone());
        self.coverage_of(&london.unwrap_or_default())
    }

    /// The series break the pictured period's series starts at, if the measure's definition
    /// changed at or before it: trends never reach back past it.
    async fn series_break(&self) -> Option<SeriesBreak> {
        self.inner.series_break.clone().map(SeriesBreak)
    }
}

/// One area's figure in the picture.
#[derive(Clone)]
pub struct AreaValue {
    picture: Picture,
    figure: AreaFigure,
    geography: entity::geography::Model,
}

impl AreaValue {
    fn interval_at(&self, level: ConfidenceLevel) -> Option<IntervalFigures> {
        match level {
            ConfidenceLevel::NinetyFive => self.figure.interval_95,
            ConfidenceLevel::NinetyNinePointEight => self.figure.interval_99_8,
        }
    }

    fn shown<T>(&self, value: Option<T>) -> Option<T> {
        if self.figure.suppressed { None } else { value }
    }
}

fn level_index(level: ConfidenceLevel) -> usize {
    match level {
        ConfidenceLevel::NinetyFive => 0,
        ConfidenceLevel::NinetyNinePointEight => 1,
    }
}

/// One area's figure in the picture.
#[Object]
impl AreaValue {
    /// The area.
    async fn geography(&self) -> Geography {
        Geography::from(self.geography.clone())
    }

    /// The value, in the measure's unit: as submitted and approved, or added up (see
    /// `source`). Null when there is none, or when it is suppressed.
    async fn value(&self) -> Option<f64> {
        self.shown(self.figure.computed.value)
    }

    /// The numerator (events or people counted); for an added-up value, the sum of the
    /// boroughs'. Null when suppressed.
    async fn numerator(&self) -> Option<f64> {
        self.shown(self.figure.computed.numerator)
    }

    /// The denominator (the population); for an added-up value, the sum of the boroughs'.
    /// Null when suppressed, so that it never helps work a hidden count out.
    async fn denominator(&self) -> Option<f64> {
        self.shown(self.figure.computed.value.and(self.figure.computed.denominator))
    }

    /// The lower 95% confidence limit: as submitted, or computed (see `interval`).
    async fn lower_ci(&self) -> Option<f64> {
        self.figure.interval_95.map(|i| i.lower)
    }

    /// The upper 95% confidence limit: as submitted, or computed (see `interval`).
    async fn upper_ci(&self) -> Option<f64> {
        self.figure.interval_95.map(|i| i.upper)
    }

    /// The confidence interval at a level, and how it was obtained: as submitted (95% only),
    /// or computed from the numerator and denominator: Wilson score for proportions; for
    /// crude rates, Byar's approximation from 10 events and the exact Poisson limits
    /// (chi-squared) below 10; z = 1.959964 (95%) or 3.090232 (99.8%). None for counts,
    /// standardised rates, means and indices without submitted limits.
    async fn interval(
        &self,
        #[graphql(
            default_with = "ConfidenceLevel::NinetyFive",
            desc = "The confidence level: 95% unless asked for 99.8%."
        )]
        level: ConfidenceLevel,
    ) -> Option<Interval> {
        self.interval_at(level).map(|i| Interval { lower: i.lower, upper: i.upper, level, method: i.method })
    }

    /// Compared with London: the area's interval at `level` (95% unless asked) against
    /// London's value. `BETTER`/`WORSE` by the measure's polarity when the interval lies
    /// wholly on one side, `LOWER`/`HIGHER` when the measure has no judgement, `SIMILAR`
    /// when it contains London's value, `NOT_COMPARED` without an interval, without a
    /// London value, for London itself, or when suppressed.
    async fn compared_to_london(
        &self,
        #[graphql(
            default_with = "ConfidenceLevel::NinetyFive",
            desc = "The level of the area's interval the comparison is made at: 95% unless asked for 99.8%."
        )]
        level: ConfidenceLevel,
    ) -> Comparison {
        self.figure.vs_london[level_index(level)]
    }

    /// A borough compared with its ICS, in the same way as with London; `NOT_COMPARED` for
    /// London and the ICSs.
    async fn compared_to_ics(
        &self,
        #[graphql(
            default_with = "ConfidenceLevel::NinetyFive",
            desc = "The level of the area's interval the comparison is made at: 95% unless asked for 99.8%."
        )]
        level: ConfidenceLevel,
    ) -> Comparison {
        self.figure.vs_ics[level_index(level)]
    }

    /// A neighbourhood compared with its borough, in the same way as with London;
    /// `NOT_COMPARED` for other areas.
    async fn compared_to_borough(
        &self,
        #[graphql(
            default_with = "ConfidenceLevel::NinetyFive",
            desc = "The level of the area's interval the comparison is made at: 95% unless asked for 99.8%."
        )]
        level: ConfidenceLevel,
    ) -> Comparison {
        self.figure.vs_borough[level_index(level)]
    }

    /// The rank among the areas of the same level with a value shown (boroughs among the
    /// 33, ICSs among the 5, neighbourhoods among their borough's): 1 is the best by polarity (the lowest value when the measure
    /// has no judgement); tied values share the best rank of the tie, and the next value
    /// skips the places they took ("1, 2, 2, 4"). Null for London, and when suppressed.
    async fn rank(&self) -> Option<i32> {
        self.figure.rank.map(|r| r as i32)
    }

    /// The quintile by rank: ⌊5 (rank − 1) / n⌋ + 1 among the n areas ranked, so quintile 1
    /// holds the best fifth by polarity (the lowest fifth when the measure has no
    /// judgement) and ties share a quintile. Of 33 boroughs, quintiles hold 7, 7, 6, 7, 6.
    async fn quintile(&self) -> Option<i32> {
        self.figure.quintile.map(|q| q as i32)
    }

    /// Where the value comes from: `SUBMITTED` for the area itself, or `AGGREGATED` from
    /// the boroughs under it. Null when there is no value.
    async fn source(&self) -> Option<ValueSource> {
        self.figure.computed.source
    }

    /// Whether the figure is hidden by the measure's disclosure rule (small counts, and the
    /// figures that would give them away by subtraction). Partners always see their own areas.
    async fn suppressed(&self) -> bool {
        self.figure.suppressed
    }

    /// For London and the ICSs: the boroughs expected, those reported, and those missing.
    async fn coverage(&self) -> Option<Coverage> {
        self.figure.computed.coverage.as_ref().map(|c| self.picture.coverage_of(c))
    }

    /// How the area's values have moved over its five most recent consecutive periods.
    async fn trend(&self) -> Trend {
        Trend(self.figure.trend.clone())
    }

    /// Published case studies of this area and the measure's priority.
    #[graphql(complexity = "cost::list(AREA_CASE_STUDIES, child_complexity)")]
    async fn case_studies(&self, ctx: &Context<'_>) -> Result<Vec<CaseStudy>> {
        let picture = &self.picture;
        let Some(priority) = picture.inner.measure.priority_id else { return Ok(Vec::new()) };
        let db = &request(ctx).db;
        let by_area = picture
            .case_studies
            .get_or_try_init(|| async { crate::catalogue::case_studies::published_by_area(db, priority).await })
            .await
            .gql()?;
        Ok(by_area
            .get(&self.geography.id)
            .map(|list| list.iter().take(AREA_CASE_STUDIES).cloned().map(CaseStudy).collect())
            .unwrap_or_default())
    }
}

/// A confidence interval.
#[derive(SimpleObject)]
pub struct Interval {
    /// The lower limit, in the measure's unit.
    pub lower: f64,
    /// The upper limit, in the measure's unit.
    pub upper: f64,
    /// The confidence level: 95% or 99.8%.
    pub level: ConfidenceLevel,
    /// `SUBMITTED`, `WILSON`, `BYAR` or `EXACT_POISSON`.
    pub method: IntervalMethod,
}

/// Which areas an aggregate covers.
#[derive(SimpleObject)]
pub struct Coverage {
    /// The boroughs it is made of.
    pub expected: i32,
    /// Those with an approved value usable for adding up.
    pub reported: i32,
    /// Those without.
    pub missing: Vec<Geography>,
}

/// A trend, as the public health profiles judge one.
pub struct Trend(pub TrendFigures);

/// A trend, as the public health profiles judge one.
#[Object]
impl Trend {
    /// `INCREASING` or `DECREASING` when significant at p < 0.002 and the direction holds
    /// when each point is left out in turn; `NO_SIGNIFICANT_CHANGE`; or
    /// `CANNOT_BE_CALCULATED` (fewer than five consecutive values, a series break, or
    /// values without what the method needs).
    async fn direction(&self) -> TrendDirection {
        self.0.direction
    }

    /// Whether the movement is for the better, by the measure's polarity.
    async fn assessment(&self) -> TrendAssessment {
        self.0.assessment
    }

    /// `CHI_SQUARED_FOR_TREND` (proportions with numerators and denominators: the
    /// Cochran-Armitage test, time scores 1 to 5) or `WEIGHTED_REGRESSION` (other values:
    /// least squares weighted by the inverse variance read from the 95% intervals).
    async fn method(&self) -> Option<TrendMethod> {
        self.0.method
    }

    /// The test statistic: χ² (one degree of freedom) or z. Null when some of the points
    /// are suppressed for the caller.
    async fn statistic(&self) -> Option<f64> {
        self.0.statistic
    }

    /// The two-sided p-value of the statistic.
    async fn p_value(&self) -> Option<f64> {
        self.0.p_value
    }

    /// The significance level trends are judged at: 0.002.
    async fn significance_level(&self) -> f64 {
        crate::picture::trend::SIGNIFICANCE
    }

    /// Why no trend was calculated, or why a significant one is not reported.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// The points the trend was judged on, oldest first.
    #[graphql(complexity = "cost::list(crate::picture::trend::POINTS, child_complexity)")]
    async fn points(&self) -> Vec<TrendPoint> {
        self.0.points.iter().map(TrendPoint::from).collect()
    }
}

/// One period of a trend.
#[derive(SimpleObject)]
pub struct TrendPoint {
    /// The period of the point.
    pub period: PeriodScalar,
    /// Null when suppressed for the caller.
    pub value: Option<f64>,
    /// Whether the value is hidden from the caller by the measure's disclosure rule.
    pub suppressed: bool,
}

impl From<&Point> for TrendPoint {
    fn from(p: &Point) -> Self {
        let period = Period::parse(&p.period).unwrap_or_else(|_| unreachable!("BUG: a stored period parses"));
        Self { period: PeriodScalar(period), value: (!p.suppressed).then_some(p.value), suppressed: p.suppressed }
    }
}

/// A period from which a measure's definition changed.
pub struct SeriesBreak(pub series_break::Model);

/// A period from which a measure's definition changed.
#[Object]
impl SeriesBreak {
    /// The first period of the new definition.
    async fn period(&self) -> Result<PeriodScalar> {
        Period::parse(&self.0.period).gql().map(PeriodScalar)
    }

    /// What changed.
    async fn note(&self) -> &str {
        &self.0.note
    }

    /// When it was recorded, and by whom.
    async fn created_at(&self) -> super::scalars::Timestamp {
        super::scalars::Timestamp(self.0.created_at)
    }

    /// Who marked it (the subject of their token).
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
}
