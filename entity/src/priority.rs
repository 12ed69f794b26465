//! `priorities`: the areas of focus for pan-London action.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "priorities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    #[sea_orm(unique)]
    pub number: i32,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub ambition: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub challenge: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
