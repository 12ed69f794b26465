//! `webhooks`: an organisation's endpoint for news of returns, with its signing secret.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organisation_id: i64,
    pub url: String,
    /// The key of the HMAC that signs each delivery; shown once, when the hook is created.
    pub secret: String,
    /// The events it is sent, comma-separated (`RETURN_SUBMITTED`, ...).
    pub events: String,
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
