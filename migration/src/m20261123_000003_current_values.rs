//! `current_values`: the current approved value of each (measure, period, area), that is its
//! highest approved revision, kept as approvals happen, so that the picture reads a few
//! hundred rows by key instead of every revision. Filled here from the approvals so far.
//! The picture as of a past moment still reads the revisions themselves.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CurrentValues::Table)
                .col(big_integer(CurrentValues::MeasureId))
                .col(string_len(CurrentValues::Period, 16))
                .col(big_integer(CurrentValues::GeographyId))
                .col(date(CurrentValues::PeriodEnd))
                .col(integer(CurrentValues::Revision))
                .col(big_integer(CurrentValues::ObservationId))
                .col(double(CurrentValues::Value))
                .col(double_null(CurrentValues::Numerator))
                .col(double_null(CurrentValues::Denominator))
                .col(double_null(CurrentValues::LowerCi))
                .col(double_null(CurrentValues::UpperCi))
                .col(timestamp_with_time_zone(CurrentValues::ApprovedAt))
                .primary_key(
                    Index::create()
                        .col(CurrentValues::MeasureId)
                        .col(CurrentValues::Period)
                        .col(CurrentValues::GeographyId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_current_values_latest")
                .table(CurrentValues::Table)
                .col(CurrentValues::MeasureId)
                .col(CurrentValues::PeriodEnd)
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO current_values (measure_id, period, geography_id, period_end, revision, observation_id, \
                   value, numerator, denominator, lower_ci, upper_ci, approved_at) \
                 SELECT measure_id, period, geography_id, period_end, revision, id, value, numerator, denominator, \
                   lower_ci, upper_ci, reviewed_at FROM ( \
                   SELECT o.measure_id, o.period, o.geography_id, o.period_end, o.revision, o.id, o.value, o.numerator, \
                     o.denominator, o.lower_ci, o.upper_ci, COALESCE(r.reviewed_at, r.submitted_at) AS reviewed_at, \
                     ROW_NUMBER() OVER (PARTITION BY o.measure_id, o.period, o.geography_id ORDER BY o.revision DESC) AS newest \
                   FROM observations o JOIN returns r ON r.id = o.return_id \
                   WHERE r.status = 'APPROVED') approved WHERE newest = 1",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

#[derive(DeriveIden)]
enum CurrentValues {
    Table,
    MeasureId,
    Period,
    GeographyId,
    PeriodEnd,
    Revision,
    ObservationId,
    Value,
    Numerator,
    Denominator,
    LowerCi,
    UpperCi,
    ApprovedAt,
}
