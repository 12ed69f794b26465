//! What the pan-London picture needs of a measure: the kind of statistic its values are
//! (`value_type`, which decides aggregation and intervals), its disclosure rule
//! (`suppress_up_to`: counts from 1 to this number are hidden from those outside the area),
//! and the periods where its definition changed (`series_breaks`), which trends never cross.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column a statement.
        m.alter_table(
            Table::alter()
                .table(Measures::Table)
                .add_column(string_len(Measures::ValueType, 40).default("PROPORTION"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Measures::Table).add_column(integer_null(Measures::SuppressUpTo)).to_owned(),
        )
        .await?;
        // Existing measures take the type their unit implies.
        let db = m.get_connection();
        for (unit, value_type) in [
            ("RATE_PER_100", "CRUDE_RATE"),
            ("RATE_PER_1000", "CRUDE_RATE"),
            ("RATE_PER_100000", "CRUDE_RATE"),
            ("COUNT", "COUNT"),
            ("YEARS", "MEAN"),
            ("PERCENTAGE_POINTS", "INDEX"),
        ] {
            db.execute(
                &Query::update()
                    .table(Measures::Table)
                    .value(Measures::ValueType, value_type)
                    .and_where(Expr::col(Measures::Unit).eq(unit))
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(SeriesBreaks::Table)
                .col(big_pk_auto(SeriesBreaks::Id))
                .col(big_integer(SeriesBreaks::MeasureId))
                .col(string_len(SeriesBreaks::Period, 16))
                .col(date(SeriesBreaks::PeriodStart))
                .col(text(SeriesBreaks::Note))
                .col(timestamp_with_time_zone(SeriesBreaks::CreatedAt))
                .col(string(SeriesBreaks::CreatedBy))
                .foreign_key(
                    ForeignKey::create()
                        .from(SeriesBreaks::Table, SeriesBreaks::MeasureId)
                        .to(Measures::Table, Measures::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_series_breaks_measure_period")
                .table(SeriesBreaks::Table)
                .col(SeriesBreaks::MeasureId)
                .col(SeriesBreaks::Period)
                .unique()
                .to_owned(),
        )
        .await?;
        // The picture as of a moment reads approvals by time.
        m.create_index(
            Index::create().name("ix_returns_reviewed_at").table(Returns::Table).col(Returns::ReviewedAt).to_owned(),
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

#[derive(DeriveIden)]
enum Measures {
    Table,
    Id,
    Unit,
    ValueType,
    SuppressUpTo,
}

#[derive(DeriveIden)]
enum Returns {
    Table,
    ReviewedAt,
}

#[derive(DeriveIden)]
enum SeriesBreaks {
    Table,
    Id,
    MeasureId,
    Period,
    PeriodStart,
    Note,
    CreatedAt,
    CreatedBy,
}
