//! The mutation root: catalogue administration and case studies. Each mutation takes one
//! `input` and returns a payload with the changed object and `userErrors`.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::{
    OrGql,
    case_study::CaseStudy,
    guards::{RoleGuard, actor},
    measure::Measure,
    organisation::Organisation,
    picture::SeriesBreak,
    priority::{Commitment, Priority},
    request,
    scalars::PeriodScalar,
    user_error::{self, UserError},
};
use crate::{
    catalogue::{case_studies, edit::Change, measures, organisations, priorities, priorities::StatedValue},
    error::Outcome,
    values::{OrganisationKind, PeriodType, Polarity, Role, Unit, ValueType},
};

const ADMIN: &[Role] = &[Role::Admin];
const SUBMITTER: &[Role] = &[Role::Submitter];
const PUBLISHER: &[Role] = &[Role::Approver, Role::Admin];

fn change<T>(value: MaybeUndefined<T>) -> Change<T> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// The changed object, or the reasons nothing changed.
fn split<M, T>(outcome: Outcome<M>, wrap: impl FnOnce(M) -> T) -> (Option<T>, Vec<UserError>) {
    match outcome {
        Ok(m) => (Some(wrap(m)), Vec::new()),
        Err(errors) => (None, user_error::all(errors)),
    }
}

/// A baseline or target.
#[derive(InputObject)]
pub struct PeriodValueInput {
    /// The value, in the unit of the commitment's measure.
    pub value: f64,
    /// The period the value is for (the measure's period type, or a calendar year for a target date).
    pub period: Option<PeriodScalar>,
    /// Where the value comes from.
    pub note: Option<String>,
}

impl From<PeriodValueInput> for StatedValue {
    fn from(v: PeriodValueInput) -> Self {
        Self { value: v.value, period: v.period.map(|p| p.0), note: v.note }
    }
}

/// A new priority.
#[derive(InputObject)]
pub struct CreatePriorityInput {
    /// Stable key: lower-case words joined by hyphens.
    pub slug: String,
    /// Position in the list; the next free number when omitted.
    pub number: Option<i32>,
    pub title: String,
    pub ambition: String,
    pub challenge: Option<String>,
}

/// Changes to a priority, found by its slug; omitted fields are left as they are.
#[derive(InputObject)]
pub struct UpdatePriorityInput {
    pub slug: String,
    pub title: Option<String>,
    pub ambition: Option<String>,
    /// `null` clears it.
    pub challenge: MaybeUndefined<String>,
}

/// A new commitment under a priority.
#[derive(InputObject)]
pub struct CreateCommitmentInput {
    /// The priority's slug.
    pub priority: String,
    pub slug: String,
    pub statement: String,
    /// The slug of the measure progress is tracked on.
    pub measure: Option<String>,
    pub baseline: Option<PeriodValueInput>,
    pub target: Option<PeriodValueInput>,
}

/// Changes to a commitment, found by its slug; omitted fields are left, `null` clears.
#[derive(InputObject)]
pub struct UpdateCommitmentInput {
    pub slug: String,
    pub statement: Option<String>,
    pub measure: MaybeUndefined<String>,
    pub baseline: MaybeUndefined<PeriodValueInput>,
    pub target: MaybeUndefined<PeriodValueInput>,
}

/// A new outcome measure.
#[derive(InputObject)]
pub struct CreateMeasureInput {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub unit: Unit,
    pub polarity: Polarity,
    pub period_type: PeriodType,
    /// Lowest value accepted; by default 0 (or -100 for percentage points).
    pub min_value: Option<f64>,
    /// Highest value accepted; by default 100 for percentages, none otherwise.
    pub max_value: Option<f64>,
    /// The slug of the priority it belongs to.
    pub priority: Option<String>,
    pub source: Option<String>,
    /// What kind of statistic the values are; by default the one the unit implies
    /// (percent: `PROPORTION`, rates: `CRUDE_RATE`, counts: `COUNT`, years: `MEAN`,
    /// percentage points: `INDEX`).
    pub value_type: Option<ValueType>,
    /// The disclosure rule: counts from 1 to this number are hidden from those outside the
    /// area (7 for most measures of people). None: no rule.
    pub suppress_up_to: Option<i32>,
}

/// Changes to a measure, found by its slug. The unit and period type cannot change: values
/// already submitted are in them.
#[derive(InputObject)]
pub struct UpdateMeasureInput {
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub polarity: Option<Polarity>,
    pub min_value: MaybeUndefined<f64>,
    pub max_value: MaybeUndefined<f64>,
    pub priority: MaybeUndefined<String>,
    pub source: MaybeUndefined<String>,
    /// What kind of statistic the values are (it must fit the unit).
    pub value_type: Option<ValueType>,
    /// The disclosure rule; null removes it.
    pub suppress_up_to: MaybeUndefined<i32>,
}

/// A new organisation.
#[derive(InputObject)]
pub struct CreateOrganisationInput {
    pub slug: String,
    pub name: String,
    pub kind: OrganisationKind,
    /// The ONS code of the area it acts for (its partners' scope).
    pub geography: String,
    pub description: Option<String>,
    pub website: Option<String>,
    /// Slugs of its member organisations.
    #[graphql(default)]
    pub members: Vec<String>,
}

/// Changes to an organisation, found by its slug; `members`, when given, replaces the list.
#[derive(InputObject)]
pub struct UpdateOrganisationInput {
    pub slug: String,
    pub name: Option<String>,
    pub kind: Option<OrganisationKind>,
    pub geography: Option<String>,
    pub description: MaybeUndefined<String>,
    pub website: MaybeUndefined<String>,
    pub members: Option<Vec<String>>,
}

/// A new case study, unpublished until an approver publishes it.
#[derive(InputObject)]
pub struct CreateCaseStudyInput {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    /// Slugs of the priorities it illustrates.
    #[graphql(default)]
    pub priorities: Vec<String>,
    /// ONS codes of the areas it is in; all must lie in the caller's area.
    pub geographies: Vec<String>,
    /// Slugs of the organisations involved.
    #[graphql(default)]
    pub organisations: Vec<String>,
}

/// Changes to a case study in the caller's area; lists, when given, replace the old ones.
/// A published case study edited by someone who may not publish returns to draft.
#[derive(InputObject)]
pub struct UpdateCaseStudyInput {
    pub slug: String,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub priorities: Option<Vec<String>>,
    pub geographies: Option<Vec<String>>,
    pub organisations: Option<Vec<String>>,
}

/// The case study to publish.
#[derive(InputObject)]
pub struct PublishCaseStudyInput {
    pub slug: String,
}

/// The result of a priority mutation.
#[derive(SimpleObject)]
pub struct PriorityPayload {
    /// The priority as changed; null when nothing changed.
    pub priority: Option<Priority>,
    /// Why nothing changed, field by field.
    pub user_errors: Vec<UserError>,
}

/// The result of a commitment mutation.
#[derive(SimpleObject)]
pub struct CommitmentPayload {
    /// The commitment as changed; null when nothing changed.
    pub commitment: Option<Commitment>,
    /// Why nothing changed, field by field.
    pub user_errors: Vec<UserError>,
}

/// The result of a measure mutation.
#[derive(SimpleObject)]
pub struct MeasurePayload {
    /// The measure as changed; null when nothing changed.
    pub measure: Option<Measure>,
    /// Why nothing changed, field by field.
    pub user_errors: Vec<UserError>,
}

/// Marks the period from which a measure's definition changed.
#[derive(InputObject)]
pub struct MarkSeriesBreakInput {
    /// The measure's slug.
    pub measure: String,
    /// The first period of the new definition, of the measure's period type.
    pub period: String,
    /// What changed (for example "new population estimates from the 2021 Census").
    pub note: String,
}

/// Removes a series break.
#[derive(InputObject)]
pub struct RemoveSeriesBreakInput {
    pub measure: String,
    pub period: String,
}

/// The result of marking or removing a series break.
#[derive(SimpleObject)]
pub struct SeriesBreakPayload {
    /// The break as marked (or as it was, when removed); null when nothing changed.
    pub series_break: Option<SeriesBreak>,
    /// Why nothing changed, field by field.
    pub user_errors: Vec<UserError>,
}

/// The result of an organisation mutation.
#[derive(SimpleObject)]
pub struct OrganisationPayload {
    /// The organisation as changed; null when nothing changed.
    pub organisation: Option<Organisation>,
    /// Why nothing changed, field by field.
    pub user_errors: Vec<UserError>,
}

/// The result of a case study mutation.
#[derive(SimpleObject)]
pub struct CaseStudyPayload {
    /// The case study as changed; null when nothing changed.
    pub case_study: Option<CaseStudy>,
    /// Why nothing changed, field by field.
    pub user_errors: Vec<UserError>,
}

/// Catalogue administration and case studies.
#[derive(Default)]
pub struct CatalogueMutation;

/// The mutation root.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(CatalogueMutation, super::returns::ReturnMutation);

#[Object]
impl CatalogueMutation {
    /// Adds a priority. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn create_priority(&self, ctx: &Context<'_>, input: CreatePriorityInput) -> Result<PriorityPayload> {
        let new = priorities::NewPriority {
            slug: input.slug,
            number: input.number,
            title: input.title,
            ambition: input.ambition,
            challenge: input.challenge,
        };
        let (priority, user_errors) =
            split(priorities::create_priority(&request(ctx).db, actor(ctx)?, new).await.gql()?, Priority);
        Ok(PriorityPayload { priority, user_errors })
    }

    /// Changes a priority. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn update_priority(&self, ctx: &Context<'_>, input: UpdatePriorityInput) -> Result<PriorityPayload> {
        let changes = priorities::PriorityChanges {
            slug: input.slug,
            title: input.title,
            ambition: input.ambition,
            challenge: change(input.challenge),
        };
        let (priority, user_errors) =
            split(priorities::update_priority(&request(ctx).db, actor(ctx)?, changes).await.gql()?, Priority);
        Ok(PriorityPayload { priority, user_errors })
    }

    /// Adds a commitment under a priority. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn create_commitment(&self, ctx: &Context<'_>, input: CreateCommitmentInput) -> Result<CommitmentPayload> {
        let new = priorities::NewCommitment {
            priority: input.priority,
            slug: input.slug,
            statement: input.statement,
            measure: input.measure,
            baseline: input.baseline.map(Into::into),
            target: input.target.map(Into::into),
        };
        let (commitment, user_errors) =
            split(priorities::create_commitment(&request(ctx).db, actor(ctx)?, new).await.gql()?, Commitment);
        Ok(CommitmentPayload { commitment, user_errors })
    }

    /// Changes a commitment. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn update_commitment(&self, ctx: &Context<'_>, input: UpdateCommitmentInput) -> Result<CommitmentPayload> {
        let changes = priorities::CommitmentChanges {
            slug: input.slug,
            statement: input.statement,
            measure: change(input.measure),
            baseline: change(input.baseline).map(|v| v.map(Into::into)),
            target: change(input.target).map(|v| v.map(Into::into)),
        };
        let (commitment, user_errors) =
            split(priorities::update_commitment(&request(ctx).db, actor(ctx)?, changes).await.gql()?, Commitment);
        Ok(CommitmentPayload { commitment, user_errors })
    }

    /// Adds an outcome measure. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn create_measure(&self, ctx: &Context<'_>, input: CreateMeasureInput) -> Result<MeasurePayload> {
        let new = measures::NewMeasure {
            slug: input.slug,
            name: input.name,
            description: input.description,
            unit: input.unit,
            polarity: input.polarity,
            period_type: input.period_type,
            min_value: input.min_value,
            max_value: input.max_value,
            priority: input.priority,
            source: input.source,
            value_type: input.value_type,
            suppress_up_to: input.suppress_up_to,
        };
        let (measure, user_errors) =
            split(measures::create_measure(&request(ctx).db, actor(ctx)?, new).await.gql()?, Measure);
        Ok(MeasurePayload { measure, user_errors })
    }

    /// Changes a measure (not its unit or period type). ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn update_measure(&self, ctx: &Context<'_>, input: UpdateMeasureInput) -> Result<MeasurePayload> {
        let changes = measures::MeasureChanges {
            slug: input.slug,
            name: input.name,
            description: input.description,
            polarity: input.polarity,
            min_value: change(input.min_value),
            max_value: change(input.max_value),
            priority: change(input.priority),
            source: change(input.source),
            value_type: input.value_type,
            suppress_up_to: change(input.suppress_up_to),
        };
        let (measure, user_errors) =
            split(measures::update_measure(&request(ctx).db, actor(ctx)?, changes).await.gql()?, Measure);
        Ok(MeasurePayload { measure, user_errors })
    }

    /// Marks the period from which a measure's definition changed: trends never reach back
    /// past it, and the picture and observations show it. Marking a marked period changes
    /// its note. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn mark_series_break(&self, ctx: &Context<'_>, input: MarkSeriesBreakInput) -> Result<SeriesBreakPayload> {
        let outcome =
            measures::mark_series_break(&request(ctx).db, actor(ctx)?, &input.measure, &input.period, &input.note)
                .await
                .gql()?;
        let (series_break, user_errors) = split(outcome, SeriesBreak);
        Ok(SeriesBreakPayload { series_break, user_errors })
    }

    /// Removes a series break. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn remove_series_break(
        &self,
        ctx: &Context<'_>,
        input: RemoveSeriesBreakInput,
    ) -> Result<SeriesBreakPayload> {
        let outcome =
            measures::remove_series_break(&request(ctx).db, actor(ctx)?, &input.measure, &input.period).await.gql()?;
        let (series_break, user_errors) = split(outcome, SeriesBreak);
        Ok(SeriesBreakPayload { series_break, user_errors })
    }

    /// Adds an organisation. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn create_organisation(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganisationInput,
    ) -> Result<OrganisationPayload> {
        let new = organisations::NewOrganisation {
            slug: input.slug,
            name: input.name,
            kind: input.kind,
            geography: input.geography,
            description: input.description,
            website: input.website,
            members: input.members,
        };
        let (organisation, user_errors) =
            split(organisations::create_organisation(&request(ctx).db, actor(ctx)?, new).await.gql()?, Organisation);
        Ok(OrganisationPayload { organisation, user_errors })
    }

    /// Changes an organisation. ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn update_organisation(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganisationInput,
    ) -> Result<OrganisationPayload> {
        let changes = organisations::OrganisationChanges {
            slug: input.slug,
            name: input.name,
            kind: input.kind,
            geography: input.geography,
            description: change(input.description),
            website: change(input.website),
            members: input.members,
        };
        let (organisation, user_errors) = split(
            organisations::update_organisation(&request(ctx).db, actor(ctx)?, changes).await.gql()?,
            Organisation,
        );
        Ok(OrganisationPayload { organisation, user_errors })
    }

    /// Adds a case study in the caller's area, unpublished. SUBMITTER only.
    #[graphql(guard = "RoleGuard(SUBMITTER)")]
    async fn create_case_study(&self, ctx: &Context<'_>, input: CreateCaseStudyInput) -> Result<CaseStudyPayload> {
        let new = case_studies::NewCaseStudy {
            slug: input.slug,
            title: input.title,
            summary: input.summary,
            body: input.body,
            priorities: input.priorities,
            geographies: input.geographies,
            organisations: input.organisations,
        };
        let (case_study, user_errors) =
            split(case_studies::create_case_study(&request(ctx).db, actor(ctx)?, new).await.gql()?, CaseStudy);
        Ok(CaseStudyPayload { case_study, user_errors })
    }

    /// Changes a case study whose areas lie in the caller's area. SUBMITTER only.
    #[graphql(guard = "RoleGuard(SUBMITTER)")]
    async fn update_case_study(&self, ctx: &Context<'_>, input: UpdateCaseStudyInput) -> Result<CaseStudyPayload> {
        let changes = case_studies::CaseStudyChanges {
            slug: input.slug,
            title: input.title,
            summary: input.summary,
            body: input.body,
            priorities: input.priorities,
            geographies: input.geographies,
            organisations: input.organisations,
        };
        let (case_study, user_errors) =
            split(case_studies::update_case_study(&request(ctx).db, actor(ctx)?, changes).await.gql()?, CaseStudy);
        Ok(CaseStudyPayload { case_study, user_errors })
    }

    /// Publishes a case study whose areas lie in the caller's area. APPROVER or ADMIN.
    #[graphql(guard = "RoleGuard(PUBLISHER)")]
    async fn publish_case_study(&self, ctx: &Context<'_>, input: PublishCaseStudyInput) -> Result<CaseStudyPayload> {
        let (case_study, user_errors) =
            split(case_studies::publish_case_study(&request(ctx).db, actor(ctx)?, &input.slug).await.gql()?, CaseStudy);
        Ok(CaseStudyPayload { case_study, user_errors })
    }
}
