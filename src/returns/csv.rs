//! Reading a return from CSV, with the header
//! `measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note` (columns in
//! any order; `measure`, `geography` and `period` required). Rows are numbered by their line
//! in the file, the header being line 1, so that every problem names the line to fix.

use std::io::Read;

use super::RawRow;
use crate::{error::UserError, values::UserErrorCode};

const COLUMNS: [&str; 9] =
    ["measure", "geography", "period", "value", "numerator", "denominator", "lower_ci", "upper_ci", "note"];

/// A CSV return read one row at a time, so that a file of any length is read in bounded
/// memory. A line that cannot be read comes back as its problems.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    at: Vec<Option<usize>>,
    /// Problems with the header; when any, no row is read.
    pub header_errors: Vec<UserError>,
}

fn error(line: i32, column: &str, code: UserErrorCode, message: impl Into<String>) -> UserError {
    let mut e = UserError::new(&[column], code, message);
    e.row = Some(line);
    e
}

impl<R: Read> CsvRows<R> {
    /// Reads and checks the header of `input`.
    pub fn new(input: R) -> Self {
        let mut reader =
            csv::ReaderBuilder::new().has_headers(true).flexible(false).trim(csv::Trim::All).from_reader(input);
        let mut header_errors = Vec::new();
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|c| c.trim_start_matches('\u{feff}').to_ascii_lowercase()).collect(),
            Err(e) => {
                header_errors.push(error(
                    1,
                    "header",
                    UserErrorCode::Invalid,
                    format!("the header cannot be read: {e}"),
                ));
                Vec::new()
            }
        };
        let position = |name: &str| header.iter().position(|c| c == name);
        for column in &header {
            if !COLUMNS.contains(&column.as_str()) {
                header_errors.push(error(
                    1,
                    "header",
                    UserErrorCode::Invalid,
                    format!("unknown column '{column}': the columns are {}", COLUMNS.join(",")),
                ));
            }
        }
        if header_errors.is_empty() {
            for required in ["measure", "geography", "period"] {
                if position(required).is_none() {
                    header_errors.push(error(
                        1,
                        "header",
                        UserErrorCode::Required,
                        format!("the header has no '{required}' column"),
                    ));
                }
            }
        }
        let at = COLUMNS.iter().map(|c| position(c)).collect();
        Self { reader, at, header_errors }
    }
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Result<RawRow, Vec<UserError>>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.header_errors.is_empty() {
            return None;
        }
        let mut record = csv::StringRecord::new();
        match self.reader.read_record(&mut record) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| i32::try_from(p.line()).unwrap_or(i32::MAX));
                return Some(Err(vec![error(
                    line,
                    "line",
                    UserErrorCode::Invalid,
                    format!("line {line} cannot be read: {e}"),
                )]));
            }
        }
        let line = record.position().map_or(0, |p| i32::try_from(p.line()).unwrap_or(i32::MAX));
        let text = |i: usize| self.at[i].and_then(|p| record.get(p)).unwrap_or("").to_owned();
        let mut problems = Vec::new();
        let mut number = |i: usize| -> Option<f64> {
            let raw = text(i);
            if raw.is_empty() {
                return None;
            }
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    problems.push(error(
                        line,
                        COLUMNS[i],
                        UserErrorCode::Invalid,
                        format!("{} in {} is not a number", crate::values::quoted(&raw), COLUMNS[i]),
                    ));
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
        Some(if problems.is_empty() { Ok(row) } else { Err(problems) })
    }
}

#[cfg(test)]
mod tests {
    use super::{CsvRows, RawRow};
    use crate::{error::UserError, values::UserErrorCode};

    fn read(text: &str) -> (Vec<RawRow>, Vec<UserError>) {
        let mut rows = CsvRows::new(text.as_bytes());
        let mut errors = std::mem::take(&mut rows.header_errors);
        let mut good = Vec::new();
        for r in rows {
            match r {
                Ok(row) => good.push(row),
                Err(e) => errors.extend(e),
            }
        }
        (good, errors)
    }

    #[test]
    fn rows_are_numbered_by_their_line_and_empty_cells_are_absent() {
        let csv = "measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note\n\
                   reception-overweight,E09000007,2022/23,19.4,,,18.1,20.8,\n\
                   school-readiness,E09000007,2022/23,67.2,1500,2232,,,\"provisional, to be revised\"\n";
        let (rows, errors) = read(csv);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].row, rows[0].value, rows[0].numerator, rows[0].lower_ci),
            (2, Some(19.4), None, Some(18.1))
        );
        assert_eq!(rows[1].row, 3);
        assert_eq!(rows[1].note.as_deref(), Some("provisional, to be revised"));
    }

    #[test]
    fn columns_may_come_in_any_order_and_the_optional_ones_may_be_left_out() {
        let (rows, errors) = read("period,value,geography,measure\n2022/23,19.4,E09000007,reception-overweight\n");
        assert!(errors.is_empty());
        assert_eq!(rows[0].measure, "reception-overweight");
        assert_eq!(rows[0].value, Some(19.4));
    }

    #[test]
    fn a_bad_number_or_header_names_its_line() {
        let (rows, errors) = read("measure,geography,period,value\nm,E09000007,2022,abc\nm,E09000007,2022,1\n");
        assert_eq!((rows.len(), errors.len()), (1, 1));
        assert_eq!(errors[0].row, Some(2));
        assert_eq!(errors[0].code, UserErrorCode::Invalid);
        let (_, header) = read("measure,area,period\n");
        assert!(header.iter().any(|e| e.message.contains("unknown column 'area'")));
        let (_, missing) = read("measure,period\n");
        assert!(missing.iter().any(|e| e.message.contains("no 'geography' column")));
    }
}
