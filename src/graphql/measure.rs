//! `Measure` and `Observation`: the outcome measures and the values submitted for them.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use entity::{measure, observation};

use super::{
    OrGql,
    connection::{self, Conn},
    cost,
    geography::Geography,
    ids, loader,
    loaders::{
        CommitmentsOfMeasure, GeographyByCode, GeographyById, HiddenIn, HistoryOf, LockedPeriodsOf, MeasureById,
        ObservationPageOf, PriorityById, SeriesBreaksOf, StatusOfReturn,
    },
    picture::{SeriesBreak, Trend},
    priority::{Commitment, Priority},
    request,
    scalars::PeriodScalar,
};
use crate::{
    error::AppError,
    values::{GeographyLevel, Period, PeriodType, Polarity, ReturnStatus, Unit, ValueType},
};

/// An outcome measure the partnership tracks (Table 1 of the strategy). Values are
/// submitted for it by area and period, and checked against its unit, bounds and period type.
#[derive(Clone)]
pub struct Measure(pub measure::Model);

/// An outcome measure the partnership tracks (Table 1 of the strategy). Values are
/// submitted for it by area and period, and checked against its unit, bounds and period type.
#[Object]
impl Measure {
    /// Global ID, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(ids::NodeType::Measure, self.0.id)
    }

    /// Stable key, e.g. `reception-overweight`; what a return names a measure by.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Name, word for word from Table 1 of the strategy.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Definition: what is counted, among whom, and how.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Unit of the values.
    async fn unit(&self) -> Result<Unit> {
        Unit::parse(&self.0.unit).gql()
    }

    /// Whether a higher or lower value is better.
    async fn polarity(&self) -> Result<Polarity> {
        Polarity::parse(&self.0.polarity).gql()
    }

    /// The one kind of period values are reported for.
    async fn period_type(&self) -> Result<PeriodType> {
        PeriodType::parse(&self.0.period_type).gql()
    }

    /// Lowest value accepted, if bounded below.
    async fn min_value(&self) -> Option<f64> {
        self.0.min_value
    }

    /// Highest value accepted, if bounded above.
    async fn max_value(&self) -> Option<f64> {
        self.0.max_value
    }

    /// What kind of statistic the values are, as the public health profiles class them:
    /// `PROPORTION` (Wilson intervals; added up as a ratio of sums), `CRUDE_RATE` (Byar's
    /// or exact Poisson intervals; added up as a ratio of sums), `COUNT` (summed),
    /// `DIRECTLY_STANDARDISED_RATE`, `MEAN` or `INDEX` (never added up).
    async fn value_type(&self) -> Result<ValueType> {
        ValueType::parse(&self.0.value_type).gql()
    }

    /// The disclosure rule: counts (numerators, or a count's values) from 1 to this number
    /// are hidden from those outside the area, with whatever would give them away by
    /// subtraction. Null: no rule.
    async fn suppress_up_to(&self) -> Option<i32> {
        self.0.suppress_up_to
    }

    /// The periods from which the measure's definition changed, oldest first: trends never
    /// reach back past one.
    #[graphql(complexity = "cost::list(crate::catalogue::measures::MAX_SERIES_BREAKS, child_complexity)")]
    async fn series_breaks(&self, ctx: &Context<'_>) -> Result<Vec<SeriesBreak>> {
        let breaks = loader(ctx).load_one(SeriesBreaksOf(self.0.id)).await.gql()?.unwrap_or_default();
        Ok(breaks.into_iter().map(SeriesBreak).collect())
    }

    /// The trend of one area's values over its five most recent consecutive periods up to
    /// `period` (by default the latest with an approved value), as in the picture.
    #[graphql(complexity = "child_complexity + 10")]
    async fn trend(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area (ONS code).")] geography: String,
        #[graphql(desc = "The last period of the trend; by default the latest.")] period: Option<PeriodScalar>,
    ) -> Result<Option<Trend>> {
        let picture = super::picture::load(ctx, self.0.clone(), period.map(|p| p.0), None).await?;
        Ok(picture.trend_of(&geography))
    }

    /// Whether values must be whole numbers (counts).
    async fn whole_number(&self) -> bool {
        self.0.whole_number
    }

    /// The usual source of the data.
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }

    /// The priority the measure belongs to; null for the two overall population health measures.
    async fn priority(&self, ctx: &Context<'_>) -> Result<Option<Priority>> {
        let Some(id) = self.0.priority_id else { return Ok(None) };
        Ok(loader(ctx).load_one(PriorityById(id)).await.gql()?.map(Priority))
    }

    /// Commitments tracked on this measure.
    #[graphql(complexity = "cost::list(cost::COMMITMENTS, child_complexity)")]
    async fn commitments(&self, ctx: &Context<'_>) -> Result<Vec<Commitment>> {
        let rows = loader(ctx).load_one(CommitmentsOfMeasure(self.0.id)).await.gql()?.unwrap_or_default();
        Ok(connection::sorted_by_id(rows, |c| c.id).into_iter().map(Commitment).collect())
    }

    /// Periods closed to further values, in the order they were locked.
    #[graphql(complexity = "cost::list(cost::LOCKED_PERIODS, child_complexity)")]
    async fn locked_periods(&self, ctx: &Context<'_>) -> Result<Vec<PeriodScalar>> {
        let periods = loader(ctx).load_one(LockedPeriodsOf(self.0.id)).await.gql()?.unwrap_or_default();
        periods.iter().map(|p| Period::parse(p).gql().map(PeriodScalar)).collect()
    }

    /// Current values of this measure, one per area and period: approved values for everyone,
    /// and values in review for partners too.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn observations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this area (ONS code).")] geography: Option<String>,
        #[graphql(desc = "Only this period.")] period: Option<PeriodScalar>,
        #[graphql(desc = "Only areas of this level (for example `BOROUGH`: the 33 boroughs).")] level: Option<
            GeographyLevel,
        >,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Observation>> {
        let args = connection::args(ctx, first, after, last, before)?;
        let l = loader(ctx);
        let geography_id = match geography {
            Some(code) => Some(
                l.load_one(GeographyByCode(code.clone()))
                    .await
                    .gql()?
                    .ok_or_else(|| AppError::NotFound(format!("no geography has the code '{code}'")))
                    .gql()?
                    .id,
            ),
            None => None,
        };
        let key = ObservationPageOf {
            measure_id: self.0.id,
            geography_id,
            period: period.map(|p| p.0.as_str().to_owned()),
            level,
            args,
        };
        let page =
            l.load_one(key).await.gql()?.ok_or_else(|| async_graphql::Error::new("BUG: a page was not loaded"))?;
        let known = prime(ctx, &self.0, &page.items).await?;
        let mut known = known.into_iter();
        let items = page
            .items
            .iter()
            .map(|(cursor, row)| (*cursor, Observation { row: row.clone(), known: known.next().unwrap_or_default() }))
            .collect();
        let page = crate::catalogue::page::Page {
            items,
            has_previous_page: page.has_previous_page,
            has_next_page: page.has_next_page,
            total_count: page.total_count,
        };
        Ok(connection::connection(page, std::convert::identity))
    }
}

/// Works out, for a page of one measure's values at once, what its values' fields will ask
/// for (the measure, the areas, and which figures its disclosure rule hides), so that each
/// value's fields read them from the value itself. Every measure of a list pages at once, so
/// the loads are batched across the list; left to each value's fields, they would be asked for
/// over the whole walk of the answer and split into several batches, and every field would
/// pay a look-up of its own.
async fn prime(ctx: &Context<'_>, m: &measure::Model, items: &[(i64, Arc<observation::Model>)]) -> Result<Vec<Known>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let l = loader(ctx);
    let measure = Arc::new(m.clone());
    let look = ctx.look_ahead();
    let node = |field: &str| {
        look.field("nodes").field(field).exists() || look.field("edges").field("node").field(field).exists()
    };
    let visibility = &request(ctx).visibility;
    let areas = async {
        if node("geography") {
            return Ok(Some(l.load_many(items.iter().map(|(_, o)| GeographyById(o.geography_id))).await.gql()?));
        }
        Ok::<_, async_graphql::Error>(None)
    };
    let needs_rule = ["value", "numerator", "denominator", "lowerCi", "upperCi", "suppressed"].into_iter().any(node);
    let hidden = async {
        if m.suppress_up_to.is_some() && needs_rule {
            let periods: std::collections::BTreeSet<&str> = items
                .iter()
                .filter(|(_, o)| !visibility.sees_review_in(o.geography_id))
                .map(|(_, o)| o.period.as_str())
                .collect();
            let sets = l
                .load_many(periods.into_iter().map(|p| HiddenIn { measure: measure.clone(), period: p.to_owned() }))
                .await
                .gql()?;
            return Ok(Some(sets));
        }
        Ok::<_, async_graphql::Error>(None)
    };
    let (areas, sets) = async_graphql::futures_util::try_join!(areas, hidden)?;
    Ok(items
        .iter()
        .map(|(_, o)| Known {
            measure: Some(measure.clone()),
            geography: areas.as_ref().and_then(|a| a.get(&GeographyById(o.geography_id)).cloned()),
            hidden: match (&sets, m.suppress_up_to) {
                // A measure without a disclosure rule hides nothing.
                (_, None) => Some(false),
                (Some(sets), Some(_)) => Some(is_hidden(visibility, &measure, o, |period| {
                    sets.get(&HiddenIn { measure: measure.clone(), period: period.to_owned() })
                        .is_some_and(|set| set.contains(&o.geography_id))
                })),
                (None, Some(_)) => None,
            },
        })
        .collect())
}

/// Whether the measure's disclosure rule hides the value `o` from a caller who sees
/// `visibility`: never in the caller's own areas; a count from 1 to the rule's limit; or a
/// figure the rule hides so that it cannot be worked out by subtraction (`withheld`, asked of
/// the value's period).
fn is_hidden(
    visibility: &crate::catalogue::Visibility,
    m: &measure::Model,
    o: &observation::Model,
    withheld: impl FnOnce(&str) -> bool,
) -> bool {
    if visibility.sees_review_in(o.geography_id) {
        return false;
    }
    let Some(limit) = m.suppress_up_to.map(f64::from) else { return false };
    let count = if m.value_type == ValueType::Count.as_str() { Some(o.value) } else { o.numerator };
    if count.is_some_and(|c| c > 0.0 && c <= limit) {
        return true;
    }
    withheld(&o.period)
}

/// What a value's page worked out for it (see `prime`); nothing for a value found alone.
#[derive(Clone, Default)]
pub struct Known {
    measure: Option<Arc<measure::Model>>,
    geography: Option<Arc<entity::geography::Model>>,
    hidden: Option<bool>,
}

/// One revision of a value for a measure, area and period. Values are never overwritten: a
/// correction is a new revision, and `history` lists every one.
#[derive(Clone)]
pub struct Observation {
    pub row: Arc<observation::Model>,
    known: Known,
}

impl From<observation::Model> for Observation {
    fn from(row: observation::Model) -> Self {
        Self { row: Arc::new(row), known: Known::default() }
    }
}

impl Observation {
    /// Whether the measure's disclosure rule hides this figure from the caller.
    async fn hidden(&self, ctx: &Context<'_>) -> Result<bool> {
        if let Some(hidden) = self.known.hidden {
            return Ok(hidden);
        }
        let req = request(ctx);
        if req.visibility.sees_review_in(self.row.geography_id) {
            return Ok(false);
        }
        let l = loader(ctx);
        let Some(m) = l.load_one(MeasureById(self.row.measure_id)).await.gql()? else { return Ok(false) };
        let m = Arc::new(m);
        let key = HiddenIn { measure: m.clone(), period: self.row.period.clone() };
        let set = match m.suppress_up_to {
            Some(_) => l.load_one(key).await.gql()?,
            None => None,
        };
        Ok(is_hidden(&req.visibility, &m, &self.row, |_| set.is_some_and(|s| s.contains(&self.row.geography_id))))
    }

    async fn unless_hidden(&self, ctx: &Context<'_>, value: Option<f64>) -> Result<Option<f64>> {
        if value.is_none() || self.hidden(ctx).await? { Ok(None) } else { Ok(value) }
    }
}

/// One revision of a value for a measure, area and period. Values are never overwritten: a
/// correction is a new revision, and `history` lists every one.
#[Object]
impl Observation {
    /// Global ID, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(ids::NodeType::Observation, self.row.id)
    }

    /// The measure this is a value of.
    async fn measure(&self, ctx: &Context<'_>) -> Result<Measure> {
        if let Some(m) = &self.known.measure {
            return Ok(Measure(m.as_ref().clone()));
        }
        loader(ctx)
            .load_one(MeasureById(self.row.measure_id))
            .await
            .gql()?
            .map(Measure)
            .ok_or_else(|| async_graphql::Error::new("BUG: observation without its measure"))
    }

    /// The area the value describes.
    async fn geography(&self, ctx: &Context<'_>) -> Result<Geography> {
        if let Some(g) = &self.known.geography {
            return Ok(Geography(g.clone()));
        }
        loader(ctx)
            .load_one(GeographyById(self.row.geography_id))
            .await
            .gql()?
            .map(Geography)
            .ok_or_else(|| async_graphql::Error::new("BUG: observation without its geography"))
    }

    /// The period the value describes.
    async fn period(&self) -> Result<PeriodScalar> {
        Period::parse(&self.row.period).gql().map(PeriodScalar)
    }

    /// The value, in the measure's unit. Null when the measure's disclosure rule hides it
    /// from the caller (see `suppressed`).
    async fn value(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.unless_hidden(ctx, Some(self.row.value)).await
    }

    /// Whether the measure's disclosure rule hides this figure from the caller: a count from
    /// 1 to the rule's limit outside the caller's own areas, or a figure that would give
    /// one away by subtraction from a total, as in the picture. Partners always see their
    /// own areas' figures.
    async fn suppressed(&self, ctx: &Context<'_>) -> Result<bool> {
        self.hidden(ctx).await
    }

    /// Numerator (events or people counted), for ratios. Null when suppressed.
    async fn numerator(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.unless_hidden(ctx, self.row.numerator).await
    }

    /// Denominator (population at risk), for ratios. Null when suppressed, so that it never
    /// helps work a hidden count out.
    async fn denominator(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.unless_hidden(ctx, self.row.denominator).await
    }

    /// Lower limit of the 95% confidence interval, as submitted. Null when suppressed.
    async fn lower_ci(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.unless_hidden(ctx, self.row.lower_ci).await
    }

    /// Upper limit of the 95% confidence interval, as submitted. Null when suppressed.
    async fn upper_ci(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        self.unless_hidden(ctx, self.row.upper_ci).await
    }

    /// The series break this value's period starts, when the measure's definition changed
    /// from this period: values before it are not comparable with this one.
    async fn series_break(&self, ctx: &Context<'_>) -> Result<Option<SeriesBreak>> {
        let breaks = loader(ctx).load_one(SeriesBreaksOf(self.row.measure_id)).await.gql()?.unwrap_or_default();
        Ok(breaks.into_iter().find(|b| b.period == self.row.period).map(SeriesBreak))
    }

    /// The submitter's note on the value (for example a data quality caveat).
    async fn note(&self) -> Option<&str> {
        self.row.note.as_deref()
    }

    /// Review status of the return that carried this revision.
    async fn status(&self, ctx: &Context<'_>) -> Result<ReturnStatus> {
        loader(ctx)
            .load_one(StatusOfReturn(self.row.return_id))
            .await
            .gql()?
            .ok_or_else(|| async_graphql::Error::new("BUG: observation without its return"))
    }

    /// Revision number: 1 for the first value submitted for this measure, area and period.
    async fn revision(&self) -> i32 {
        self.row.revision
    }

    /// When this revision was submitted.
    async fn submitted_at(&self) -> super::scalars::Timestamp {
        super::scalars::Timestamp(self.row.submitted_at)
    }

    /// Who submitted this revision (the token's subject); shown only to partners whose area
    /// covers the value's.
    async fn submitted_by(&self, ctx: &Context<'_>) -> Option<&str> {
        request(ctx).visibility.sees_review_in(self.row.geography_id).then_some(self.row.submitted_by.as_str())
    }

    /// The revisions of this value the caller may see, oldest first, a page at a time: at
    /// most `first` (20 when not given, at most 100) after revision `afterRevision`.
    #[graphql(complexity = "cost::page(first, cost::HISTORY_DEFAULT, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many revisions to list (1 to 100; 20 when not given).")] first: Option<i32>,
        #[graphql(desc = "List only revisions after this revision number.")] after_revision: Option<i32>,
    ) -> Result<Vec<Observation>> {
        let limit = cost::page_size(first, cost::HISTORY_DEFAULT).gql()?;
        let key = HistoryOf {
            measure_id: self.row.measure_id,
            geography_id: self.row.geography_id,
            period: self.row.period.clone(),
        };
        let rows = loader(ctx).load_one(key).await.gql()?.unwrap_or_default();
        let after = after_revision.unwrap_or(0);
        Ok(rows.into_iter().filter(|o| o.revision > after).take(limit).map(Observation::from).collect())
    }
}
