//! `observations`: append-only revisions of a value for a measure, geography and period.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "observations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub measure_id: i64,
    pub geography_id: i64,
    pub period: String,
    pub period_start: Date,
    pub period_end: Date,
    pub revision: i32,
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub lower_ci: Option<f64>,
    pub upper_ci: Option<f64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub return_id: i64,
    pub submitted_at: DateTimeUtc,
    pub submitted_by: String,
    /// The row of its return that carried it (0-based position, or CSV line); null for
    /// values written before rows were kept.
    pub source_row: Option<i32>,
    /// The current value it replaced when it was written; null when there was none, or for
    /// values written before replaced values were kept (`source_row` null).
    pub replaced_value: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
