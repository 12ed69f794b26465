//! `returns`: one submission of local figures by one organisation.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "returns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organisation_id: i64,
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub outcome: Option<String>,
    pub submitted_at: DateTimeUtc,
    pub submitted_by: String,
    pub reviewed_at: Option<DateTimeUtc>,
    pub reviewed_by: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub review_note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
