//! Checking one row of a return against the catalogue and the measure's rules. Every problem
//! of a row is reported, with the row it came from; a row with none becomes a `ValidRow`.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::NaiveDate;
use entity::{geography, measure};

use super::RawRow;
use crate::{
    auth::Scope,
    error::UserError,
    values::{Lines, Period, PeriodType, Unit, UserErrorCode, describe_character, forbidden_character},
};

/// The longest note accepted on a value.
pub const MAX_NOTE: usize = 2_000;

/// How far a value may be from what its numerator and denominator give: values are often
/// published rounded to one decimal place.
const ROUNDING: f64 = 0.051;

/// A row that passed every check, with its references resolved.
#[derive(Debug, Clone)]
pub struct ValidRow {
    pub row: i32,
    pub measure_id: i64,
    pub measure: String,
    pub geography_id: i64,
    pub geography: String,
    pub period: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub lower_ci: Option<f64>,
    pub upper_ci: Option<f64>,
    pub note: Option<String>,
}

/// What every return is checked against: the catalogue's measures by slug, the areas by ONS
/// code and the periods closed to submissions. Read in three statements; the server keeps it
/// with the directory (`auth::Directory`), which the database's directory version keeps
/// current, so a submission reads none of it. Inside its transaction a write checks the
/// closed periods again under their locks (`write`), so a period locked a moment ago still
/// holds.
#[derive(Debug, Clone, Default)]
pub struct Reference {
    pub measures: Arc<HashMap<String, measure::Model>>,
    pub geographies: Arc<HashMap<String, geography::Model>>,
    pub locks: Arc<HashSet<(i64, String)>>,
}

impl Reference {
    /// Read from the database (three statements).
    pub async fn load<C: sea_orm::ConnectionTrait>(db: &C) -> Result<Self, sea_orm::DbErr> {
        use sea_orm::EntityTrait;
        Ok(Self {
            geographies: Arc::new(
                geography::Entity::find().all(db).await?.into_iter().map(|g| (g.code.clone(), g)).collect(),
            ),
            ..Self::load_catalogue(db).await?
        })
    }

    /// The measures and closed periods only (two statements), for a caller that has the areas.
    pub async fn load_catalogue<C: sea_orm::ConnectionTrait>(db: &C) -> Result<Self, sea_orm::DbErr> {
        use sea_orm::EntityTrait;
        Ok(Self {
            measures: Arc::new(
                measure::Entity::find().all(db).await?.into_iter().map(|m| (m.slug.clone(), m)).collect(),
            ),
            geographies: Arc::default(),
            locks: Arc::new(
                entity::period_lock::Entity::find()
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|l| (l.measure_id, l.period))
                    .collect(),
            ),
        })
    }
}

/// What rows are checked against: the catalogue, the caller's area and the locked periods.
#[derive(Clone)]
pub struct Rules {
    pub measures: Arc<HashMap<String, measure::Model>>,
    pub geographies: Arc<HashMap<String, geography::Model>>,
    /// (measure id, period) pairs closed to submissions.
    pub locks: Arc<HashSet<(i64, String)>>,
    pub scope: Scope,
    /// (measure id, geography id, period) already seen in this return.
    pub seen: HashSet<(i64, i64, String)>,
}

fn err(row: i32, field: &str, code: UserErrorCode, message: impl Into<String>) -> UserError {
    let mut e = UserError::new(&["values", &row.to_string(), field], code, message);
    e.row = Some(row);
    e
}

impl Rules {
    /// Checks `raw`; its problems go to `errors`, in field order.
    pub fn check(&mut self, raw: &RawRow, errors: &mut Vec<UserError>) -> Option<ValidRow> {
        let start = errors.len();
        let r = raw.row;
        let measure = self.measures.get(raw.measure.trim());
        if measure.is_none() {
            errors.push(err(
                r,
                "measure",
                UserErrorCode::NotFound,
                format!("no measure has the slug '{}'", raw.measure),
            ));
        }
        let area = self.geographies.get(raw.geography.trim());
        match area {
            None => errors.push(err(
                r,
                "geography",
                UserErrorCode::NotFound,
                format!("no geography has the code '{}'", raw.geography),
            )),
            Some(g) if !self.scope.contains(g.id) => errors.push(err(
                r,
                "geography",
                UserErrorCode::OutOfScope,
                format!("{} ({}) is outside your organisation's area", g.name, g.code),
            )),
            Some(_) => {}
        }
        let period = match Period::parse(raw.period.trim()) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(err(r, "period", UserErrorCode::Invalid, e.0));
                None
            }
        };
        let (Some(measure), Some(area), Some(period)) = (measure, area, period) else {
            return None;
        };
        let period_type = PeriodType::parse(&measure.period_type).ok()?;
        let Some(bounds) = period.bounds(period_type) else {
            errors.push(err(
                r,
                "period",
                UserErrorCode::WrongPeriodType,
                format!(
                    "{} is reported by {period_type} periods like {}, not '{period}'",
                    measure.slug,
                    period_type.example()
                ),
            ));
            return None;
        };
        if self.locks.contains(&(measure.id, period.to_string())) {
            errors.push(err(
                r,
                "period",
                UserErrorCode::PeriodLocked,
                format!("{} for {period} is locked", measure.slug),
            ));
        }
        let key = (measure.id, area.id, period.to_string());
        if self.seen.contains(&key) {
            errors.push(err(
                r,
                "period",
                UserErrorCode::Duplicate,
                format!("another row of this return is already for {} in {} for {period}", measure.slug, area.code),
            ));
        }
        let unit = Unit::parse(&measure.unit).ok()?;
        let value = self.check_figures(raw, measure, unit, errors);
        if let Some(c) = raw.note.as_deref().and_then(|n| forbidden_character(n, Lines::Many)) {
            errors.push(err(
                r,
                "note",
                UserErrorCode::Invalid,
                format!("the note holds the control character {}, which is not allowed", describe_character(c)),
            ));
        } else if let Some(note) = &raw.note
            && note.chars().count() > MAX_NOTE
        {
            errors.push(err(
                r,
                "note",
                UserErrorCode::TooLong,
                format!("a note may have at most {MAX_NOTE} characters"),
            ));
        }
        if errors.len() > start {
            return None;
        }
        self.seen.insert(key);
        Some(ValidRow {
            row: r,
            measure_id: measure.id,
            measure: measure.slug.clone(),
            geography_id: area.id,
            geography: area.code.clone(),
            period: period.to_string(),
            period_start: bounds.start,
            period_end: bounds.end,
            value: value?,
            numerator: raw.numerator,
            denominator: raw.denominator,
            lower_ci: raw.lower_ci,
            upper_ci: raw.upper_ci,
            note: raw.note.clone().filter(|n| !n.trim().is_empty()),
        })
    }

    /// Checks the numbers of a row; returns the value (given, or made from numerator and
    /// denominator for a ratio).
    fn check_figures(&self, raw: &RawRow, m: &measure::Model, unit: Unit, errors: &mut Vec<UserError>) -> Option<f64> {
        let r = raw.row;
        let before = errors.len();
        for (field, v) in [
            ("value", raw.value),
            ("numerator", raw.numerator),
            ("denominator", raw.denominator),
            ("lowerCi", raw.lower_ci),
            ("upperCi", raw.upper_ci),
        ] {
            if v.is_some_and(|v| !v.is_finite()) {
                errors.push(err(r, field, UserErrorCode::Invalid, format!("`{field}` must be a finite number")));
            }
        }
        if errors.len() > before {
            return None;
        }
        if raw.numerator.is_some_and(|n| n < 0.0) {
            errors.push(err(r, "numerator", UserErrorCode::OutOfRange, "a numerator cannot be negative"));
        }
        if raw.denominator.is_some_and(|d| d <= 0.0) {
            errors.push(err(r, "denominator", UserErrorCode::OutOfRange, "a denominator must be above zero"));
        }
        let from_counts = match (raw.numerator, raw.denominator, unit.multiplier()) {
            (Some(n), Some(d), Some(k)) if d > 0.0 => Some(n / d * k),
            _ => None,
        };
        if unit == Unit::Percent
            && let (Some(n), Some(d)) = (raw.numerator, raw.denominator)
            && n > d
        {
            errors.push(err(
                r,
                "numerator",
                UserErrorCode::Inconsistent,
                format!("the numerator {n} is above the denominator {d}"),
            ));
        }
        let value = match (raw.value, from_counts) {
            (Some(v), Some(expected)) => {
                if (v - expected).abs() > ROUNDING.max(expected.abs() * 1e-3) {
                    errors.push(err(
                        r,
                        "value",
                        UserErrorCode::Inconsistent,
                        format!("the value {v} is not what the numerator and denominator give ({expected:.2})"),
                    ));
                }
                v
            }
            (Some(v), None) => v,
            (None, Some(expected)) => expected,
            (None, None) => {
                errors.push(err(r, "value", UserErrorCode::Required, "give a value (or a numerator and denominator)"));
                return None;
            }
        };
        if m.min_value.is_some_and(|lo| value < lo) || m.max_value.is_some_and(|hi| value > hi) {
            let range = match (m.min_value, m.max_value) {
                (Some(lo), Some(hi)) => format!("from {lo} to {hi}"),
                (Some(lo), None) => format!("at least {lo}"),
                (None, Some(hi)) => format!("at most {hi}"),
                (None, None) => String::new(),
            };
            errors.push(err(
                r,
                "value",
                UserErrorCode::OutOfRange,
                format!("{} takes values {range}, not {value}", m.slug),
            ));
        }
        if m.whole_number && value.fract() != 0.0 {
            errors.push(err(
                r,
                "value",
                UserErrorCode::OutOfRange,
                format!("{} counts whole numbers, not {value}", m.slug),
            ));
        }
        if let (Some(lo), Some(hi)) = (raw.lower_ci, raw.upper_ci)
            && lo > hi
        {
            errors.push(err(
                r,
                "lowerCi",
                UserErrorCode::Inconsistent,
                "the lower confidence limit is above the upper",
            ));
        } else if raw.lower_ci.is_some_and(|lo| lo > value) || raw.upper_ci.is_some_and(|hi| hi < value) {
            errors.push(err(
                r,
                "lowerCi",
                UserErrorCode::Inconsistent,
                "the confidence interval does not contain the value",
            ));
        }
        (errors.len() == before).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::Utc;
    use entity::{geography, measure};

    use super::{RawRow, Rules};
    use crate::{auth::Scope, values::UserErrorCode};

    fn measure(slug: &str, unit: &str, period_type: &str, min: Option<f64>, max: Option<f64>) -> measure::Model {
        measure::Model {
            id: slug.len() as i64,
            slug: slug.into(),
            name: slug.into(),
            description: String::new(),
            unit: unit.into(),
            polarity: "LOW_IS_GOOD".into(),
            period_type: period_type.into(),
            min_value: min,
            max_value: max,
            whole_number: unit == "COUNT",
            priority_id: None,
            position: 1,
            source: None,
            value_type: "PROPORTION".into(),
            suppress_up_to: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn area(id: i64, code: &str) -> geography::Model {
        geography::Model {
            id,
            code: code.into(),
            name: code.into(),
            level: "BOROUGH".into(),
            parent_id: None,
            population: None,
            population_year: None,
        }
    }

    fn row(measure: &str, geography: &str, period: &str, value: Option<f64>) -> RawRow {
        RawRow {
            row: 0,
            measure: measure.into(),
            geography: geography.into(),
            period: period.into(),
            value,
            ..RawRow::default()
        }
    }

    fn codes(scope: &Scope, raw: RawRow) -> Vec<UserErrorCode> {
        let mut rules = Rules {
            measures: std::sync::Arc::new(
                [
                    measure("obesity", "PERCENT", "ACADEMIC_YEAR", Some(0.0), Some(100.0)),
                    measure("rough-sleeping", "COUNT", "FINANCIAL_YEAR", Some(0.0), None),
                ]
                .into_iter()
                .map(|m| (m.slug.clone(), m))
                .collect(),
            ),
            geographies: std::sync::Arc::new(
                [area(7, "E09000007"), area(8, "E09000008")].into_iter().map(|g| (g.code.clone(), g)).collect(),
            ),
            locks: std::sync::Arc::new(HashSet::from([(7, "2019/20".to_owned())])),
            scope: scope.clone(),
            seen: HashSet::new(),
        };
        let mut errors = Vec::new();
        rules.check(&raw, &mut errors);
        errors.into_iter().map(|e| e.code).collect()
    }

    #[test]
    fn each_rule_of_a_row_has_its_code() {
        let scope = Scope { root: 7, geographies: HashSet::from([7]), london_wide: false };
        let ok = |r| codes(&scope, r).is_empty();
        assert!(ok(row("obesity", "E09000007", "2022/23", Some(21.5))));
        let cases = [
            (row("nope", "E09000007", "2022/23", Some(1.0)), UserErrorCode::NotFound),
            (row("obesity", "E09000099", "2022/23", Some(1.0)), UserErrorCode::NotFound),
            (row("obesity", "E09000008", "2022/23", Some(1.0)), UserErrorCode::OutOfScope),
            (row("obesity", "E09000007", "2022/25", Some(1.0)), UserErrorCode::Invalid),
            (row("obesity", "E09000007", "2022", Some(1.0)), UserErrorCode::WrongPeriodType),
            (row("obesity", "E09000007", "2019/20", Some(1.0)), UserErrorCode::PeriodLocked),
            (row("obesity", "E09000007", "2022/23", Some(101.0)), UserErrorCode::OutOfRange),
            (row("obesity", "E09000007", "2022/23", Some(f64::NAN)), UserErrorCode::Invalid),
            (row("rough-sleeping", "E09000007", "2022/23", Some(-1.0)), UserErrorCode::OutOfRange),
            (row("rough-sleeping", "E09000007", "2022/23", Some(10.5)), UserErrorCode::OutOfRange),
            (row("obesity", "E09000007", "2022/23", None), UserErrorCode::Required),
            (
                RawRow {
                    numerator: Some(12.0),
                    denominator: Some(10.0),
                    ..row("obesity", "E09000007", "2022/23", None)
                },
                UserErrorCode::Inconsistent,
            ),
            (
                RawRow {
                    numerator: Some(20.0),
                    denominator: Some(100.0),
                    ..row("obesity", "E09000007", "2022/23", Some(25.0))
                },
                UserErrorCode::Inconsistent,
            ),
            (
                RawRow {
                    lower_ci: Some(22.0),
                    upper_ci: Some(25.0),
                    ..row("obesity", "E09000007", "2022/23", Some(21.5))
                },
                UserErrorCode::Inconsistent,
            ),
            (
                RawRow {
                    lower_ci: Some(25.0),
                    upper_ci: Some(22.0),
                    ..row("obesity", "E09000007", "2022/23", Some(23.0))
                },
                UserErrorCode::Inconsistent,
            ),
        ];
        for (raw, code) in cases {
            let found = codes(&scope, raw.clone());
            assert!(found.contains(&code), "{raw:?} should give {code:?}, gave {found:?}");
        }
        // A value within rounding of numerator / denominator is consistent, and one can be made from them.
        assert!(ok(RawRow {
            numerator: Some(215.0),
            denominator: Some(1000.0),
            ..row("obesity", "E09000007", "2022/23", Some(21.5))
        }));
        assert!(ok(RawRow {
            numerator: Some(2154.0),
            denominator: Some(10000.0),
            ..row("obesity", "E09000007", "2022/23", Some(21.5))
        }));
        assert!(ok(RawRow {
            numerator: Some(215.0),
            denominator: Some(1000.0),
            ..row("obesity", "E09000007", "2022/23", None)
        }));
    }
}
