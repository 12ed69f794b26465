//! Reading a return from CSV, with the header
//! `measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note` (columns in
//! any order; `measure`, `geography` and `period` required). Rows are numbered by their line
//! in the file, the header being line 1, so that every problem names the line to fix.

use std::io::Read;

use super::RawRow;
use crate::{error::UserError, values::UserErrorCode};

const COLUMNS: [&str; 9] =
    ["measure", "geography", "period", "value", "numerator", "denominator", "lower_ci", "upper_ci", "note"];

/// The rows of a CSV return, and the problems found reading it (a row with a problem is
/// marked `unreadable` and checked no further).
#[derive(Debug, Default)]
pub struct CsvRows {
    pub rows: Vec<RawRow>,
    pub errors: Vec<UserError>,
    /// Lines that could not be read; they count as rejected rows.
    pub unreadable: i32,
}

fn error(line: i32, column: &str, code: UserErrorCode, message: impl Into<String>) -> UserError {
    let mut e = UserError::new(&[column], code, message);
    e.row = Some(line);
    e
}

/// Reads every row of `input`; the whole-file problems (no header, unknown columns) come
/// back as errors with no rows.
pub fn read(input: impl Read) -> CsvRows {
    let mut out = CsvRows::default();
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(false).trim(csv::Trim::All).from_reader(input);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim_start_matches('\u{feff}').to_ascii_lowercase()).collect(),
        Err(e) => {
            out.errors.push(error(1, "header", UserErrorCode::Invalid, format!("the header cannot be read: {e}")));
            return out;
        }
    };
    let position = |name: &str| header.iter().position(|c| c == name);
    for column in &header {
        if !COLUMNS.contains(&column.as_str()) {
            out.errors.push(error(
                1,
                "header",
                UserErrorCode::Invalid,
                format!("unknown column '{column}': the columns are {}", COLUMNS.join(",")),
            ));
        }
    }
    for required in ["measure", "geography", "period"] {
        if position(required).is_none() {
            out.errors.push(error(
                1,
                "header",
                UserErrorCode::Required,
                format!("the header has no '{required}' column"),
            ));
        }
    }
    if !out.errors.is_empty() {
        return out;
    }
    let at: Vec<Option<usize>> = COLUMNS.iter().map(|c| position(c)).collect();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| i32::try_from(p.line()).unwrap_or(i32::MAX));
                out.errors.push(error(
                    line,
                    "line",
                    UserErrorCode::Invalid,
                    format!("line {line} cannot be read: {e}"),
                ));
                out.unreadable += 1;
                continue;
            }
        };
        let line = record.position().map_or(0, |p| i32::try_from(p.line()).unwrap_or(i32::MAX));
        let text = |i: usize| at[i].and_then(|p| record.get(p)).unwrap_or("").to_owned();
        let mut bad = false;
        let mut number = |i: usize| -> Option<f64> {
            let raw = text(i);
            if raw.is_empty() {
                return None;
            }
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    out.errors.push(error(
                        line,
                        COLUMNS[i],
                        UserErrorCode::Invalid,
                        format!("'{raw}' in {} is not a number", COLUMNS[i]),
                    ));
                    bad = true;
                    None
                }
            }
        };
        let row = RawRow {
            row: line,
            measure: text(0),
            geography: text(1),
            period: text(2),
            value: number(3),
            numerator: number(4),
            denominator: number(5),
            lower_ci: number(6),
            upper_ci: number(7),
            note: Some(text(8)).filter(|n| !n.is_empty()),
        };
        if bad {
            out.unreadable += 1;
        } else {
            out.rows.push(row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::read;
    use crate::values::UserErrorCode;

    #[test]
    fn rows_are_numbered_by_their_line_and_empty_cells_are_absent() {
        let csv = "measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note\n\
                   reception-overweight,E09000007,2022/23,19.4,,,18.1,20.8,\n\
                   school-readiness,E09000007,2022/23,67.2,1500,2232,,,\"provisional, to be revised\"\n";
        let out = read(csv.as_bytes());
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.rows.len(), 2);
        assert_eq!(
            (out.rows[0].row, out.rows[0].value, out.rows[0].numerator, out.rows[0].lower_ci),
            (2, Some(19.4), None, Some(18.1))
        );
        assert_eq!(out.rows[1].row, 3);
        assert_eq!(out.rows[1].note.as_deref(), Some("provisional, to be revised"));
    }

    #[test]
    fn columns_may_come_in_any_order_and_the_optional_ones_may_be_left_out() {
        let out = read("period,value,geography,measure\n2022/23,19.4,E09000007,reception-overweight\n".as_bytes());
        assert!(out.errors.is_empty());
        assert_eq!(out.rows[0].measure, "reception-overweight");
        assert_eq!(out.rows[0].value, Some(19.4));
    }

    #[test]
    fn a_bad_number_or_header_names_its_line() {
        let out = read("measure,geography,period,value\nm,E09000007,2022,abc\nm,E09000007,2022,1\n".as_bytes());
        assert_eq!((out.rows.len(), out.unreadable), (1, 1));
        assert_eq!(out.errors[0].row, Some(2));
        assert_eq!(out.errors[0].code, UserErrorCode::Invalid);
        let header = read("measure,area,period\n".as_bytes());
        assert!(header.errors.iter().any(|e| e.message.contains("unknown column 'area'")));
        assert!(header.errors.iter().any(|e| e.message.contains("no 'geography' column")));
    }
}
