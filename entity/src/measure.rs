//! `measures`: outcome measures, with the unit, polarity, period type and bounds values are
//! checked against.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "measures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub unit: String,
    pub polarity: String,
    pub period_type: String,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub whole_number: bool,
    pub priority_id: Option<i64>,
    pub position: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub source: Option<String>,
    pub value_type: String,
    pub suppress_up_to: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
