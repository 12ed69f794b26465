//! `commitments`: what the partnership commits to under a priority, with baseline and target.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "commitments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub priority_id: i64,
    pub position: i32,
    #[sea_orm(column_type = "Text")]
    pub statement: String,
    pub measure_id: Option<i64>,
    pub baseline_value: Option<f64>,
    pub baseline_period: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub baseline_note: Option<String>,
    pub target_value: Option<f64>,
    pub target_period: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub target_note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
