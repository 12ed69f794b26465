//! `issued_tokens`: every token this server signs, by id (`jti`), so that an operator can
//! tell a token it issued from a mistyped id, and so that tokens can be listed later. The
//! secret itself is never stored.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(IssuedTokens::Table)
                .col(string_len(IssuedTokens::Jti, 128).primary_key())
                .col(string_len(IssuedTokens::Organisation, 100))
                .col(string_len(IssuedTokens::Subject, 200))
                .col(string_len(IssuedTokens::Roles, 100))
                .col(timestamp_with_time_zone(IssuedTokens::IssuedAt))
                .col(timestamp_with_time_zone(IssuedTokens::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_issued_tokens_organisation")
                .table(IssuedTokens::Table)
                .col(IssuedTokens::Organisation)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

#[derive(DeriveIden)]
enum IssuedTokens {
    Table,
    Jti,
    Organisation,
    Subject,
    Roles,
    IssuedAt,
    ExpiresAt,
}
