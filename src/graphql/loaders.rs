//! Per-request DataLoaders. Every relation field asks here, and all the keys asked for in
//! one tick of the executor are answered with one statement: a list of 33 boroughs with
//! their parents and organisations costs the same number of statements as a list of 3.
//!
//! One loader type serves every relation; each relation has its own key type.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use entity::{case_study, commitment, geography, measure, observation, organisation, priority, return_};
use sea_orm::DatabaseConnection;

use crate::{
    auth::{Directory, directory::Snapshot},
    catalogue::{Visibility, case_studies, geographies, measures, observations, organisations, priorities},
    error::AppError,
    returns,
    values::ReturnStatus,
};

/// The loader of one request: its database pool, what its caller may see, and the kept
/// directory the areas come from.
pub struct Loaders {
    pub db: DatabaseConnection,
    pub visibility: Visibility,
    pub areas: Areas,
}

/// Where a request finds areas: the kept directory (`auth::Directory`), at the version the
/// request read with its other counters, or else as the database has it when first asked (one
/// statement, where reading the areas themselves would be one too).
#[derive(Clone)]
pub struct Areas {
    pub directory: Arc<Directory>,
    pub version: Option<i64>,
}

impl Areas {
    /// The areas with these keys. One the request's version lacks (made by this request's own
    /// mutation, say) is looked for again in the directory as it is now.
    async fn find<K: Copy + Eq + std::hash::Hash>(
        &self,
        db: &DatabaseConnection,
        keys: &[K],
        get: impl Fn(&Snapshot, K) -> Option<Arc<geography::Model>>,
    ) -> LoadResult<K, Arc<geography::Model>> {
        let dir = |version| async move { self.directory.now(db, version).await.map_err(Arc::new) };
        let mut snapshot = dir(self.version).await?;
        let mut found: HashMap<K, Arc<geography::Model>> =
            keys.iter().filter_map(|k| get(&snapshot, *k).map(|g| (*k, g))).collect();
        if found.len() < keys.len() && self.version.is_some() {
            snapshot = dir(None).await?;
            found.extend(keys.iter().filter_map(|k| get(&snapshot, *k).map(|g| (*k, g))));
        }
        Ok(found)
    }
}

type LoadResult<K, V> = Result<HashMap<K, V>, Arc<AppError>>;

/// A row by primary key.
macro_rules! by_id {
    ($key:ident, $model:ty, |$db:ident, $ids:ident, $vis:ident| $fetch:expr) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for Loaders {
            type Value = $model;
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, $model> {
                let $db = &self.db;
                let $vis = &self.visibility;
                let $ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let _ = $vis;
                let rows: Vec<$model> = $fetch.await.map_err(Arc::new)?;
                Ok(rows.into_iter().map(|m| ($key(m.id), m)).collect())
            }
        }
    };
}

/// The rows related to an owner, grouped by the owner's id.
macro_rules! many {
    ($key:ident, $model:ty, |$db:ident, $ids:ident, $vis:ident| $fetch:expr, |$row:ident| $owner:expr) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for Loaders {
            type Value = Vec<$model>;
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Vec<$model>> {
                let $db = &self.db;
                let $vis = &self.visibility;
                let _ = $vis;
                let $ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let mut out: HashMap<$key, Vec<$model>> = keys.iter().map(|k| (*k, Vec::new())).collect();
                for $row in $fetch.await.map_err(Arc::new)? {
                    let (owner, item) = $owner;
                    out.entry($key(owner)).or_default().push(item);
                }
                Ok(out)
            }
        }
    };
}

/// An area by id, from the kept directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeographyById(pub i64);

impl Loader<GeographyById> for Loaders {
    type Value = Arc<geography::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[GeographyById]) -> LoadResult<GeographyById, Self::Value> {
        self.areas.find(&self.db, keys, |s, k| s.geography(k.0)).await
    }
}
by_id!(OrganisationById, organisation::Model, |db, ids, vis| organisations::by_ids(db, &ids));
by_id!(PriorityById, priority::Model, |db, ids, vis| priorities::by_ids(db, &ids));
by_id!(CommitmentById, commitment::Model, |db, ids, vis| priorities::commitments_by_ids(db, &ids));
by_id!(MeasureById, measure::Model, |db, ids, vis| measures::by_ids(db, &ids));
by_id!(CaseStudyById, case_study::Model, |db, ids, vis| case_studies::by_ids(db, &ids, vis));
by_id!(ReturnById, return_::Model, |db, ids, vis| returns::by_ids(db, &ids, vis));
by_id!(ObservationById, observation::Model, |db, ids, vis| observations::by_ids(db, &ids, vis));

many!(ChildrenOf, geography::Model, |db, ids, vis| geographies::children_of(db, &ids), |g| (
    g.parent_id.unwrap_or_default(),
    g
));
many!(OrganisationsIn, organisation::Model, |db, ids, vis| organisations::in_geographies(db, &ids), |o| (
    o.geography_id,
    o
));
many!(MembersOf, organisation::Model, |db, ids, vis| organisations::members_of(db, &ids), |pair| pair);
many!(CommitmentsOfPriority, commitment::Model, |db, ids, vis| priorities::commitments_of_priorities(db, &ids), |c| (
    c.priority_id,
    c
));
many!(CommitmentsOfMeasure, commitment::Model, |db, ids, vis| priorities::commitments_of_measures(db, &ids), |c| (
    c.measure_id.unwrap_or_default(),
    c
));
many!(MeasuresOfPriority, measure::Model, |db, ids, vis| measures::of_priorities(db, &ids), |m| (
    m.priority_id.unwrap_or_default(),
    m
));
many!(CaseStudiesOfPriority, case_study::Model, |db, ids, vis| case_studies::of_priorities(db, &ids, vis), |pair| pair);
many!(PrioritiesOfCaseStudy, priority::Model, |db, ids, vis| case_studies::priorities_of(db, &ids), |pair| pair);
many!(GeographiesOfCaseStudy, geography::Model, |db, ids, vis| case_studies::geographies_of(db, &ids), |pair| pair);
many!(OrganisationsOfCaseStudy, organisation::Model, |db, ids, vis| case_studies::organisations_of(db, &ids), |pair| {
    pair
});

many!(LockedPeriodsOf, String, |db, ids, vis| returns::locks::locked_periods(db, &ids), |pair| pair);

/// A geography by its ONS code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GeographyByCode(pub String);

impl Loader<GeographyByCode> for Loaders {
    type Value = Arc<geography::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[GeographyByCode]) -> LoadResult<GeographyByCode, Self::Value> {
        let refs: Vec<&GeographyByCode> = keys.iter().collect();
        let found = self.areas.find(&self.db, &refs, |s, k| s.geography_by_code(&k.0)).await?;
        Ok(found.into_iter().map(|(k, g)| (k.clone(), g)).collect())
    }
}

/// One page of a measure's current values; pages with the same filters and arguments are
/// fetched for all their measures in one statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObservationPageOf {
    pub measure_id: i64,
    pub geography_id: Option<i64>,
    pub period: Option<String>,
    pub level: Option<crate::values::GeographyLevel>,
    pub args: crate::catalogue::page::PageArgs,
}

impl Loader<ObservationPageOf> for Loaders {
    type Value = Arc<crate::catalogue::page::Page<Arc<observation::Model>>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ObservationPageOf]) -> LoadResult<ObservationPageOf, Self::Value> {
        type Group =
            (Option<i64>, Option<String>, Option<crate::values::GeographyLevel>, crate::catalogue::page::PageArgs);
        let mut groups: HashMap<Group, Vec<i64>> = HashMap::new();
        for k in keys {
            groups.entry((k.geography_id, k.period.clone(), k.level, k.args)).or_default().push(k.measure_id);
        }
        let mut out = HashMap::new();
        for ((geography_id, period, level, args), ids) in groups {
            let filter = observations::Only { geography_id, period: period.as_deref(), level };
            let pages =
                observations::current_pages(&self.db, &ids, filter, &self.visibility, args).await.map_err(Arc::new)?;
            for (measure_id, page) in pages {
                let key = ObservationPageOf { measure_id, geography_id, period: period.clone(), level, args };
                out.insert(key, Arc::new(page.map(Arc::new)));
            }
        }
        Ok(out)
    }
}

/// One page of the values a return carried; pages with the same arguments are fetched for
/// all their returns at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReturnObservationsPage {
    pub return_id: i64,
    pub args: crate::catalogue::page::PageArgs,
}

impl Loader<ReturnObservationsPage> for Loaders {
    type Value = Arc<crate::catalogue::page::Page<observation::Model>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ReturnObservationsPage]) -> LoadResult<ReturnObservationsPage, Self::Value> {
        let mut groups: HashMap<crate::catalogue::page::PageArgs, Vec<i64>> = HashMap::new();
        for k in keys {
            groups.entry(k.args).or_default().push(k.return_id);
        }
        let mut out = HashMap::new();
        for (args, ids) in groups {
            for (return_id, page) in crate::returns::observations_of(&self.db, &ids, args).await.map_err(Arc::new)? {
                out.insert(ReturnObservationsPage { return_id, args }, Arc::new(page));
            }
        }
        Ok(out)
    }
}

/// The areas whose figure of a measure in a period the caller may not see. The key carries
/// the measure already loaded (its rules), and is told apart by the measure's id and the
/// period alone.
#[derive(Debug, Clone)]
pub struct HiddenIn {
    pub measure: Arc<entity::measure::Model>,
    pub period: String,
}

impl PartialEq for HiddenIn {
    fn eq(&self, other: &Self) -> bool {
        self.measure.id == other.measure.id && self.period == other.period
    }
}

impl Eq for HiddenIn {}

impl std::hash::Hash for HiddenIn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.measure.id.hash(state);
        self.period.hash(state);
    }
}

impl Loader<HiddenIn> for Loaders {
    type Value = std::collections::BTreeSet<i64>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[HiddenIn]) -> LoadResult<HiddenIn, Self::Value> {
        let mut wanted: Vec<(&entity::measure::Model, Vec<String>)> = Vec::new();
        for k in keys {
            match wanted.iter_mut().find(|(m, _)| m.id == k.measure.id) {
                Some((_, periods)) => periods.push(k.period.clone()),
                None => wanted.push((&k.measure, vec![k.period.clone()])),
            }
        }
        let mut hidden =
            crate::picture::load::hidden_in(&self.db, &wanted, &self.visibility).await.map_err(Arc::new)?;
        let mut out = HashMap::new();
        for k in keys {
            let set = hidden.remove(&(k.measure.id, k.period.clone())).unwrap_or_default();
            out.insert(k.clone(), set);
        }
        Ok(out)
    }
}

/// The series breaks of a measure, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesBreaksOf(pub i64);

impl Loader<SeriesBreaksOf> for Loaders {
    type Value = Vec<entity::series_break::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[SeriesBreaksOf]) -> LoadResult<SeriesBreaksOf, Self::Value> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut rows = crate::catalogue::rows_where_in::<entity::series_break::Entity, _>(
            &self.db,
            entity::series_break::Column::MeasureId,
            &ids,
        )
        .await
        .map_err(Arc::new)?;
        rows.sort_by_key(|b| b.period_start);
        let mut out: HashMap<SeriesBreaksOf, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            out.entry(SeriesBreaksOf(row.measure_id)).or_default().push(row);
        }
        Ok(out)
    }
}

/// London's figures of a measure in the picture, oldest period first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LondonSeriesOf(pub i64);

impl Loader<LondonSeriesOf> for Loaders {
    type Value = Vec<crate::picture::load::LondonValue>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[LondonSeriesOf]) -> LoadResult<LondonSeriesOf, Self::Value> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut found =
            crate::picture::load::london_series(&self.db, &ids, &self.visibility).await.map_err(Arc::new)?;
        Ok(keys.iter().map(|k| (*k, found.remove(&k.0).unwrap_or_default())).collect())
    }
}

/// Every visible revision of a value, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HistoryOf {
    pub measure_id: i64,
    pub geography_id: i64,
    pub period: String,
}

impl Loader<HistoryOf> for Loaders {
    type Value = Vec<observation::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[HistoryOf]) -> LoadResult<HistoryOf, Vec<observation::Model>> {
        let triples: Vec<(i64, i64, String)> =
            keys.iter().map(|k| (k.measure_id, k.geography_id, k.period.clone())).collect();
        let mut found = observations::history(&self.db, &triples, &self.visibility).await.map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|k| (k.clone(), found.remove(&(k.measure_id, k.geography_id, k.period.clone())).unwrap_or_default()))
            .collect())
    }
}

/// The review status of the return that carried a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusOfReturn(pub i64);

impl Loader<StatusOfReturn> for Loaders {
    type Value = ReturnStatus;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[StatusOfReturn]) -> LoadResult<StatusOfReturn, ReturnStatus> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = observations::return_statuses(&self.db, &ids).await.map_err(Arc::new)?;
        Ok(found.into_iter().map(|(id, s)| (StatusOfReturn(id), s)).collect())
    }
}
