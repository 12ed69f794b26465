//! The subscription root, served on `/graphql/ws` (graphql-transport-ws). Each event is
//! read afresh with the subscriber's own visibility: an anonymous subscriber hears only of
//! approved values, a partner also of values in review in its area, and nobody of a return
//! it could not read by query.

use async_graphql::{
    Context, ErrorExtensions as _, Result, Subscription as SubscriptionRoot,
    futures_util::{Stream, StreamExt as _, stream},
};
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{OrGql, guards::require_some_role, measure::Observation, picture::Picture, request, returns::Return};
use crate::{
    catalogue::{geographies, measures, observations, organisations},
    error::AppError,
    events::{Event, Events},
};

/// The most values one `observationsChanged` message carries; a larger return arrives in
/// several messages.
pub const OBSERVATIONS_PER_MESSAGE: u64 = 1_000;

/// Live updates, over WebSocket at `/graphql/ws` with the graphql-transport-ws protocol. A
/// token goes in `connection_init`'s payload as `{"Authorization": "Bearer <token>"}`; without
/// one, a subscriber hears only of published values.
#[derive(Default)]
pub struct Subscription;

/// The events of this process from now on, ending when the server stops.
fn events(ctx: &Context<'_>) -> Result<impl Stream<Item = Event> + use<>> {
    let rx = ctx.data::<Events>()?.subscribe();
    Ok(stream::unfold(rx, |mut rx: Receiver<Event>| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "a subscriber fell behind"),
                Err(RecvError::Closed) => return None,
            }
        }
    }))
}

fn not_found(what: &str, key: &str) -> async_graphql::Error {
    AppError::NotFound(format!("no {what} is '{key}'")).extend()
}

/// Live updates, over WebSocket at `/graphql/ws` with the graphql-transport-ws protocol. A
/// token goes in `connection_init`'s payload as `{"Authorization": "Bearer <token>"}`; without
/// one, a subscriber hears only of published values.
#[SubscriptionRoot]
impl Subscription {
    /// Values as they are written (a return submitted: heard by partners who may see values
    /// in review in that area) or approved (heard by everyone), optionally only those of one
    /// measure and one area. Each message lists the values of one return that changed,
    /// at most 1,000 (a larger return arrives in several messages).
    async fn observations_changed<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "Only values of this measure (its slug).")] measure: Option<String>,
        #[graphql(desc = "Only values of this area (its ONS code).")] geography: Option<String>,
    ) -> Result<impl Stream<Item = Result<Vec<Observation>>> + 'ctx> {
        let r = request(ctx);
        let measure_id = match &measure {
            Some(slug) => {
                Some(measures::by_slug(&r.db, slug).await.gql()?.ok_or_else(|| not_found("measure", slug))?.id)
            }
            None => None,
        };
        let geography_id = match &geography {
            Some(code) => {
                Some(geographies::by_code(&r.db, code).await.gql()?.ok_or_else(|| not_found("area", code))?.id)
            }
            None => None,
        };
        let stream = events(ctx)?
            .filter(|e| std::future::ready(e.status == "SUBMITTED" || e.status == "APPROVED"))
            .then(move |e| async move {
                let mut batches = Vec::new();
                let mut after = 0;
                loop {
                    let rows = observations::of_return(
                        &r.db,
                        e.return_id,
                        (measure_id, geography_id),
                        &r.visibility,
                        after,
                        OBSERVATIONS_PER_MESSAGE,
                    )
                    .await
                    .gql();
                    match rows {
                        Ok(rows) if rows.is_empty() => break,
                        Ok(rows) => {
                            after = rows.last().map_or(after, |o| o.id);
                            let full = rows.len() as u64 == OBSERVATIONS_PER_MESSAGE;
                            batches.push(Ok(rows.into_iter().map(Observation::from).collect()));
                            if !full {
                                break;
                            }
                        }
                        Err(e) => {
                            batches.push(Err(e));
                            break;
                        }
                    }
                }
                stream::iter(batches)
            })
            .flatten();
        Ok(stream)
    }

    /// Returns as they are submitted, approved, rejected or withdrawn, optionally only those
    /// of one organisation (its slug): those the caller may read (a token is needed).
    async fn return_status_changed<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "Only returns of this organisation (its slug).")] organisation: Option<String>,
    ) -> Result<impl Stream<Item = Result<Return>> + 'ctx> {
        require_some_role(ctx)?;
        let r = request(ctx);
        let organisation_id = match &organisation {
            Some(slug) => Some(
                organisations::by_slug(&r.db, slug).await.gql()?.ok_or_else(|| not_found("organisation", slug))?.id,
            ),
            None => None,
        };
        let stream = events(ctx)?
            .then(move |e| async move {
                match crate::returns::by_ids(&r.db, &[e.return_id], &r.visibility).await.gql() {
                    Ok(found) => found
                        .into_iter()
                        .find(|ret| organisation_id.is_none_or(|o| ret.organisation_id == o))
                        .map(|ret| Ok(Return(ret))),
                    Err(e) => Some(Err(e)),
                }
            })
            .filter_map(std::future::ready);
        Ok(stream)
    }

    /// A measure's picture (by its slug) each time an approval changes it: one message for
    /// each period the approved return carried values of.
    async fn picture_changed<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "The measure's slug.")] measure: String,
    ) -> Result<impl Stream<Item = Result<Picture>> + 'ctx> {
        let r = request(ctx);
        let found = measures::by_slug(&r.db, &measure).await.gql()?.ok_or_else(|| not_found("measure", &measure))?;
        let stream = events(ctx)?
            .filter(|e| std::future::ready(e.status == "APPROVED"))
            .then(move |e| {
                let found = found.clone();
                async move {
                    let periods = match observations::periods_of_return(&r.db, e.return_id, found.id).await.gql() {
                        Ok(p) => p,
                        Err(e) => return stream::iter(vec![Err(e)]),
                    };
                    let mut pictures = Vec::new();
                    for period in periods {
                        let built =
                            crate::picture::load::picture(&r.db, found.clone(), Some(period), None, &r.visibility)
                                .await
                                .gql()
                                .map(Picture::new);
                        pictures.push(built);
                    }
                    stream::iter(pictures)
                }
            })
            .flatten();
        Ok(stream)
    }
}
