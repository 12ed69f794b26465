//! `case_study_priorities`: links a case study to priorities.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "case_study_priorities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_study_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub priority_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
