//! The whole data model of the partner API, designed once: the catalogue (geographies,
//! organisations, priorities, measures, commitments, case studies), the data partners submit
//! (returns and their append-only observations, period locks), and the trail of who changed
//! what (audit events, revoked tokens). Runs unchanged on SQLite and PostgreSQL.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // ONS geographies: London region, the five ICSs, the 33 local authorities, and
        // neighbourhoods later. `parent_id` makes the tree that partner scope is built on.
        m.create_table(
            Table::create()
                .table(Geographies::Table)
                .col(big_pk_auto(Geographies::Id))
                .col(string_len_uniq(Geographies::Code, 16))
                .col(string(Geographies::Name))
                .col(string_len(Geographies::Level, 16))
                .col(big_integer_null(Geographies::ParentId))
                .col(big_integer_null(Geographies::Population))
                .col(integer_null(Geographies::PopulationYear))
                .foreign_key(
                    ForeignKey::create()
                        .from(Geographies::Table, Geographies::ParentId)
                        .to(Geographies::Table, Geographies::Id),
                )
                .to_owned(),
        )
        .await?;
        index(m, Geographies::Table, "ix_geographies_parent", &[Geographies::ParentId]).await?;
        index(m, Geographies::Table, "ix_geographies_level", &[Geographies::Level]).await?;

        m.create_table(
            Table::create()
                .table(Organisations::Table)
                .col(big_pk_auto(Organisations::Id))
                .col(string_len_uniq(Organisations::Slug, 64))
                .col(string(Organisations::Name))
                .col(string_len(Organisations::Kind, 32))
                .col(big_integer(Organisations::GeographyId))
                .col(text_null(Organisations::Description))
                .col(string_null(Organisations::Website))
                .col(timestamp_with_time_zone(Organisations::CreatedAt))
                .col(timestamp_with_time_zone(Organisations::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Organisations::Table, Organisations::GeographyId)
                        .to(Geographies::Table, Geographies::Id),
                )
                .to_owned(),
        )
        .await?;
        index(m, Organisations::Table, "ix_organisations_geography", &[Organisations::GeographyId]).await?;

        // Partnerships and federations: London Councils' members are the borough councils,
        // an ICS's members are the councils and trusts that form it.
        m.create_table(
            Table::create()
                .table(OrganisationMembers::Table)
                .col(big_integer(OrganisationMembers::OrganisationId))
                .col(big_integer(OrganisationMembers::MemberId))
                .primary_key(
                    Index::create().col(OrganisationMembers::OrganisationId).col(OrganisationMembers::MemberId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(OrganisationMembers::Table, OrganisationMembers::OrganisationId)
                        .to(Organisations::Table, Organisations::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(OrganisationMembers::Table, OrganisationMembers::MemberId)
                        .to(Organisations::Table, Organisations::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Priorities::Table)
                .col(big_pk_auto(Priorities::Id))
                .col(string_len_uniq(Priorities::Slug, 64))
                .col(integer_uniq(Priorities::Number))
                .col(string(Priorities::Title))
                .col(text(Priorities::Ambition))
                .col(text_null(Priorities::Challenge))
                .col(timestamp_with_time_zone(Priorities::CreatedAt))
                .col(timestamp_with_time_zone(Priorities::UpdatedAt))
                .to_owned(),
        )
        .await?;

        // Outcome measures (Table 1 of the strategy). Bounds and `whole_number` are what a
        // submitted value is checked against; `priority_id` is empty for the two overall
        // population health measures.
        m.create_table(
            Table::create()
                .table(Measures::Table)
                .col(big_pk_auto(Measures::Id))
                .col(string_len_uniq(Measures::Slug, 64))
                .col(text(Measures::Name))
                .col(text(Measures::Description))
                .col(string_len(Measures::Unit, 32))
                .col(string_len(Measures::Polarity, 16))
                .col(string_len(Measures::PeriodType, 32))
                .col(double_null(Measures::MinValue))
                .col(double_null(Measures::MaxValue))
                .col(boolean(Measures::WholeNumber))
                .col(big_integer_null(Measures::PriorityId))
                .col(integer(Measures::Position))
                .col(text_null(Measures::Source))
                .col(timestamp_with_time_zone(Measures::CreatedAt))
                .col(timestamp_with_time_zone(Measures::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Measures::Table, Measures::PriorityId)
                        .to(Priorities::Table, Priorities::Id),
                )
                .to_owned(),
        )
        .await?;
        index(m, Measures::Table, "ix_measures_priority", &[Measures::PriorityId]).await?;

        m.create_table(
            Table::create()
                .table(Commitments::Table)
                .col(big_pk_auto(Commitments::Id))
                .col(string_len_uniq(Commitments::Slug, 64))
                .col(big_integer(Commitments::PriorityId))
                .col(integer(Commitments::Position))
                .col(text(Commitments::Statement))
                .col(big_integer_null(Commitments::MeasureId))
                .col(double_null(Commitments::BaselineValue))
                .col(string_len_null(Commitments::BaselinePeriod, 16))
                .col(text_null(Commitments::BaselineNote))
                .col(double_null(Commitments::TargetValue))
                .col(string_len_null(Commitments::TargetPeriod, 16))
                .col(text_null(Commitments::TargetNote))
                .col(timestamp_with_time_zone(Commitments::CreatedAt))
                .col(timestamp_with_time_zone(Commitments::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Commitments::Table, Commitments::PriorityId)
                        .to(Priorities::Table, Priorities::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Commitments::Table, Commitments::MeasureId)
                        .to(Measures::Table, Measures::Id),
                )
                .to_owned(),
        )
        .await?;
        index(m, Commitments::Table, "ix_commitments_priority", &[Commitments::PriorityId]).await?;
        index(m, Commitments::Table, "ix_commitments_measure", &[Commitments::MeasureId]).await?;

        // A return is one submission by one organisation. The idempotency key is unique per
        // organisation so that a retried submission finds the first one and its outcome.
        m.create_table(
            Table::create()
                .table(Returns::Table)
                .col(big_pk_auto(Returns::Id))
                .col(big_integer(Returns::OrganisationId))
                .col(string_len(Returns::Status, 16))
                .col(text_null(Returns::Note))
                .col(string_len_null(Returns::IdempotencyKey, 200))
                .col(string_len_null(Returns::RequestFingerprint, 64))
                .col(text_null(Returns::Outcome))
                .col(timestamp_with_time_zone(Returns::SubmittedAt))
                .col(string(Returns::SubmittedBy))
                .col(timestamp_with_time_zone_null(Returns::ReviewedAt))
                .col(string_null(Returns::ReviewedBy))
                .col(text_null(Returns::ReviewNote))
                .foreign_key(
                    ForeignKey::create()
                        .from(Returns::Table, Returns::OrganisationId)
                        .to(Organisations::Table, Organisations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_returns_org_idempotency_key")
                .table(Returns::Table)
                .col(Returns::OrganisationId)
                .col(Returns::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
        index(m, Returns::Table, "ix_returns_status", &[Returns::Status]).await?;

        // Observations are append-only: a correction is a new row with the next revision, so
        // (measure, geography, period, revision) is unique and no row is ever updated.
        m.create_table(
            Table::create()
                .table(Observations::Table)
                .col(big_pk_auto(Observations::Id))
                .col(big_integer(Observations::MeasureId))
                .col(big_integer(Observations::GeographyId))
                .col(string_len(Observations::Period, 16))
                .col(date(Observations::PeriodStart))
                .col(date(Observations::PeriodEnd))
                .col(integer(Observations::Revision))
                .col(double(Observations::Value))
                .col(double_null(Observations::Numerator))
                .col(double_null(Observations::Denominator))
                .col(double_null(Observations::LowerCi))
                .col(double_null(Observations::UpperCi))
                .col(text_null(Observations::Note))
                .col(big_integer(Observations::ReturnId))
                .col(timestamp_with_time_zone(Observations::SubmittedAt))
                .col(string(Observations::SubmittedBy))
                .foreign_key(
                    ForeignKey::create()
                        .from(Observations::Table, Observations::MeasureId)
                        .to(Measures::Table, Measures::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Observations::Table, Observations::GeographyId)
                        .to(Geographies::Table, Geographies::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Observations::Table, Observations::ReturnId)
                        .to(Returns::Table, Returns::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_observations_revision")
                .table(Observations::Table)
                .col(Observations::MeasureId)
                .col(Observations::GeographyId)
                .col(Observations::Period)
                .col(Observations::Revision)
                .unique()
                .to_owned(),
        )
        .await?;
        // What the pan-London picture reads: every area's values for one measure and period.
        index(
            m,
            Observations::Table,
            "ix_observations_picture",
            &[Observations::MeasureId, Observations::Period, Observations::GeographyId],
        )
        .await?;
        index(m, Observations::Table, "ix_observations_latest", &[Observations::MeasureId, Observations::PeriodEnd])
            .await?;
        index(m, Observations::Table, "ix_observations_return", &[Observations::ReturnId]).await?;

        m.create_table(
            Table::create()
                .table(PeriodLocks::Table)
                .col(big_pk_auto(PeriodLocks::Id))
                .col(big_integer(PeriodLocks::MeasureId))
                .col(string_len(PeriodLocks::Period, 16))
                .col(timestamp_with_time_zone(PeriodLocks::LockedAt))
                .col(string(PeriodLocks::LockedBy))
                .foreign_key(
                    ForeignKey::create()
                        .from(PeriodLocks::Table, PeriodLocks::MeasureId)
                        .to(Measures::Table, Measures::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_period_locks_measure_period")
                .table(PeriodLocks::Table)
                .col(PeriodLocks::MeasureId)
                .col(PeriodLocks::Period)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CaseStudies::Table)
                .col(big_pk_auto(CaseStudies::Id))
                .col(string_len_uniq(CaseStudies::Slug, 64))
                .col(string(CaseStudies::Title))
                .col(text(CaseStudies::Summary))
                .col(text(CaseStudies::Body))
                .col(boolean(CaseStudies::Published))
                .col(timestamp_with_time_zone_null(CaseStudies::PublishedAt))
                .col(big_integer_null(CaseStudies::OwnerOrganisationId))
                .col(text_null(CaseStudies::Source))
                .col(timestamp_with_time_zone(CaseStudies::CreatedAt))
                .col(timestamp_with_time_zone(CaseStudies::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(CaseStudies::Table, CaseStudies::OwnerOrganisationId)
                        .to(Organisations::Table, Organisations::Id),
                )
                .to_owned(),
        )
        .await?;

        link_table(
            m,
            CaseStudyPriorities::Table,
            CaseStudyPriorities::CaseStudyId,
            CaseStudyPriorities::PriorityId,
            Priorities::Table,
            Priorities::Id,
        )
        .await?;
        link_table(
            m,
            CaseStudyGeographies::Table,
            CaseStudyGeographies::CaseStudyId,
            CaseStudyGeographies::GeographyId,
            Geographies::Table,
            Geographies::Id,
        )
        .await?;
        link_table(
            m,
            CaseStudyOrganisations::Table,
            CaseStudyOrganisations::CaseStudyId,
            CaseStudyOrganisations::OrganisationId,
            Organisations::Table,
            Organisations::Id,
        )
        .await?;

        // Who did what, when, with the record before and after (JSON text), written in the
        // same transaction as the change it describes.
        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(big_pk_auto(AuditEvents::Id))
                .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                .col(string(AuditEvents::ActorSubject))
                .col(string_len_null(AuditEvents::ActorOrganisation, 64))
                .col(string_len(AuditEvents::Action, 64))
                .col(string_len(AuditEvents::EntityType, 32))
                .col(string_len(AuditEvents::EntityId, 64))
                .col(text_null(AuditEvents::Before))
                .col(text_null(AuditEvents::After))
                .to_owned(),
        )
        .await?;
        index(m, AuditEvents::Table, "ix_audit_events_entity", &[AuditEvents::EntityType, AuditEvents::EntityId])
            .await?;

        m.create_table(
            Table::create()
                .table(RevokedTokens::Table)
                .col(string_len(RevokedTokens::Jti, 128).primary_key())
                .col(timestamp_with_time_zone(RevokedTokens::RevokedAt))
                .col(text_null(RevokedTokens::Reason))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // Forward only: data submitted by partners is never dropped by a migration.
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

async fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    m: &SchemaManager<'_>,
    table: T,
    name: &str,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut ix = Index::create();
    ix.name(name).table(table);
    for col in cols {
        ix.col(*col);
    }
    m.create_index(ix.to_owned()).await
}

/// A many-to-many link from a case study to another table, keyed on both ends.
async fn link_table<T, A, B, RT, RC>(
    m: &SchemaManager<'_>,
    table: T,
    case_study_col: A,
    other_col: B,
    other_table: RT,
    other_id: RC,
) -> Result<(), DbErr>
where
    T: IntoIden + Copy + 'static,
    A: IntoIden + Copy + 'static,
    B: IntoIden + Copy + 'static,
    RT: IntoIden + Copy + 'static,
    RC: IntoIden + Copy + 'static,
{
    m.create_table(
        Table::create()
            .table(table)
            .col(big_integer(case_study_col))
            .col(big_integer(other_col))
            .primary_key(Index::create().col(case_study_col).col(other_col))
            .foreign_key(ForeignKey::create().from(table, case_study_col).to(CaseStudies::Table, CaseStudies::Id))
            .foreign_key(ForeignKey::create().from(table, other_col).to(other_table, other_id))
            .to_owned(),
    )
    .await?;
    let mut ix = Index::create();
    ix.name(format!("ix_{}_other", table.into_iden())).table(table).col(other_col);
    m.create_index(ix.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Geographies {
    Table,
    Id,
    Code,
    Name,
    Level,
    ParentId,
    Population,
    PopulationYear,
}

#[derive(DeriveIden, Clone, Copy)]
enum Organisations {
    Table,
    Id,
    Slug,
    Name,
    Kind,
    GeographyId,
    Description,
    Website,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrganisationMembers {
    Table,
    OrganisationId,
    MemberId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Priorities {
    Table,
    Id,
    Slug,
    Number,
    Title,
    Ambition,
    Challenge,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Measures {
    Table,
    Id,
    Slug,
    Name,
    Description,
    Unit,
    Polarity,
    PeriodType,
    MinValue,
    MaxValue,
    WholeNumber,
    PriorityId,
    Position,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Commitments {
    Table,
    Id,
    Slug,
    PriorityId,
    Position,
    Statement,
    MeasureId,
    BaselineValue,
    BaselinePeriod,
    BaselineNote,
    TargetValue,
    TargetPeriod,
    TargetNote,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Returns {
    Table,
    Id,
    OrganisationId,
    Status,
    Note,
    IdempotencyKey,
    RequestFingerprint,
    Outcome,
    SubmittedAt,
    SubmittedBy,
    ReviewedAt,
    ReviewedBy,
    ReviewNote,
}

#[derive(DeriveIden, Clone, Copy)]
enum Observations {
    Table,
    Id,
    MeasureId,
    GeographyId,
    Period,
    PeriodStart,
    PeriodEnd,
    Revision,
    Value,
    Numerator,
    Denominator,
    LowerCi,
    UpperCi,
    Note,
    ReturnId,
    SubmittedAt,
    SubmittedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum PeriodLocks {
    Table,
    Id,
    MeasureId,
    Period,
    LockedAt,
    LockedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum CaseStudies {
    Table,
    Id,
    Slug,
    Title,
    Summary,
    Body,
    Published,
    PublishedAt,
    OwnerOrganisationId,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CaseStudyPriorities {
    Table,
    CaseStudyId,
    PriorityId,
}

#[derive(DeriveIden, Clone, Copy)]
enum CaseStudyGeographies {
    Table,
    CaseStudyId,
    GeographyId,
}

#[derive(DeriveIden, Clone, Copy)]
enum CaseStudyOrganisations {
    Table,
    CaseStudyId,
    OrganisationId,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    ActorSubject,
    ActorOrganisation,
    Action,
    EntityType,
    EntityId,
    Before,
    After,
}

#[derive(DeriveIden, Clone, Copy)]
enum RevokedTokens {
    Table,
    Jti,
    RevokedAt,
    Reason,
}
