//! `london-vision demo`: a synthetic dataset to explore the picture with. Every measure gets
//! ten periods of values for the 33 boroughs (and, for measures that cannot be added up, for
//! the five ICSs and London too), with numerators and denominators where the measure has
//! them, submitted and approved through the same pipeline as partners' returns. Every value
//! is marked synthetic: its note says so, and so do the return's note and the names of the
//! demo's submitter and reviewer. Nothing here is loaded unless the command is run, and
//! running it again changes nothing (each return carries an idempotency key).
//!
//! The values are made up: a level for the measure, a steady difference for each area and a
//! drift over time, with a little noise, all from a fixed seed so that every run makes the
//! same figures.

use entity::{geography, measure};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use crate::{
    auth::Principal,
    error::{AppError, AppResult},
    returns::{self, RawRow, Rows, Submission},
    values::{GeographyLevel, Period, PeriodType, ReturnStatus, Role, Unit, ValueType},
};

/// The organisation the demo submits as: its area is all of London.
const ORGANISATION: &str = "gla";
/// Who the demo's returns are from and who approves them: named as synthetic.
pub const SUBMITTER: &str = "london-vision-demo (synthetic data)";
const REVIEWER: &str = "london-vision-demo-reviewer (synthetic data)";
/// The note on every demo value and return.
pub const NOTE: &str = "Synthetic demonstration value made by `london-vision demo`: not a real figure.";
/// How many periods each measure gets.
pub const PERIODS: usize = 10;

/// What the demo loaded.
#[derive(Debug, Default, serde::Serialize)]
pub struct DemoReport {
    pub measures: usize,
    pub values: i64,
    /// Returns already loaded by an earlier run, replayed without writing.
    pub already_loaded: usize,
}

/// A fixed-seed generator (SplitMix64): the same figures on every run and machine.
struct Noise(u64);

impl Noise {
    fn new(a: u64, b: u64) -> Self {
        Self(a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xBF58_476D_1CE4_E5B9))
    }

    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number from -1 to 1.
    fn signed(&mut self) -> f64 {
        self.next() * 2.0 - 1.0
    }
}

fn slug_seed(slug: &str) -> u64 {
    slug.bytes().fold(1_469_598_103_934_665_603u64, |h, b| (h ^ u64::from(b)).wrapping_mul(1_099_511_628_211))
}

/// The ten periods of a type ending at the latest complete one of 2024.
pub fn periods(period_type: PeriodType) -> Vec<Period> {
    let last = match period_type {
        PeriodType::CalendarYear => "2024",
        PeriodType::FinancialYear | PeriodType::AcademicYear => "2023/24",
        PeriodType::Quarter => "2024-Q2",
        PeriodType::Month => "2024-06",
        PeriodType::RollingThreeYear => "2022-24",
    };
    let mut out = vec![Period::parse(last).unwrap_or_else(|_| unreachable!("BUG: a fixed period parses"))];
    while out.len() < PERIODS {
        match out.last().and_then(|p| p.previous(period_type)) {
            Some(p) => out.push(p),
            None => break,
        }
    }
    out.reverse();
    out
}

/// The synthetic rows of one measure for the given areas.
fn rows_for(m: &measure::Model, areas: &[geography::Model]) -> AppResult<Vec<RawRow>> {
    let bad = |e: crate::values::ParseError| AppError::Internal(e.to_string());
    let unit = Unit::parse(&m.unit).map_err(bad)?;
    let value_type = ValueType::parse(&m.value_type).map_err(bad)?;
    let period_type = PeriodType::parse(&m.period_type).map_err(bad)?;
    let seed = slug_seed(&m.slug);
    let mut level_noise = Noise::new(seed, 0);
    // The measure's London level and its drift a period, as a share of the level.
    let level = level_noise.next();
    let drift = level_noise.signed() * 0.02;
    let periods = periods(period_type);
    let additive = value_type.additive();
    let mut rows = Vec::new();
    for (a, area) in areas.iter().enumerate() {
        let level_of_area = GeographyLevel::parse(&area.level).map_err(bad)?;
        if additive && level_of_area != GeographyLevel::Borough {
            continue;
        }
        let mut noise = Noise::new(seed, a as u64 + 1);
        let area_offset = noise.signed() * 0.15;
        let population = area.population.unwrap_or(250_000).max(1_000) as f64;
        for (t, period) in periods.iter().enumerate() {
            let wobble = noise.signed() * 0.03;
            let factor = (1.0 + area_offset) * (1.0 + drift * t as f64) * (1.0 + wobble);
            let mut row = RawRow {
                row: i32::try_from(rows.len()).unwrap_or(i32::MAX),
                measure: m.slug.clone(),
                geography: area.code.clone(),
                period: period.as_str().to_owned(),
                value: None,
                numerator: None,
                denominator: None,
                lower_ci: None,
                upper_ci: None,
                note: Some(NOTE.to_owned()),
            };
            match (value_type, unit.multiplier()) {
                (ValueType::Proportion, Some(multiplier)) => {
                    // A share between 5% and 85%, of a cohort of a few thousand.
                    let share = ((0.05 + 0.8 * level) * factor).clamp(0.001, 0.999);
                    let denominator = (population / 80.0).round().max(50.0);
                    let numerator = (share * denominator).round();
                    row.value = Some(numerator / denominator * multiplier);
                    row.numerator = Some(numerator);
                    row.denominator = Some(denominator);
                }
                (ValueType::CrudeRate, Some(multiplier)) => {
                    // Events per head, in the range rates in this unit usually take.
                    let per_head = typical_rate(multiplier, level) * factor;
                    let denominator = population.round();
                    let numerator = (per_head * denominator).round();
                    row.value = Some(numerator / denominator * multiplier);
                    row.numerator = Some(numerator);
                    row.denominator = Some(denominator);
                }
                (ValueType::Count, _) => row.value = Some(((5.0 + 300.0 * level) * factor).round().max(0.0)),
                (ValueType::DirectlyStandardisedRate, Some(multiplier)) => {
                    // A standardised rate of the same size as a crude one, with the events
                    // counted and an interval as submitted.
                    let per_head = typical_rate(multiplier, level) * factor;
                    let numerator = (per_head * population).round().max(1.0);
                    let value = per_head * multiplier;
                    let spread = 1.959_964 * value / numerator.sqrt();
                    row.value = Some(round2(value));
                    row.numerator = Some(numerator);
                    row.lower_ci = Some(round2((value - spread).max(0.0)));
                    row.upper_ci = Some(round2(value + spread));
                }
                _ => {
                    // Means and indices, with an interval as submitted.
                    let (low, high) = (m.min_value.unwrap_or(0.0), m.max_value.unwrap_or(100.0).max(1.0));
                    let centre = low + (high - low) * (0.35 + 0.2 * level);
                    let value = (centre * factor).clamp(low, high);
                    let spread = (value.abs() * 0.08).max(0.1);
                    row.value = Some(round2(value));
                    row.lower_ci = Some(round2((value - spread).max(low)));
                    row.upper_ci = Some(round2((value + spread).min(high)));
                }
            }
            if let Some(v) = row.value {
                let v = v.clamp(m.min_value.unwrap_or(f64::MIN), m.max_value.unwrap_or(f64::MAX));
                row.value = Some(if m.whole_number { v.round() } else { v });
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// A rate per head in the range rates in this unit usually take: 5 to 100 per 100,000,
/// 1 to 30 per 1,000, 1 to 20 per 100.
fn typical_rate(multiplier: f64, level: f64) -> f64 {
    let (low, high) = match multiplier as i64 {
        100_000 => (5.0, 100.0),
        1_000 => (1.0, 30.0),
        _ => (1.0, 20.0),
    };
    (low + (high - low) * level) / multiplier
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Loads the synthetic dataset: one return a measure, submitted and approved.
pub async fn load(db: &DatabaseConnection) -> AppResult<DemoReport> {
    let submitter =
        Principal::for_organisation(db, ORGANISATION, SUBMITTER.into(), vec![Role::Submitter], "demo".into())
            .await?
            .ok_or_else(|| {
                AppError::Internal(format!("the reference data has no '{ORGANISATION}': run `seed` first"))
            })?;
    let reviewer = Principal::for_organisation(db, ORGANISATION, REVIEWER.into(), vec![Role::Approver], "demo".into())
        .await?
        .ok_or_else(|| AppError::Internal(format!("the reference data has no '{ORGANISATION}'")))?;
    let areas = geography::Entity::find().order_by_asc(geography::Column::Code).all(db).await?;
    let areas: Vec<geography::Model> =
        areas.into_iter().filter(|g| g.level != GeographyLevel::Neighbourhood.as_str()).collect();
    let measures = measure::Entity::find().order_by_asc(measure::Column::Position).all(db).await?;
    let mut report = DemoReport::default();
    for m in &measures {
        let rows = rows_for(m, &areas)?;
        let submission = Submission {
            organisation: ORGANISATION.to_owned(),
            rows: Rows::Memory(rows),
            idempotency_key: Some(format!("london-vision-demo-{}", m.slug)),
            dry_run: false,
            note: Some(NOTE.to_owned()),
        };
        let outcome = returns::submit(db, returns::Reference::load(db).await?, &submitter, submission).await?;
        if outcome.rejected > 0 {
            let first = outcome.user_errors.first().map(|e| e.message.clone()).unwrap_or_default();
            return Err(AppError::Internal(format!("the demo values of {} were refused: {first}", m.slug)));
        }
        report.measures += 1;
        report.values += i64::from(outcome.accepted);
        let Some(id) = outcome.return_id else { continue };
        if outcome.replayed {
            report.already_loaded += 1;
            continue;
        }
        if let Err(errors) = returns::review(db, &reviewer, id, ReturnStatus::Approved, Some(NOTE.to_owned())).await? {
            let first = errors.first().map(|e| e.message.clone()).unwrap_or_default();
            return Err(AppError::Internal(format!("the demo return of {} was not approved: {first}", m.slug)));
        }
    }
    Ok(report)
}
