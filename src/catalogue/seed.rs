//! Loading reference data (`seed/london-vision.json`) into the database. Loading is
//! idempotent and additive: a row whose natural key (ONS code or slug) already exists is
//! left as it is, so a second run writes nothing and an administrator's edits survive.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{
    case_study, case_study_geography, case_study_organisation, case_study_priority, commitment, geography, measure,
    organisation, organisation_member, priority,
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, PaginatorTrait, TransactionSession, TransactionTrait};
use serde::Deserialize;

use crate::values::{GeographyLevel, GssCode, OrganisationKind, Period, PeriodType, Polarity, Slug, Unit, ValueType};

/// The London Vision reference data, built into the binary so that a fresh machine needs
/// nothing beside it.
pub const LONDON_VISION: &str = include_str!("../../seed/london-vision.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedData {
    #[serde(default)]
    pub about: Option<String>,
    pub geographies: Vec<SeedGeography>,
    pub organisations: Vec<SeedOrganisation>,
    pub priorities: Vec<SeedPriority>,
    pub measures: Vec<SeedMeasure>,
    pub case_studies: Vec<SeedCaseStudy>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedGeography {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent: Option<String>,
    pub population: Option<i64>,
    pub population_year: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedOrganisation {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub geography: String,
    pub description: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedPriority {
    pub slug: String,
    pub number: i32,
    pub title: String,
    pub ambition: String,
    pub challenge: Option<String>,
    pub commitments: Vec<SeedCommitment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedCommitment {
    pub slug: String,
    pub statement: String,
    pub measure: Option<String>,
    pub baseline: Option<SeedValue>,
    pub target: Option<SeedValue>,
}

/// A baseline or target: a value for a period, and where it comes from.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedValue {
    pub value: Option<f64>,
    pub period: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedMeasure {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub polarity: String,
    pub period_type: String,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub whole_number: bool,
    pub priority: Option<String>,
    pub source: Option<String>,
    /// By default the type the unit implies.
    #[serde(default)]
    pub value_type: Option<String>,
    #[serde(default)]
    pub suppress_up_to: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedCaseStudy {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub priorities: Vec<String>,
    pub geographies: Vec<String>,
    pub organisations: Vec<String>,
    pub source: Option<String>,
}

/// How many rows of each kind a load added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub geographies: usize,
    pub organisations: usize,
    pub priorities: usize,
    pub commitments: usize,
    pub measures: usize,
    pub case_studies: usize,
    pub links: usize,
}

impl SeedReport {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Parses and checks a reference data file: every key, code, enum value and period is
/// valid, and every reference points at something in the file.
pub fn parse(text: &str) -> anyhow::Result<SeedData> {
    let data: SeedData = serde_json::from_str(text)?;
    check(&data).map_err(|e| anyhow::anyhow!("reference data: {e}"))?;
    Ok(data)
}

fn check(data: &SeedData) -> Result<(), String> {
    let err = |e: crate::values::ParseError| e.0;
    let mut codes = HashMap::new();
    for g in &data.geographies {
        GssCode::parse(&g.code).map_err(err)?;
        let level = GeographyLevel::parse(&g.level).map_err(err)?;
        match (&g.parent, level.parent()) {
            (None, None) => {}
            (Some(p), Some(parent_level)) => {
                // Parents come before their children in the file.
                if codes.get(p.as_str()) != Some(&parent_level) {
                    return Err(format!(
                        "{} ({level}) needs a parent {parent_level} listed before it, not '{p}'",
                        g.code
                    ));
                }
            }
            _ => return Err(format!("{} ({level}) has the wrong kind of parent", g.code)),
        }
        if codes.insert(g.code.as_str(), level).is_some() {
            return Err(format!("geography {} is listed twice", g.code));
        }
    }
    let org_slugs: HashSet<&str> = data.organisations.iter().map(|o| o.slug.as_str()).collect();
    for o in &data.organisations {
        Slug::parse(&o.slug).map_err(err)?;
        OrganisationKind::parse(&o.kind).map_err(err)?;
        if !codes.contains_key(o.geography.as_str()) {
            return Err(format!("organisation {} names an unknown geography {}", o.slug, o.geography));
        }
        if let Some(m) = o.members.iter().find(|m| !org_slugs.contains(m.as_str())) {
            return Err(format!("organisation {} names an unknown member {m}", o.slug));
        }
    }
    let mut measure_types = HashMap::new();
    let priority_slugs: HashSet<&str> = data.priorities.iter().map(|p| p.slug.as_str()).collect();
    for m in &data.measures {
        Slug::parse(&m.slug).map_err(err)?;
        let unit = Unit::parse(&m.unit).map_err(err)?;
        if let Some(t) = &m.value_type
            && !crate::catalogue::measures::fits_unit(ValueType::parse(t).map_err(err)?, unit)
        {
            return Err(format!("measure {} cannot hold values of type {t} in {unit}", m.slug));
        }
        Polarity::parse(&m.polarity).map_err(err)?;
        let period_type = PeriodType::parse(&m.period_type).map_err(err)?;
        if let Some(p) = m.priority.as_deref().filter(|p| !priority_slugs.contains(p)) {
            return Err(format!("measure {} names an unknown priority {p}", m.slug));
        }
        measure_types.insert(m.slug.as_str(), period_type);
    }
    for p in &data.priorities {
        Slug::parse(&p.slug).map_err(err)?;
        for c in &p.commitments {
            Slug::parse(&c.slug).map_err(err)?;
            let period_type = match &c.measure {
                Some(m) => Some(
                    *measure_types
                        .get(m.as_str())
                        .ok_or(format!("commitment {} names an unknown measure {m}", c.slug))?,
                ),
                None => None,
            };
            for v in [&c.baseline, &c.target].into_iter().flatten() {
                if let Some(text) = &v.period {
                    let period = Period::parse(text).map_err(err)?;
                    // A target year may be a calendar year even for a measure reported by
                    // financial year ("by 2030"), so only the grammar is checked for those.
                    if let Some(t) = period_type
                        && !period.fits(t)
                        && !period.fits(PeriodType::CalendarYear)
                    {
                        return Err(format!("commitment {}: {text} is not a {t} period", c.slug));
                    }
                }
            }
        }
    }
    for c in &data.case_studies {
        Slug::parse(&c.slug).map_err(err)?;
        let bad_priority = c.priorities.iter().find(|p| !priority_slugs.contains(p.as_str()));
        let bad_area = c.geographies.iter().find(|g| !codes.contains_key(g.as_str()));
        let bad_org = c.organisations.iter().find(|o| !org_slugs.contains(o.as_str()));
        if let Some(x) = bad_priority.or(bad_area).or(bad_org) {
            return Err(format!("case study {} names an unknown {x}", c.slug));
        }
    }
    Ok(())
}

/// True when no reference data has been loaded yet.
pub async fn is_empty<C: ConnectionTrait>(db: &C) -> anyhow::Result<bool> {
    Ok(geography::Entity::find().count(db).await? == 0)
}

/// Inserts every row of `data` whose natural key is missing, in one transaction.
pub async fn load<C: ConnectionTrait + TransactionTrait>(db: &C, data: &SeedData) -> anyhow::Result<SeedReport> {
    let tx = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let mut report = SeedReport::default();

    let mut geo_ids: HashMap<String, i64> =
        geography::Entity::find().all(&tx).await?.into_iter().map(|g| (g.code, g.id)).collect();
    for g in &data.geographies {
        if geo_ids.contains_key(&g.code) {
            continue;
        }
        let parent_id = g.parent.as_ref().and_then(|p| geo_ids.get(p).copied());
        let row = geography::ActiveModel {
            code: Set(g.code.clone()),
            name: Set(g.name.clone()),
            level: Set(g.level.clone()),
            parent_id: Set(parent_id),
            population: Set(g.population),
            population_year: Set(g.population_year),
            ..Default::default()
        };
        let id = geography::Entity::insert(row).exec(&tx).await?.last_insert_id;
        geo_ids.insert(g.code.clone(), id);
        report.geographies += 1;
    }

    let mut priority_ids: HashMap<String, i64> =
        priority::Entity::find().all(&tx).await?.into_iter().map(|p| (p.slug, p.id)).collect();
    for p in &data.priorities {
        if priority_ids.contains_key(&p.slug) {
            continue;
        }
        let row = priority::ActiveModel {
            slug: Set(p.slug.clone()),
            number: Set(p.number),
            title: Set(p.title.clone()),
            ambition: Set(p.ambition.clone()),
            challenge: Set(p.challenge.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let id = priority::Entity::insert(row).exec(&tx).await?.last_insert_id;
        priority_ids.insert(p.slug.clone(), id);
        report.priorities += 1;
    }

    let mut measure_ids: HashMap<String, i64> =
        measure::Entity::find().all(&tx).await?.into_iter().map(|m| (m.slug, m.id)).collect();
    for (position, m) in data.measures.iter().enumerate() {
        if measure_ids.contains_key(&m.slug) {
            continue;
        }
        let row = measure::ActiveModel {
            slug: Set(m.slug.clone()),
            name: Set(m.name.clone()),
            description: Set(m.description.clone()),
            unit: Set(m.unit.clone()),
            polarity: Set(m.polarity.clone()),
            period_type: Set(m.period_type.clone()),
            min_value: Set(m.min_value),
            max_value: Set(m.max_value),
            whole_number: Set(m.whole_number),
            priority_id: Set(m.priority.as_ref().and_then(|p| priority_ids.get(p).copied())),
            position: Set(i32::try_from(position + 1)?),
            source: Set(m.source.clone()),
            value_type: Set(match &m.value_type {
                Some(t) => t.clone(),
                None => ValueType::for_unit(Unit::parse(&m.unit)?).as_str().to_owned(),
            }),
            suppress_up_to: Set(m.suppress_up_to),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let id = measure::Entity::insert(row).exec(&tx).await?.last_insert_id;
        measure_ids.insert(m.slug.clone(), id);
        report.measures += 1;
    }

    let commitment_slugs: HashSet<String> =
        commitment::Entity::find().all(&tx).await?.into_iter().map(|c| c.slug).collect();
    for p in &data.priorities {
        let priority_id = priority_ids[&p.slug];
        for (position, c) in p.commitments.iter().enumerate() {
            if commitment_slugs.contains(&c.slug) {
                continue;
            }
            let (b, t) = (c.baseline.as_ref(), c.target.as_ref());
            let row = commitment::ActiveModel {
                slug: Set(c.slug.clone()),
                priority_id: Set(priority_id),
                position: Set(i32::try_from(position + 1)?),
                statement: Set(c.statement.clone()),
                measure_id: Set(c.measure.as_ref().and_then(|m| measure_ids.get(m).copied())),
                baseline_value: Set(b.and_then(|v| v.value)),
                baseline_period: Set(b.and_then(|v| v.period.clone())),
                baseline_note: Set(b.and_then(|v| v.note.clone())),
                target_value: Set(t.and_then(|v| v.value)),
                target_period: Set(t.and_then(|v| v.period.clone())),
                target_note: Set(t.and_then(|v| v.note.clone())),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            commitment::Entity::insert(row).exec(&tx).await?;
            report.commitments += 1;
        }
    }

    let mut org_ids: HashMap<String, i64> =
        organisation::Entity::find().all(&tx).await?.into_iter().map(|o| (o.slug, o.id)).collect();
    for o in &data.organisations {
        if org_ids.contains_key(&o.slug) {
            continue;
        }
        let row = organisation::ActiveModel {
            slug: Set(o.slug.clone()),
            name: Set(o.name.clone()),
            kind: Set(o.kind.clone()),
            geography_id: Set(geo_ids[&o.geography]),
            description: Set(o.description.clone()),
            website: Set(o.website.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let id = organisation::Entity::insert(row).exec(&tx).await?.last_insert_id;
        org_ids.insert(o.slug.clone(), id);
        report.organisations += 1;
    }
    let members: HashSet<(i64, i64)> = organisation_member::Entity::find()
        .all(&tx)
        .await?
        .into_iter()
        .map(|m| (m.organisation_id, m.member_id))
        .collect();
    for o in &data.organisations {
        for m in &o.members {
            let pair = (org_ids[&o.slug], org_ids[m]);
            if members.contains(&pair) {
                continue;
            }
            let row = organisation_member::ActiveModel { organisation_id: Set(pair.0), member_id: Set(pair.1) };
            organisation_member::Entity::insert(row).exec_without_returning(&tx).await?;
            report.links += 1;
        }
    }

    let mut study_ids: HashMap<String, i64> =
        case_study::Entity::find().all(&tx).await?.into_iter().map(|c| (c.slug, c.id)).collect();
    for c in &data.case_studies {
        if study_ids.contains_key(&c.slug) {
            continue;
        }
        let row = case_study::ActiveModel {
            slug: Set(c.slug.clone()),
            title: Set(c.title.clone()),
            summary: Set(c.summary.clone()),
            body: Set(c.body.clone()),
            published: Set(true),
            published_at: Set(Some(now)),
            owner_organisation_id: Set(None),
            source: Set(c.source.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let id = case_study::Entity::insert(row).exec(&tx).await?.last_insert_id;
        study_ids.insert(c.slug.clone(), id);
        report.case_studies += 1;
    }
    report.links += link_case_studies(&tx, data, &study_ids, &priority_ids, &geo_ids, &org_ids).await?;

    tx.commit().await?;
    Ok(report)
}

/// Inserts the missing links from case studies to priorities, areas and organisations.
async fn link_case_studies<C: ConnectionTrait>(
    tx: &C,
    data: &SeedData,
    studies: &HashMap<String, i64>,
    priorities: &HashMap<String, i64>,
    areas: &HashMap<String, i64>,
    orgs: &HashMap<String, i64>,
) -> anyhow::Result<usize> {
    let have_p: HashSet<(i64, i64)> = case_study_priority::Entity::find()
        .all(tx)
        .await?
        .into_iter()
        .map(|l| (l.case_study_id, l.priority_id))
        .collect();
    let have_g: HashSet<(i64, i64)> = case_study_geography::Entity::find()
        .all(tx)
        .await?
        .into_iter()
        .map(|l| (l.case_study_id, l.geography_id))
        .collect();
    let have_o: HashSet<(i64, i64)> = case_study_organisation::Entity::find()
        .all(tx)
        .await?
        .into_iter()
        .map(|l| (l.case_study_id, l.organisation_id))
        .collect();
    let mut added = 0;
    for c in &data.case_studies {
        let id = studies[&c.slug];
        for p in c.priorities.iter().map(|p| priorities[p]).filter(|p| !have_p.contains(&(id, *p))) {
            let row = case_study_priority::ActiveModel { case_study_id: Set(id), priority_id: Set(p) };
            case_study_priority::Entity::insert(row).exec_without_returning(tx).await?;
            added += 1;
        }
        for g in c.geographies.iter().map(|g| areas[g]).filter(|g| !have_g.contains(&(id, *g))) {
            let row = case_study_geography::ActiveModel { case_study_id: Set(id), geography_id: Set(g) };
            case_study_geography::Entity::insert(row).exec_without_returning(tx).await?;
            added += 1;
        }
        for o in c.organisations.iter().map(|o| orgs[o]).filter(|o| !have_o.contains(&(id, *o))) {
            let row = case_study_organisation::ActiveModel { case_study_id: Set(id), organisation_id: Set(o) };
            case_study_organisation::Entity::insert(row).exec_without_returning(tx).await?;
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::{LONDON_VISION, parse};

    #[test]
    fn the_built_in_london_vision_data_is_valid_and_complete() {
        let data = parse(LONDON_VISION).expect("the built-in seed parses");
        assert_eq!(data.priorities.len(), 10);
        assert_eq!(data.measures.len(), 43, "every outcome measure of Table 1");
        assert_eq!(data.measures.iter().filter(|m| m.priority.is_none()).count(), 2);
        assert_eq!(data.geographies.iter().filter(|g| g.level == "BOROUGH").count(), 33);
        assert_eq!(data.geographies.iter().filter(|g| g.level == "ICS").count(), 5);
        assert!(data.case_studies.len() >= 20);
    }

    #[test]
    fn a_reference_to_something_missing_is_refused() {
        let broken = LONDON_VISION.replacen("\"parent\": \"E54000027\"", "\"parent\": \"E54000099\"", 1);
        let err = parse(&broken).expect_err("an unknown parent is refused");
        assert!(err.to_string().contains("parent"), "{err}");
    }
}
