//! Webhooks: an organisation's endpoints told when a return is submitted, approved, rejected
//! or withdrawn, and every delivery to them (queued in the same transaction as the change it
//! tells of, so none is lost or sent for a change that was rolled back).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Webhooks::Table)
                .col(big_pk_auto(Webhooks::Id))
                .col(big_integer(Webhooks::OrganisationId))
                .col(string_len(Webhooks::Url, 2048))
                .col(string_len(Webhooks::Secret, 128))
                .col(string_len(Webhooks::Events, 200))
                .col(string_len_null(Webhooks::Description, 200))
                .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                .col(string_len(Webhooks::CreatedBy, 200))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhooks_organisation")
                .table(Webhooks::Table)
                .col(Webhooks::OrganisationId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(big_pk_auto(WebhookDeliveries::Id))
                .col(big_integer(WebhookDeliveries::WebhookId))
                .col(string_len(WebhookDeliveries::Event, 40))
                .col(big_integer(WebhookDeliveries::ReturnId))
                .col(text(WebhookDeliveries::Body))
                .col(string_len(WebhookDeliveries::Status, 20))
                .col(integer(WebhookDeliveries::Attempts))
                .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                .col(timestamp_with_time_zone_null(WebhookDeliveries::LastAttemptAt))
                .col(integer_null(WebhookDeliveries::ResponseStatus))
                .col(text_null(WebhookDeliveries::ResponseBody))
                .col(text_null(WebhookDeliveries::Error))
                .col(timestamp_with_time_zone_null(WebhookDeliveries::DeliveredAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_webhook")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::WebhookId)
                .col(WebhookDeliveries::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_due")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::Status)
                .col(WebhookDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    OrganisationId,
    Url,
    Secret,
    Events,
    Description,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    Event,
    ReturnId,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    CreatedAt,
    LastAttemptAt,
    ResponseStatus,
    ResponseBody,
    Error,
    DeliveredAt,
}
