//! `Return`, `submitReturn`, `approveReturn` and `rejectReturn`: partners' local data.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::return_;

use super::{
    OrGql,
    connection::{self, Conn},
    cost,
    guards::{RoleGuard, actor},
    ids, loader,
    loaders::{GeographyById, MeasureById, OrganisationById, ReturnById, ReturnObservationsPage},
    measure::{Measure, Observation},
    organisation::Organisation,
    request,
    scalars::PeriodScalar,
    user_error::{self, UserError},
};
use crate::{
    error,
    returns::{self, RawRow, Rows, Submission, SubmitOutcome, ValueChange},
    values::{ChangeKind, ReturnStatus, Role},
};

/// One submission of local figures by one organisation. Visible to partners only.
#[derive(Clone)]
pub struct Return(pub return_::Model);

impl Return {
    /// One page of the values the return wrote (`observations` and `changes` page alike).
    async fn values_page(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<crate::catalogue::page::Page<entity::observation::Model>> {
        let args = connection::args(ctx, first, after, last, before)?;
        let key = ReturnObservationsPage { return_id: self.0.id, args };
        let page = loader(ctx)
            .load_one(key)
            .await
            .gql()?
            .ok_or_else(|| async_graphql::Error::new("BUG: a page was not loaded"))?;
        Ok(page.as_ref().clone())
    }

    /// The counts stored with the return when it was written.
    fn counts(&self) -> Result<Counts> {
        self.0
            .outcome
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .ok_or_else(|| async_graphql::Error::new(format!("BUG: return {} has no stored outcome", self.0.id)))
    }
}

/// The counts of a stored outcome (its list of changes is skipped over, not kept).
#[derive(serde::Deserialize)]
struct Counts {
    accepted: i32,
    unchanged: i32,
}

/// A value a return wrote, as the change it made.
fn written_change(o: entity::observation::Model, measure: String, geography: String) -> Change {
    // Values written before rows were kept know neither their row nor what they replaced.
    let known = o.source_row.is_some();
    let kind = match (known, o.replaced_value) {
        (true, Some(_)) => ChangeKind::Revised,
        (true, None) => ChangeKind::New,
        (false, _) if o.revision == 1 => ChangeKind::New,
        (false, _) => ChangeKind::Revised,
    };
    let change = ValueChange {
        row: o.source_row.unwrap_or_default(),
        measure,
        geography,
        period: o.period,
        old_value: o.replaced_value,
        new_value: o.value,
        revision: Some(o.revision),
        kind,
    };
    Change(change, o.source_row)
}

/// One submission of local figures by one organisation. Visible to partners only.
#[Object]
impl Return {
    /// Global ID, for `node(id:)` and `return(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(ids::NodeType::Return, self.0.id)
    }

    /// The organisation that submitted it.
    async fn organisation(&self, ctx: &Context<'_>) -> Result<Organisation> {
        loader(ctx)
            .load_one(OrganisationById(self.0.organisation_id))
            .await
            .gql()?
            .map(Organisation)
            .ok_or_else(|| async_graphql::Error::new("BUG: return without its organisation"))
    }

    /// Where the return is in its review.
    async fn status(&self) -> Result<ReturnStatus> {
        ReturnStatus::parse(&self.0.status).gql()
    }

    /// When it was submitted.
    async fn submitted_at(&self) -> super::scalars::Timestamp {
        super::scalars::Timestamp(self.0.submitted_at)
    }

    /// Who submitted it (the token's subject).
    async fn submitted_by(&self) -> &str {
        &self.0.submitted_by
    }

    /// The return's signed receipt: a compact JWS (EdDSA, Ed25519) naming the organisation,
    /// the return, who sent it and when, and the count and SHA-256 digest of the values it
    /// wrote (see the README for the digest's canonical form). Verify it with the key set at
    /// `/.well-known/jwks.json`, any JOSE library, or `london-vision receipt verify`. The same
    /// every time it is asked for.
    #[graphql(complexity = 50)]
    async fn receipt(&self, ctx: &Context<'_>) -> Result<String> {
        let keys = ctx.data::<std::sync::Arc<crate::receipts::ReceiptKeys>>()?;
        let claims = crate::returns::receipt::claims(&request(ctx).db, &self.0).await.gql()?;
        keys.sign(&claims).map_err(|e| crate::error::AppError::Internal(e.to_string())).gql()
    }

    /// The submitter's note on the return.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// The values the return carried (its new revisions).
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    async fn observations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Observation>> {
        let page = self.values_page(ctx, first, after, last, before).await?;
        Ok(connection::connection(page, Observation::from))
    }

    /// Values that became a new revision when it was written.
    async fn accepted(&self) -> Result<i32> {
        Ok(self.counts()?.accepted)
    }

    /// Values that were equal to the current approved ones when it was written: counted,
    /// not stored, so not listed in `changes`.
    async fn unchanged(&self) -> Result<i32> {
        Ok(self.counts()?.unchanged)
    }

    /// The values it wrote (each a new revision), with the row that carried each and the
    /// current value it replaced, in the order they were written (the input's order a batch
    /// at a time, within a batch by measure, area and period): its outcome read back, page
    /// by page, however large the return. Values found unchanged are only counted
    /// (`unchanged`).
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Change>> {
        let page = self.values_page(ctx, first, after, last, before).await?;
        let measures = loader(ctx).load_many(page.items.iter().map(|(_, o)| MeasureById(o.measure_id))).await.gql()?;
        let areas = loader(ctx).load_many(page.items.iter().map(|(_, o)| GeographyById(o.geography_id))).await.gql()?;
        if let Some((_, o)) = page.items.iter().find(|(_, o)| {
            !measures.contains_key(&MeasureById(o.measure_id)) || !areas.contains_key(&GeographyById(o.geography_id))
        }) {
            return Err(async_graphql::Error::new(format!("BUG: value {} names a measure or area not found", o.id)));
        }
        let conn = connection::connection(page, |o| {
            let measure = measures.get(&MeasureById(o.measure_id)).map(|m| m.slug.clone()).unwrap_or_default();
            let area = areas.get(&GeographyById(o.geography_id)).map(|g| g.code.clone()).unwrap_or_default();
            written_change(o, measure, area)
        });
        Ok(conn)
    }

    /// Who approved or rejected it.
    async fn reviewed_by(&self) -> Option<&str> {
        self.0.reviewed_by.as_deref()
    }

    /// When it was approved or rejected.
    async fn reviewed_at(&self) -> Option<super::scalars::Timestamp> {
        self.0.reviewed_at.map(super::scalars::Timestamp)
    }

    /// The reviewer's note.
    async fn review_note(&self) -> Option<&str> {
        self.0.review_note.as_deref()
    }
}

/// One value of a return: a measure (by slug), an area (by ONS code) and a period.
#[derive(InputObject)]
pub struct ObservationInput {
    /// The measure's slug.
    pub measure: String,
    /// The area's ONS GSS code; it must lie in the submitting organisation's area.
    pub geography: String,
    /// The period, of the measure's period type.
    pub period: PeriodScalar,
    /// The value in the measure's unit; may be left out when numerator and denominator give it.
    pub value: Option<f64>,
    /// The numerator (for a proportion or rate: the events or people counted); with the
    /// denominator, it lets the picture add areas up and compute intervals.
    pub numerator: Option<f64>,
    /// The denominator (for a proportion or rate: the population or people at risk).
    pub denominator: Option<f64>,
    /// Lower limit of the 95% confidence interval.
    pub lower_ci: Option<f64>,
    /// Upper limit of the 95% confidence interval.
    pub upper_ci: Option<f64>,
    /// A note on the value (for example a data quality caveat).
    pub note: Option<String>,
}

/// A return of values for the caller's organisation.
#[derive(InputObject)]
pub struct SubmitReturnInput {
    /// The organisation's slug: the caller's own.
    pub organisation: String,
    /// The values, one per measure, area and period.
    pub values: Vec<ObservationInput>,
    /// A key of your choosing; submitting again with the same key returns the first result
    /// and writes nothing, so a retried request is safe.
    pub idempotency_key: Option<String>,
    /// Check everything and report what would change, writing nothing.
    #[graphql(default)]
    pub dry_run: bool,
    /// A note on the whole return.
    pub note: Option<String>,
}

/// Defines the input of a review mutation: the return and the reviewer's note.
macro_rules! review_input {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(InputObject)]
        pub struct $name {
            /// The return's ID.
            pub id: ID,
            /// The reviewer's note.
            pub note: Option<String>,
        }
    };
}

review_input!(ApproveReturnInput, "A return to approve.");
review_input!(
    WithdrawReturnInput,
    "A return of the caller's organisation to withdraw while it is in review, with why."
);
review_input!(RejectReturnInput, "A return to reject, with the reason in the note.");

/// One value's old and new figures, and the row that carried it (unknown only for values
/// read back that were written before rows were kept).
pub struct Change(pub ValueChange, pub Option<i32>);

impl From<ValueChange> for Change {
    fn from(c: ValueChange) -> Self {
        let row = c.row;
        Self(c, Some(row))
    }
}

/// One value's old and new figures.
#[Object]
impl Change {
    /// The row of the input this change is for (its 0-based position in `values`, or its
    /// CSV line); null only for values read back that were written before 1 December 2026,
    /// when rows were first kept.
    async fn row(&self) -> Option<i32> {
        self.1
    }
    /// The measure's slug.
    async fn measure(&self) -> &str {
        &self.0.measure
    }
    /// The area's ONS code.
    async fn geography(&self) -> &str {
        &self.0.geography
    }
    /// The period.
    async fn period(&self) -> &str {
        &self.0.period
    }
    /// The current value before this return; null when there was none.
    async fn old_value(&self) -> Option<f64> {
        self.0.old_value
    }
    /// The value in this return.
    async fn new_value(&self) -> f64 {
        self.0.new_value
    }
    /// The revision written (or that would be, in a dry run); null when unchanged.
    async fn revision(&self) -> Option<i32> {
        self.0.revision
    }
    /// What the return did to the value.
    async fn kind(&self) -> ChangeKind {
        self.0.kind
    }
}

/// The result of a submission. With `userErrors`, nothing was written.
#[derive(SimpleObject)]
pub struct SubmitReturnPayload {
    /// The return written; null for a dry run or a refused return.
    #[graphql(name = "return")]
    pub return_: Option<Return>,
    /// Values that became a new revision (or would, in a dry run).
    pub accepted: i32,
    /// Values equal to the current ones: nothing written for them.
    pub unchanged: i32,
    /// Rows with at least one problem; when above zero, nothing was written.
    pub rejected: i32,
    /// Every value's old and new figures (the first 10,000 of a larger return; page through
    /// all the values it wrote with `return { changes(after:) }`).
    pub changes: Vec<Change>,
    /// True when the return had more values than `changes` lists.
    pub changes_truncated: bool,
    /// True when this is the first result of an earlier submission with the same key.
    pub replayed: bool,
    /// What is wrong, row by row (the first 1,000 problems of a larger return).
    pub user_errors: Vec<UserError>,
    /// True when the return had more problems than `userErrors` lists; `rejected` counts
    /// every rejected row.
    pub user_errors_truncated: bool,
}

impl SubmitReturnPayload {
    pub async fn from_outcome(ctx: &Context<'_>, outcome: SubmitOutcome) -> Result<Self> {
        let return_ = match outcome.return_id {
            Some(id) => match loader(ctx).load_one(ReturnById(id)).await.gql()? {
                Some(found) => Some(Return(found)),
                // Never "accepted" without the return: a write that cannot be read back is
                // not answered as done (the caller sends it again with the same key).
                None => return Err(crate::error::AppError::unavailable()).gql(),
            },
            None => None,
        };
        Ok(Self {
            return_,
            accepted: outcome.accepted,
            unchanged: outcome.unchanged,
            rejected: outcome.rejected,
            changes: outcome.changes.into_iter().map(Change::from).collect(),
            changes_truncated: outcome.changes_truncated,
            replayed: outcome.replayed,
            user_errors: user_error::all(outcome.user_errors),
            user_errors_truncated: outcome.user_errors_truncated,
        })
    }
}

/// Defines the payload of a review mutation.
macro_rules! review_payload {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            /// The return as reviewed; null when nothing changed.
            #[graphql(name = "return")]
            pub return_: Option<Return>,
            /// Why nothing changed.
            pub user_errors: Vec<UserError>,
        }
    };
}

review_payload!(ApproveReturnPayload, "The result of `approveReturn`.");
review_payload!(WithdrawReturnPayload, "The result of `withdrawReturn`.");
review_payload!(RejectReturnPayload, "The result of `rejectReturn`.");

/// Defines the input and payload of a lock mutation.
macro_rules! lock_types {
    ($input:ident, $input_doc:literal, $payload:ident, $payload_doc:literal) => {
        #[doc = $input_doc]
        #[derive(InputObject)]
        pub struct $input {
            /// The measure's slug.
            pub measure: String,
            /// The period, of the measure's period type.
            pub period: PeriodScalar,
        }

        #[doc = $payload_doc]
        #[derive(SimpleObject)]
        pub struct $payload {
            /// The measure; null when nothing changed.
            pub measure: Option<Measure>,
            /// The period.
            pub period: PeriodScalar,
            /// Whether the period is now locked.
            pub locked: bool,
            /// Why nothing changed.
            pub user_errors: Vec<UserError>,
        }

        impl From<(Option<Measure>, PeriodScalar, bool, Vec<UserError>)> for $payload {
            fn from(
                (measure, period, locked, user_errors): (Option<Measure>, PeriodScalar, bool, Vec<UserError>),
            ) -> Self {
                Self { measure, period, locked, user_errors }
            }
        }
    };
}

lock_types!(LockPeriodInput, "A measure's period to lock.", LockPeriodPayload, "The result of `lockPeriod`.");
lock_types!(UnlockPeriodInput, "A measure's period to unlock.", UnlockPeriodPayload, "The result of `unlockPeriod`.");

/// The mutations on returns.
#[derive(Default)]
pub struct ReturnMutation;

const SUBMITTER: &[Role] = &[Role::Submitter];
const APPROVER: &[Role] = &[Role::Approver];
const ADMIN: &[Role] = &[Role::Admin];

fn lock_payload<P: From<(Option<Measure>, PeriodScalar, bool, Vec<UserError>)>>(
    outcome: crate::error::Outcome<entity::measure::Model>,
    period: PeriodScalar,
    locked: bool,
) -> P {
    match outcome {
        Ok(m) => P::from((Some(Measure(m)), period, locked, Vec::new())),
        Err(errors) => P::from((None, period, !locked, user_error::all(errors))),
    }
}

/// Tells live subscribers of every process that a return changed status.
async fn announce(ctx: &Context<'_>, event: crate::events::Event) {
    if let Some(events) = ctx.data_opt::<crate::events::Events>() {
        events.announce(event).await;
    }
}

/// Approves, rejects (`decision` APPROVED or REJECTED) or withdraws (WITHDRAWN) a return:
/// its outcome as (the return, why nothing changed).
async fn review(
    ctx: &Context<'_>,
    id: ID,
    note: Option<String>,
    decision: ReturnStatus,
) -> Result<(Option<Return>, Vec<UserError>)> {
    let (node_type, key) = ids::decode(&id).gql()?;
    if node_type != ids::NodeType::Return {
        return Ok((
            None,
            user_error::all(vec![error::UserError::new(
                &["id"],
                crate::values::UserErrorCode::Invalid,
                "the ID is not a return's",
            )]),
        ));
    }
    let db = &request(ctx).db;
    let outcome = if decision == ReturnStatus::Withdrawn {
        returns::withdraw(db, actor(ctx)?, key, note).await
    } else {
        returns::review(db, actor(ctx)?, key, decision, note).await
    };
    match outcome.gql()? {
        Ok(r) => {
            announce(ctx, crate::events::Event { return_id: r.id, status: r.status.clone() }).await;
            Ok((Some(Return(r)), Vec::new()))
        }
        Err(errors) => Ok((None, user_error::all(errors))),
    }
}

/// The mutations on returns.
#[Object]
impl ReturnMutation {
    /// Submits a return of values for the caller's organisation, whole or not at all.
    /// SUBMITTER of that organisation; every value's area must lie in its area.
    #[graphql(guard = "RoleGuard(SUBMITTER)")]
    async fn submit_return(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `SubmitReturnInput`.")] input: SubmitReturnInput,
    ) -> Result<SubmitReturnPayload> {
        let rows: Vec<RawRow> = input
            .values
            .into_iter()
            .enumerate()
            .map(|(i, v)| RawRow {
                row: i32::try_from(i).unwrap_or(i32::MAX),
                measure: v.measure,
                geography: v.geography,
                period: v.period.0.to_string(),
                value: v.value,
                numerator: v.numerator,
                denominator: v.denominator,
                lower_ci: v.lower_ci,
                upper_ci: v.upper_ci,
                note: v.note,
            })
            .collect();
        let submission = Submission {
            organisation: input.organisation,
            rows: Rows::Memory(rows),
            idempotency_key: input.idempotency_key,
            dry_run: input.dry_run,
            note: input.note,
        };
        let db = &request(ctx).db;
        // As the database has it now: a mutation earlier in the same request may have changed it.
        let reference = loader(ctx).loader().areas.directory.now(db, None).await.gql()?.reference();
        let outcome = returns::submit(db, reference, actor(ctx)?, submission).await.gql()?;
        if let Some(event) = crate::events::Event::of_submission(&outcome) {
            announce(ctx, event).await;
        }
        SubmitReturnPayload::from_outcome(ctx, outcome).await
    }

    /// Closes a measure's period to further values. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn lock_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `LockPeriodInput`.")] input: LockPeriodInput,
    ) -> Result<LockPeriodPayload> {
        let outcome =
            returns::locks::lock(&request(ctx).db, actor(ctx)?, &input.measure, &input.period.0).await.gql()?;
        Ok(lock_payload(outcome, input.period, true))
    }

    /// Opens a measure's period to values again. A London-wide ADMIN only.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn unlock_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `UnlockPeriodInput`.")] input: UnlockPeriodInput,
    ) -> Result<UnlockPeriodPayload> {
        let outcome =
            returns::locks::unlock(&request(ctx).db, actor(ctx)?, &input.measure, &input.period.0).await.gql()?;
        Ok(lock_payload(outcome, input.period, false))
    }

    /// Approves a return, making its values public. APPROVER whose area covers the return's
    /// areas; never its own submitter.
    #[graphql(guard = "RoleGuard(APPROVER)")]
    async fn approve_return(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `ApproveReturnInput`.")] input: ApproveReturnInput,
    ) -> Result<ApproveReturnPayload> {
        let (return_, user_errors) = review(ctx, input.id, input.note, ReturnStatus::Approved).await?;
        Ok(ApproveReturnPayload { return_, user_errors })
    }

    /// Rejects a return: its values never become current. APPROVER whose area covers the
    /// return's areas; never its own submitter.
    #[graphql(guard = "RoleGuard(APPROVER)")]
    async fn reject_return(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `RejectReturnInput`.")] input: RejectReturnInput,
    ) -> Result<RejectReturnPayload> {
        let (return_, user_errors) = review(ctx, input.id, input.note, ReturnStatus::Rejected).await?;
        Ok(RejectReturnPayload { return_, user_errors })
    }

    /// Withdraws a return sent by mistake, while it is still in review: its status becomes
    /// `WITHDRAWN` and its values never become current. SUBMITTER of the organisation that
    /// sent it.
    #[graphql(guard = "RoleGuard(SUBMITTER)")]
    async fn withdraw_return(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `WithdrawReturnInput`.")] input: WithdrawReturnInput,
    ) -> Result<WithdrawReturnPayload> {
        let (return_, user_errors) = review(ctx, input.id, input.note, ReturnStatus::Withdrawn).await?;
        Ok(WithdrawReturnPayload { return_, user_errors })
    }
}
