//! Neighbourhoods: the fourth level of the London Vision (seed 002, Figure 5: neighbourhood,
//! borough, sub-region, London). An ADMIN imports them under their boroughs, by the
//! `geographies import` command (a CSV file) or `importGeographies`: electoral wards by their
//! ONS code (`E05` and six digits) or Primary Care Networks by their ODS code (`U` and five
//! digits), each with its name, its borough's code and, optionally, its population.
//!
//! An import is written whole or not at all. A code already imported under the same borough
//! is updated (its name and population), so the same file can be imported again; a code
//! that names any other area is refused.

use std::collections::HashMap;

use entity::geography;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter,
};

use crate::{
    audit::{self, EntityType},
    auth::{Act, Principal},
    error::{AppError, AppResult, UserError},
    values::{GeographyLevel, Lines, Role, UserErrorCode, describe_character, forbidden_character},
};

/// At most this many neighbourhoods an import (London has some 680 wards and 200 PCNs).
pub const MAX_ROWS: usize = 5_000;
/// The longest name accepted.
const MAX_NAME: usize = 200;

/// One neighbourhood as imported; `row` names it in errors (its position, or CSV line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeighbourhoodRow {
    pub row: i32,
    pub code: String,
    pub name: String,
    /// The borough's ONS code.
    pub parent: String,
    pub population: Option<i64>,
    pub population_year: Option<i32>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Whether `code` is a neighbourhood's: an electoral ward (`E05` and six digits) or a
/// Primary Care Network (`U` and five digits).
pub fn is_neighbourhood_code(code: &str) -> bool {
    let b = code.as_bytes();
    let ward = b.len() == 9 && code.starts_with("E05") && b[3..].iter().all(u8::is_ascii_digit);
    let pcn = b.len() == 6 && b[0] == b'U' && b[1..].iter().all(u8::is_ascii_digit);
    ward || pcn
}

/// Reads neighbourhoods from CSV with the header `code,name,parent,population,population_year`
/// (the last two optional, columns in any order). Rows are numbered by line (header = 1).
pub fn read_csv(text: &str) -> Result<Vec<NeighbourhoodRow>, Vec<UserError>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let at_line = |line: u64, field: &str, code, message: String| {
        let mut e = UserError::new(&[field], code, message);
        e.row = i32::try_from(line).ok();
        e
    };
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim_start_matches('\u{feff}').to_ascii_lowercase()).collect(),
        Err(e) => return Err(vec![at_line(1, "header", UserErrorCode::Invalid, format!("unreadable header: {e}"))]),
    };
    const COLUMNS: [&str; 5] = ["code", "name", "parent", "population", "population_year"];
    let mut errors = Vec::new();
    for c in &header {
        if !COLUMNS.contains(&c.as_str()) {
            errors.push(at_line(
                1,
                "header",
                UserErrorCode::Invalid,
                format!("unknown column '{c}': the columns are {}", COLUMNS.join(",")),
            ));
        }
    }
    for required in ["code", "name", "parent"] {
        if !header.iter().any(|c| c == required) {
            errors.push(at_line(
                1,
                "header",
                UserErrorCode::Required,
                format!("the header has no '{required}' column"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let position = |name: &str| header.iter().position(|c| c == name);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(at_line(line, "line", UserErrorCode::Invalid, format!("line {line} cannot be read: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let text = |name: &str| position(name).and_then(|i| record.get(i)).unwrap_or("").to_owned();
        let mut number = |name: &str| -> Option<i64> {
            let raw = text(name);
            if raw.is_empty() {
                return None;
            }
            raw.parse::<i64>()
                .map_err(|_| {
                    errors.push(at_line(
                        line,
                        name,
                        UserErrorCode::Invalid,
                        format!("'{raw}' in {name} is not a whole number"),
                    ));
                })
                .ok()
        };
        let population = number("population");
        let population_year = number("population_year").and_then(|y| i32::try_from(y).ok());
        rows.push(NeighbourhoodRow {
            row: i32::try_from(line).unwrap_or(i32::MAX),
            code: text("code"),
            name: text("name"),
            parent: text("parent"),
            population,
            population_year,
        });
        if rows.len() > MAX_ROWS {
            errors.push(at_line(
                line,
                "line",
                UserErrorCode::TooLong,
                format!("an import has at most {MAX_ROWS} rows"),
            ));
            break;
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// Imports neighbourhoods under their boroughs: every row checked, then all written in one
/// transaction, or none. ADMIN only; audited.
pub async fn import(
    db: &DatabaseConnection,
    actor: &Principal,
    rows: Vec<NeighbourhoodRow>,
) -> AppResult<Result<Imported, Vec<UserError>>> {
    actor.require_role(Role::Admin)?;
    let mut errors = Vec::new();
    let problem = |row: i32, field: &str, code, message: String| {
        let mut e = UserError::new(&["geographies", &row.to_string(), field], code, message);
        e.row = Some(row);
        e
    };
    if rows.is_empty() {
        return Ok(Err(vec![UserError::new(
            &["geographies"],
            UserErrorCode::Required,
            "name at least one neighbourhood",
        )]));
    }
    if rows.len() > MAX_ROWS {
        return Ok(Err(vec![UserError::new(
            &["geographies"],
            UserErrorCode::TooLong,
            format!("an import has at most {MAX_ROWS} neighbourhoods"),
        )]));
    }
    let tx = crate::db::begin_write(db).await?;
    if tx.get_database_backend() == DbBackend::Postgres {
        // Imports one at a time (SQLite's write lock does this there): two importing the same
        // new code at once would otherwise both find it absent, and one fail on the unique
        // code. Readers are not held up.
        tx.execute_unprepared("LOCK TABLE geographies IN SHARE ROW EXCLUSIVE MODE").await?;
    }
    let existing: HashMap<String, geography::Model> =
        geography::Entity::find().all(&tx).await?.into_iter().map(|g| (g.code.clone(), g)).collect();
    let mut seen: HashMap<&str, i32> = HashMap::new();
    for r in &rows {
        if !is_neighbourhood_code(&r.code) {
            errors.push(problem(
                r.row,
                "code",
                UserErrorCode::Invalid,
                format!(
                    "'{}' is neither a ward's ONS code (E05 and six digits) nor a PCN's ODS code (U and five digits)",
                    r.code
                ),
            ));
        } else if let Some(first) = seen.insert(r.code.as_str(), r.row) {
            errors.push(problem(r.row, "code", UserErrorCode::Duplicate, format!("{} is also in row {first}", r.code)));
        }
        let name_len = r.name.chars().count();
        if r.name.trim().is_empty() || name_len > MAX_NAME {
            errors.push(problem(
                r.row,
                "name",
                UserErrorCode::Invalid,
                format!("a name has 1 to {MAX_NAME} characters"),
            ));
        } else if let Some(c) = forbidden_character(&r.name, Lines::One) {
            errors.push(problem(
                r.row,
                "name",
                UserErrorCode::Invalid,
                format!("the name holds the control character {}", describe_character(c)),
            ));
        }
        match existing.get(&r.parent) {
            Some(p) if p.level == GeographyLevel::Borough.as_str() => {
                if let Err(denied) = actor.authorise(Act::ImportNeighbourhoods { parent: p.id }) {
                    for mut e in denied.user_error(&["geographies", &r.row.to_string(), "parent"])? {
                        e.row = Some(r.row);
                        errors.push(e);
                    }
                } else if let Some(current) = existing.get(&r.code)
                    && (current.level != GeographyLevel::Neighbourhood.as_str() || current.parent_id != Some(p.id))
                {
                    errors.push(problem(
                        r.row,
                        "code",
                        UserErrorCode::Conflict,
                        format!(
                            "{} is already {} ({}), not a neighbourhood of {}",
                            r.code, current.name, current.level, p.name
                        ),
                    ));
                }
            }
            Some(p) => errors.push(problem(
                r.row,
                "parent",
                UserErrorCode::Invalid,
                format!("{} ({}) is not a borough: neighbourhoods sit under a borough", p.name, p.code),
            )),
            None => errors.push(problem(
                r.row,
                "parent",
                UserErrorCode::NotFound,
                format!("no borough has the code '{}'", r.parent),
            )),
        }
        if r.population.is_some_and(|p| p < 0) {
            errors.push(problem(r.row, "population", UserErrorCode::OutOfRange, "a population is not negative".into()));
        }
        if r.population_year.is_some_and(|y| !(1800..=2200).contains(&y)) {
            errors.push(problem(
                r.row,
                "populationYear",
                UserErrorCode::OutOfRange,
                "a population's year is between 1800 and 2200".into(),
            ));
        }
    }
    if !errors.is_empty() {
        tx.rollback().await?;
        errors.truncate(1_000);
        return Ok(Err(errors));
    }
    let mut done = Imported::default();
    for r in rows {
        let parent =
            existing.get(&r.parent).map(|p| p.id).ok_or_else(|| AppError::Internal("BUG: a parent vanished".into()))?;
        let name = r.name.trim().to_owned();
        match existing.get(&r.code) {
            Some(current)
                if current.name == name
                    && current.population == r.population
                    && current.population_year == r.population_year =>
            {
                done.unchanged.push(r.code);
            }
            Some(current) => {
                let mut row: geography::ActiveModel = current.clone().into();
                row.name = Set(name);
                row.population = Set(r.population);
                row.population_year = Set(r.population_year);
                row.update(&tx).await?;
                done.updated.push(r.code);
            }
            None => {
                geography::ActiveModel {
                    code: Set(r.code.clone()),
                    name: Set(name),
                    level: Set(GeographyLevel::Neighbourhood.as_str().to_owned()),
                    parent_id: Set(Some(parent)),
                    population: Set(r.population),
                    population_year: Set(r.population_year),
                    ..Default::default()
                }
                .insert(&tx)
                .await?;
                done.created.push(r.code);
            }
        }
    }
    let summary = serde_json::json!({ "created": done.created.len(), "updated": done.updated.len(), "codes": done.created.iter().chain(&done.updated).collect::<Vec<_>>() });
    audit::record_key(&tx, actor, "importGeographies", EntityType::Geography, "neighbourhoods", None, Some(&summary))
        .await?;
    tx.commit().await?;
    Ok(Ok(done))
}

/// The geographies named, by code, after an import.
pub async fn by_codes(db: &DatabaseConnection, codes: &[String]) -> AppResult<Vec<geography::Model>> {
    Ok(geography::Entity::find().filter(geography::Column::Code.is_in(codes.iter().cloned())).all(db).await?)
}

#[cfg(test)]
mod tests {
    use super::{is_neighbourhood_code, read_csv};

    #[test]
    fn ward_and_pcn_codes_are_neighbourhoods_and_nothing_else_is() {
        for ok in ["E05013660", "U12345"] {
            assert!(is_neighbourhood_code(ok), "{ok}");
        }
        for bad in ["E09000007", "E0501366", "U1234", "u12345", "E05O13660", ""] {
            assert!(!is_neighbourhood_code(bad), "{bad}");
        }
    }

    #[test]
    fn a_csv_names_each_problem_by_line() {
        let rows = read_csv("code,name,parent,population\nE05013660,Belsize,E09000007,14000\nU12345,PCN,E09000007,\n")
            .expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].row, rows[0].population, rows[1].population), (2, Some(14000), None));
        let errors = read_csv("code,name,parent,population\nE05013660,Belsize,E09000007,many\n").expect_err("bad");
        assert_eq!(errors[0].row, Some(2));
        assert!(read_csv("code,ward\n").is_err());
    }
}
