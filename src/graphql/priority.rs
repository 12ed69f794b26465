//! `Priority` and `Commitment`: the ten areas of focus and what the partnership commits to.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use entity::{commitment, priority};

use super::{
    OrGql,
    case_study::CaseStudy,
    connection, cost, ids, loader,
    loaders::{
        CaseStudiesOfPriority, CommitmentsOfPriority, LondonSeriesOf, MeasureById, MeasuresOfPriority, PriorityById,
    },
    measure::Measure,
    scalars::PeriodScalar,
};
use crate::{
    picture::{
        load::LondonValue,
        trajectory::{self, Judgement},
    },
    values::{Period, PeriodType, Polarity, TrajectoryStatus, ValueSource},
};

/// One of the areas of focus for pan-London action (the ten of the London Vision, and any added later).
#[derive(Clone)]
pub struct Priority(pub priority::Model);

/// One of the areas of focus for pan-London action (the ten of the London Vision, and any added later).
#[Object]
impl Priority {
    /// Global ID, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(ids::NodeType::Priority, self.0.id)
    }

    /// Stable key, e.g. `childhood-obesity`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Position in the strategy's list of priorities (1 to 10 for the London Vision).
    async fn number(&self) -> i32 {
        self.0.number
    }

    /// Title, as the strategy words it (e.g. "Reduce childhood obesity").
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The ambition ("Our ambition: ..."), word for word from the strategy.
    async fn ambition(&self) -> &str {
        &self.0.ambition
    }

    /// The challenge the strategy describes for this priority, word for word.
    async fn challenge(&self) -> Option<&str> {
        self.0.challenge.as_deref()
    }

    /// The commitments made under this priority.
    #[graphql(complexity = "cost::list(cost::COMMITMENTS, child_complexity)")]
    async fn commitments(&self, ctx: &Context<'_>) -> Result<Vec<Commitment>> {
        let rows = loader(ctx).load_one(CommitmentsOfPriority(self.0.id)).await.gql()?.unwrap_or_default();
        let mut rows = rows;
        rows.sort_by_key(|c| (c.position, c.id));
        Ok(rows.into_iter().map(Commitment).collect())
    }

    /// The outcome measures tracked for this priority (Table 1 of the strategy).
    #[graphql(complexity = "cost::list(cost::MEASURES_OF_PRIORITY, child_complexity)")]
    async fn measures(&self, ctx: &Context<'_>) -> Result<Vec<Measure>> {
        let mut rows = loader(ctx).load_one(MeasuresOfPriority(self.0.id)).await.gql()?.unwrap_or_default();
        rows.sort_by_key(|m| (m.position, m.id));
        Ok(rows.into_iter().map(Measure).collect())
    }

    /// Case studies of work on this priority, in the order they were added: the first
    /// `first` (20 when not given, at most 100). `caseStudies(priority:)` pages through all.
    #[graphql(complexity = "cost::page(first, cost::PRIORITY_CASE_STUDIES_DEFAULT, child_complexity)")]
    async fn case_studies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to list (1 to 100; 20 when not given).")] first: Option<i32>,
    ) -> Result<Vec<CaseStudy>> {
        let limit = cost::page_size(first, cost::PRIORITY_CASE_STUDIES_DEFAULT).gql()?;
        let rows = loader(ctx).load_one(CaseStudiesOfPriority(self.0.id)).await.gql()?.unwrap_or_default();
        Ok(connection::sorted_by_id(rows, |c| c.id).into_iter().take(limit).map(CaseStudy).collect())
    }
}

/// A value for a period: a commitment's baseline or target, or London's latest value.
#[derive(SimpleObject, Clone)]
pub struct PeriodValue {
    /// The value, in the unit of the commitment's measure.
    pub value: f64,
    /// The period the value is for; null where the strategy gives none.
    pub period: Option<PeriodScalar>,
    /// Where the value comes from.
    pub note: Option<String>,
}

/// What the partnership commits to under a priority, with its baseline, target and how
/// London is doing.
#[derive(Clone)]
pub struct Commitment(pub commitment::Model);

impl Commitment {
    fn stated(value: Option<f64>, period: Option<&String>, note: Option<&String>) -> Option<PeriodValue> {
        Some(PeriodValue {
            value: value?,
            period: period.and_then(|p| Period::parse(p).ok()).map(PeriodScalar),
            note: note.cloned(),
        })
    }

    /// London's figures for the commitment's measure in the picture, and the measure's
    /// period type and polarity.
    async fn london_series(&self, ctx: &Context<'_>) -> Result<Option<(Vec<LondonValue>, PeriodType, Polarity)>> {
        let Some(measure_id) = self.0.measure_id else { return Ok(None) };
        let l = loader(ctx);
        let Some(measure) = l.load_one(MeasureById(measure_id)).await.gql()? else { return Ok(None) };
        let series = l.load_one(LondonSeriesOf(measure_id)).await.gql()?.unwrap_or_default();
        let period_type = PeriodType::parse(&measure.period_type).gql()?;
        let polarity = Polarity::parse(&measure.polarity).gql()?;
        Ok(Some((series, period_type, polarity)))
    }

    async fn judgement(&self, ctx: &Context<'_>) -> Result<Judgement> {
        let no_data = Judgement { status: TrajectoryStatus::NoData, progress: None };
        let Some((series, period_type, polarity)) = self.london_series(ctx).await? else { return Ok(no_data) };
        Ok(trajectory::judge_commitment(&self.0, &series, period_type, polarity))
    }
}

/// What the partnership commits to under a priority, with its baseline, target and how
/// London is doing.
#[Object]
impl Commitment {
    /// Global ID, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(ids::NodeType::Commitment, self.0.id)
    }

    /// Stable key, e.g. `childhood-obesity-commitment`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The commitment ("Our commitment: ..."), word for word from the strategy.
    async fn statement(&self) -> &str {
        &self.0.statement
    }

    /// The priority the commitment is made under.
    async fn priority(&self, ctx: &Context<'_>) -> Result<Priority> {
        loader(ctx)
            .load_one(PriorityById(self.0.priority_id))
            .await
            .gql()?
            .map(Priority)
            .ok_or_else(|| async_graphql::Error::new("BUG: commitment without its priority"))
    }

    /// The outcome measure progress is tracked on.
    async fn measure(&self, ctx: &Context<'_>) -> Result<Option<Measure>> {
        let Some(id) = self.0.measure_id else { return Ok(None) };
        Ok(loader(ctx).load_one(MeasureById(id)).await.gql()?.map(Measure))
    }

    /// The value the commitment starts from, as the strategy states it; null where it states none.
    async fn baseline(&self) -> Option<PeriodValue> {
        Self::stated(self.0.baseline_value, self.0.baseline_period.as_ref(), self.0.baseline_note.as_ref())
    }

    /// The value to reach and by when; null where the strategy sets no figure.
    async fn target(&self) -> Option<PeriodValue> {
        Self::stated(self.0.target_value, self.0.target_period.as_ref(), self.0.target_note.as_ref())
    }

    /// London's latest figure of the measure in the picture (`picture(measure:).london`):
    /// approved values only, submitted for London or added up from the boroughs. The note
    /// says which.
    async fn latest(&self, ctx: &Context<'_>) -> Result<Option<PeriodValue>> {
        let Some((series, ..)) = self.london_series(ctx).await? else { return Ok(None) };
        Ok(series.last().map(|v| PeriodValue {
            value: v.value,
            period: Period::parse(&v.period).ok().map(PeriodScalar),
            note: Some(match v.source {
                ValueSource::Submitted => "submitted for London".to_owned(),
                ValueSource::Aggregated => "added up from the boroughs' approved values".to_owned(),
            }),
        }))
    }

    /// Whether London's latest value is on the straight line from baseline to target.
    async fn status(&self, ctx: &Context<'_>) -> Result<TrajectoryStatus> {
        Ok(self.judgement(ctx).await?.status)
    }

    /// The share of the way from baseline to target London has come: 0 at the baseline, 1 at
    /// the target, negative when moving away. Null without a baseline or a latest value.
    async fn progress(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        Ok(self.judgement(ctx).await?.progress)
    }
}
