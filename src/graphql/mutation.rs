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
    /// The priority's title, as the London Vision names it.
    pub title: String,
    /// The ambition: what London wants to be true, in the strategy's words.
    pub ambition: String,
    /// The challenge the priority answers: why it matters now.
    pub challenge: Option<String>,
}

/// Changes to a priority, found by its slug; omitted fields are left as they are.
#[derive(InputObject)]
pub struct UpdatePriorityInput {
    /// The slug of the priority to change.
    pub slug: String,
    /// A new title.
    pub title: Option<String>,
    /// A new ambition.
    pub ambition: Option<String>,
    /// `null` clears it.
    pub challenge: MaybeUndefined<String>,
}

/// A new commitment under a priority.
#[derive(InputObject)]
pub struct CreateCommitmentInput {
    /// The priority's slug.
    pub priority: String,
    /// Stable key: lower-case words joined by hyphens.
    pub slug: String,
    /// The commitment, in the strategy's words: what will be done, by whom and by when.
    pub statement: String,
    /// The slug of the measure progress is tracked on.
    pub measure: Option<String>,
    /// Where the measure stood when the commitment was made.
    pub baseline: Option<PeriodValueInput>,
    /// The value the commitment aims for, and the period by which.
    pub target: Option<PeriodValueInput>,
}

/// Changes to a commitment, found by its slug; omitted fields are left, `null` clears.
#[derive(InputObject)]
pub struct UpdateCommitmentInput {
    /// The slug of the commitment to change.
    pub slug: String,
    /// A new statement.
    pub statement: Option<String>,
    /// The slug of the measure progress is tracked on; `null` detaches it.
    pub measure: MaybeUndefined<String>,
    /// A new baseline; `null` clears it.
    pub baseline: MaybeUndefined<PeriodValueInput>,
    /// A new target; `null` clears it.
    pub target: MaybeUndefined<PeriodValueInput>,
}

/// A new outcome measure.
#[derive(InputObject)]
pub struct CreateMeasureInput {
    /// Stable key: lower-case words joined by hyphens.
    pub slug: String,
    /// The measure's name, as the strategy's outcome measures name it.
    pub name: String,
    /// What the measure counts, and of whom.
    pub description: String,
    /// The unit its values are in.
    pub unit: Unit,
    /// Whether a higher value is better, worse, or neither.
    pub polarity: Polarity,
    /// The kind of period its values are for (calendar year, financial year, month, ...).
    pub period_type: PeriodType,
    /// Lowest value accepted; by default 0 (or -100 for percentage points).
    pub min_value: Option<f64>,
    /// Highest value accepted; by default 100 for percentages, none otherwise.
    pub max_value: Option<f64>,
    /// The slug of the priority it belongs to.
    pub priority: Option<String>,
    /// Where the values come from (for example the public health profiles' indicator).
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
    /// The slug of the measure to change.
    pub slug: String,
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new polarity.
    pub polarity: Option<Polarity>,
    /// The lowest value accepted; `null` removes the bound.
    pub min_value: MaybeUndefined<f64>,
    /// The highest value accepted; `null` removes the bound.
    pub max_value: MaybeUndefined<f64>,
    /// The slug of the priority it belongs to; `null` detaches it.
    pub priority: MaybeUndefined<String>,
    /// Where the values come from; `null` clears it.
    pub source: MaybeUndefined<String>,
    /// What kind of statistic the values are (it must fit the unit).
    pub value_type: Option<ValueType>,
    /// The disclosure rule; null removes it.
    pub suppress_up_to: MaybeUndefined<i32>,
}

/// A new organisation.
#[derive(InputObject)]
pub struct CreateOrganisationInput {
    /// Stable key: lower-case words joined by hyphens.
    pub slug: String,
    /// The organisation's name.
    pub name: String,
    /// What kind of organisation it is.
    pub kind: OrganisationKind,
    /// The ONS code of the area it acts for (its partners' scope).
    pub geography: String,
    /// What it does, in a sentence or two.
    pub description: Option<String>,
    /// Its website (an `https://` address).
    pub website: Option<String>,
    /// Slugs of its member organisations.
    #[graphql(default)]
    pub members: Vec<String>,
}

/// Changes to an organisation, found by its slug; `members`, when given, replaces the list.
#[derive(InputObject)]
pub struct UpdateOrganisationInput {
    /// The slug of the organisation to change.
    pub slug: String,
    /// A new name.
    pub name: Option<String>,
    /// A new kind.
    pub kind: Option<OrganisationKind>,
    /// The ONS code of the area it now acts for.
    pub geography: Option<String>,
    /// A new description; `null` clears it.
    pub description: MaybeUndefined<String>,
    /// A new website; `null` clears it.
    pub website: MaybeUndefined<String>,
    /// Slugs of its member organisations, replacing the old list.
    pub members: Option<Vec<String>>,
}

/// A new case study, unpublished until an approver publishes it.
#[derive(InputObject)]
pub struct CreateCaseStudyInput {
    /// Stable key: lower-case words joined by hyphens.
    pub slug: String,
    /// The case study's title.
    pub title: String,
    /// A sentence or two on what was done and what changed.
    pub summary: String,
    /// The full account (plain text).
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
    /// The slug of the case study to change.
    pub slug: String,
    /// A new title.
    pub title: Option<String>,
    /// A new summary.
    pub summary: Option<String>,
    /// A new body.
    pub body: Option<String>,
    /// Slugs of the priorities it illustrates, replacing the old list.
    pub priorities: Option<Vec<String>>,
    /// ONS codes of the areas it is in, replacing the old list (all in the caller's area).
    pub geographies: Option<Vec<String>>,
    /// Slugs of the organisations involved, replacing the old list.
    pub organisations: Option<Vec<String>>,
}

/// The case study to publish.
#[derive(InputObject)]
pub struct PublishCaseStudyInput {
    /// The slug of the case study to publish.
    pub slug: String,
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
    /// The measure's slug.
    pub measure: String,
    /// The period the break was marked at.
    pub period: String,
}

/// Defines a mutation's own payload: the object it changed (null when nothing changed)
/// and why nothing changed.
macro_rules! payload {
    ($name:ident, $doc:literal, $field:ident: $ty:ty, $field_doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            #[doc = $field_doc]
            pub $field: Option<$ty>,
            /// Why nothing changed, field by field.
            pub user_errors: Vec<UserError>,
        }
    };
}

payload!(CreatePriorityPayload, "The result of `createPriority`.", priority: Priority, "The priority as created; null when nothing changed.");
payload!(UpdatePriorityPayload, "The result of `updatePriority`.", priority: Priority, "The priority as changed; null when nothing changed.");
payload!(CreateCommitmentPayload, "The result of `createCommitment`.", commitment: Commitment, "The commitment as created; null when nothing changed.");
payload!(UpdateCommitmentPayload, "The result of `updateCommitment`.", commitment: Commitment, "The commitment as changed; null when nothing changed.");
payload!(CreateMeasurePayload, "The result of `createMeasure`.", measure: Measure, "The measure as created; null when nothing changed.");
payload!(UpdateMeasurePayload, "The result of `updateMeasure`.", measure: Measure, "The measure as changed; null when nothing changed.");
payload!(MarkSeriesBreakPayload, "The result of `markSeriesBreak`.", series_break: SeriesBreak, "The series break as marked; null when nothing changed.");
payload!(RemoveSeriesBreakPayload, "The result of `removeSeriesBreak`.", series_break: SeriesBreak, "The series break as it was before it was removed; null when nothing changed.");
payload!(CreateOrganisationPayload, "The result of `createOrganisation`.", organisation: Organisation, "The organisation as created; null when nothing changed.");
payload!(UpdateOrganisationPayload, "The result of `updateOrganisation`.", organisation: Organisation, "The organisation as changed; null when nothing changed.");
payload!(CreateCaseStudyPayload, "The result of `createCaseStudy`.", case_study: CaseStudy, "The case study as created; null when nothing changed.");
payload!(UpdateCaseStudyPayload, "The result of `updateCaseStudy`.", case_study: CaseStudy, "The case study as changed; null when nothing changed.");
payload!(PublishCaseStudyPayload, "The result of `publishCaseStudy`.", case_study: CaseStudy, "The case study as published; null when nothing changed.");

/// Catalogue administration and case studies.
#[derive(Default)]
pub struct CatalogueMutation;

/// The mutation root.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    CatalogueMutation,
    super::returns::ReturnMutation,
    super::tokens::TokenMutation,
    super::webhooks::WebhookMutation,
    super::geography::GeographyMutation,
);

/// Catalogue administration and case studies.
#[Object]
impl CatalogueMutation {
    /// Adds a priority. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn create_priority(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `CreatePriorityInput`.")] input: CreatePriorityInput,
    ) -> Result<CreatePriorityPayload> {
        let new = priorities::NewPriority {
            slug: input.slug,
            number: input.number,
            title: input.title,
            ambition: input.ambition,
            challenge: input.challenge,
        };
        let (priority, user_errors) =
            split(priorities::create_priority(&request(ctx).db, actor(ctx)?, new).await.gql()?, Priority);
        Ok(CreatePriorityPayload { priority, user_errors })
    }

    /// Changes a priority. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn update_priority(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `UpdatePriorityInput`.")] input: UpdatePriorityInput,
    ) -> Result<UpdatePriorityPayload> {
        let changes = priorities::PriorityChanges {
            slug: input.slug,
            title: input.title,
            ambition: input.ambition,
            challenge: change(input.challenge),
        };
        let (priority, user_errors) =
            split(priorities::update_priority(&request(ctx).db, actor(ctx)?, changes).await.gql()?, Priority);
        Ok(UpdatePriorityPayload { priority, user_errors })
    }

    /// Adds a commitment under a priority. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn create_commitment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `CreateCommitmentInput`.")] input: CreateCommitmentInput,
    ) -> Result<CreateCommitmentPayload> {
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
        Ok(CreateCommitmentPayload { commitment, user_errors })
    }

    /// Changes a commitment. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn update_commitment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `UpdateCommitmentInput`.")] input: UpdateCommitmentInput,
    ) -> Result<UpdateCommitmentPayload> {
        let changes = priorities::CommitmentChanges {
            slug: input.slug,
            statement: input.statement,
            measure: change(input.measure),
            baseline: change(input.baseline).map(|v| v.map(Into::into)),
            target: change(input.target).map(|v| v.map(Into::into)),
        };
        let (commitment, user_errors) =
            split(priorities::update_commitment(&request(ctx).db, actor(ctx)?, changes).await.gql()?, Commitment);
        Ok(UpdateCommitmentPayload { commitment, user_errors })
    }

    /// Adds an outcome measure. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn create_measure(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `CreateMeasureInput`.")] input: CreateMeasureInput,
    ) -> Result<CreateMeasurePayload> {
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
        Ok(CreateMeasurePayload { measure, user_errors })
    }

    /// Changes a measure (not its unit or period type). A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn update_measure(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `UpdateMeasureInput`.")] input: UpdateMeasureInput,
    ) -> Result<UpdateMeasurePayload> {
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
        Ok(UpdateMeasurePayload { measure, user_errors })
    }

    /// Marks the period from which a measure's definition changed: trends never reach back
    /// past it, and the picture and observations show it. Marking a marked period changes
    /// its note. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn mark_series_break(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `MarkSeriesBreakInput`.")] input: MarkSeriesBreakInput,
    ) -> Result<MarkSeriesBreakPayload> {
        let outcome =
            measures::mark_series_break(&request(ctx).db, actor(ctx)?, &input.measure, &input.period, &input.note)
                .await
                .gql()?;
        let (series_break, user_errors) = split(outcome, SeriesBreak);
        Ok(MarkSeriesBreakPayload { series_break, user_errors })
    }

    /// Removes a series break. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn remove_series_break(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `RemoveSeriesBreakInput`.")] input: RemoveSeriesBreakInput,
    ) -> Result<RemoveSeriesBreakPayload> {
        let outcome =
            measures::remove_series_break(&request(ctx).db, actor(ctx)?, &input.measure, &input.period).await.gql()?;
        let (series_break, user_errors) = split(outcome, SeriesBreak);
        Ok(RemoveSeriesBreakPayload { series_break, user_errors })
    }

    /// Adds an organisation: an ADMIN inside its own area, a London-wide ADMIN anywhere.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn create_organisation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `CreateOrganisationInput`.")] input: CreateOrganisationInput,
    ) -> Result<CreateOrganisationPayload> {
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
        Ok(CreateOrganisationPayload { organisation, user_errors })
    }

    /// Changes an organisation: its details by an ADMIN of it or of an area containing it; its
    /// area, kind and members by a London-wide ADMIN only, never by the organisation itself.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn update_organisation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `UpdateOrganisationInput`.")] input: UpdateOrganisationInput,
    ) -> Result<UpdateOrganisationPayload> {
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
        Ok(UpdateOrganisationPayload { organisation, user_errors })
    }

    /// Adds a case study in the caller's area, unpublished. SUBMITTER only.
    #[graphql(guard = "RoleGuard(SUBMITTER)")]
    async fn create_case_study(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `CreateCaseStudyInput`.")] input: CreateCaseStudyInput,
    ) -> Result<CreateCaseStudyPayload> {
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
        Ok(CreateCaseStudyPayload { case_study, user_errors })
    }

    /// Changes a case study whose areas lie in the caller's area. SUBMITTER only.
    #[graphql(guard = "RoleGuard(SUBMITTER)")]
    async fn update_case_study(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `UpdateCaseStudyInput`.")] input: UpdateCaseStudyInput,
    ) -> Result<UpdateCaseStudyPayload> {
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
        Ok(UpdateCaseStudyPayload { case_study, user_errors })
    }

    /// Publishes a case study whose areas lie in the caller's area. APPROVER or ADMIN.
    #[graphql(guard = "RoleGuard(PUBLISHER)")]
    async fn publish_case_study(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `PublishCaseStudyInput`.")] input: PublishCaseStudyInput,
    ) -> Result<PublishCaseStudyPayload> {
        let (case_study, user_errors) =
            split(case_studies::publish_case_study(&request(ctx).db, actor(ctx)?, &input.slug).await.gql()?, CaseStudy);
        Ok(PublishCaseStudyPayload { case_study, user_errors })
    }
}
