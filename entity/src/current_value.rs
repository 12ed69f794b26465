use sea_orm::entity::prelude::*;

/// The current approved value of a (measure, period, area): its highest approved revision.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "current_values")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub measure_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub geography_id: i64,
    pub period_end: Date,
    pub revision: i32,
    pub observation_id: i64,
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub lower_ci: Option<f64>,
    pub upper_ci: Option<f64>,
    pub approved_at: DateTimeUtc,
    /// Whether the disclosure rule hides the value from a viewer with no areas of its own;
    /// NULL until worked out.
    pub public_hidden: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
