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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
