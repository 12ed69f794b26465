//! `case_study_geographies`: links a case study to geographies.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "case_study_geographies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_study_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub geography_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
