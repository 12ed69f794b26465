use std::fmt;

use chrono::NaiveDate;

use super::{ParseError, PeriodType};

/// A reporting period in the one grammar of the contract:
/// `2023` (calendar year), `2023/24` (financial or academic year), `2023-Q1` (calendar
/// quarter), `2023-05` (month), `2020-22` (three-year rolling, as used for suicide rates).
///
/// A few strings fit two forms: `2010-12` is both December 2010 and the three years
/// 2010 to 2012. The text alone is therefore parsed to the set of forms it fits, and a
/// measure's [`PeriodType`] decides which one is meant (see [`Period::bounds`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Period {
    text: String,
    year: i32,
    /// The second number of the text: years' last two digits, quarter or month.
    part: Option<u32>,
    kind: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Year,
    SplitYear,
    Quarter,
    /// `YYYY-NN`: a month when NN is 01-12, a rolling three years when NN is YYYY+2 (mod 100).
    Dashed,
}

/// The first and last day a period covers, for ordering and for finding the latest period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodBounds {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The grammar of a period, as `/scalars/Period` serves it (the `Period` scalar's
/// `@specifiedBy`).
pub const GRAMMAR: &str = "The Period scalar of the London Vision partner API\n\
\n\
A reporting period is text of exactly one of these forms (ABNF, RFC 5234):\n\
\n\
  period        = calendar-year / split-year / quarter / month / rolling\n\
  calendar-year = year                    ; 2023: January to December\n\
  split-year    = year \"/\" 2DIGIT         ; 2023/24: a financial (April to March) or academic\n\
                                          ;   year; the two digits are the next year's\n\
  quarter       = year \"-Q\" %x31-34       ; 2023-Q1: a calendar quarter\n\
  month         = year \"-\" 2DIGIT         ; 2023-05: a calendar month, 01 to 12\n\
  rolling       = year \"-\" 2DIGIT         ; 2020-22: three calendar years ending in the\n\
                                          ;   second (its last two digits are year + 2)\n\
  year          = 4DIGIT                  ; 1900 to 2100\n\
\n\
A month and a rolling period are told apart by the two digits: 01 to 12 is a month, the\n\
year plus two (mod 100) a rolling period. Each measure takes one kind of period; a value\n\
of another kind is refused with BAD_USER_INPUT.\n";

const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 2100;

impl Period {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Self::parse_inner(raw).ok_or_else(|| {
            ParseError(format!(
                "{} is not a period: use 2023 (calendar year), 2023/24 (financial or academic year), \
                 2023-Q1 (quarter), 2023-05 (month) or 2020-22 (three-year rolling)",
                super::quoted(raw),
            ))
        })
    }

    fn parse_inner(raw: &str) -> Option<Self> {
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let (head, tail, kind) = match raw.len() {
            4 => (raw, None, Shape::Year),
            7 => {
                let (head, rest) = raw.split_at(4);
                match rest.as_bytes() {
                    [b'/', ..] => (head, Some(&rest[1..]), Shape::SplitYear),
                    [b'-', b'Q', ..] => (head, Some(&rest[2..]), Shape::Quarter),
                    [b'-', ..] => (head, Some(&rest[1..]), Shape::Dashed),
                    _ => return None,
                }
            }
            _ => return None,
        };
        if !digits(head) || tail.is_some_and(|t| !digits(t) || t.is_empty()) {
            return None;
        }
        let year: i32 = head.parse().ok()?;
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return None;
        }
        let part: Option<u32> = match tail {
            Some(t) => Some(t.parse().ok()?),
            None => None,
        };
        let next_years = |n: i32| u32::try_from((year + n) % 100).ok();
        let valid = match (kind, part) {
            (Shape::Year, None) => true,
            (Shape::SplitYear, Some(p)) => Some(p) == next_years(1),
            (Shape::Quarter, Some(q)) => (1..=4).contains(&q) && tail.is_some_and(|t| t.len() == 1),
            (Shape::Dashed, Some(p)) => (1..=12).contains(&p) || Some(p) == next_years(2),
            _ => false,
        };
        valid.then(|| Self { text: raw.to_owned(), year, part, kind })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this text is a period of the given type.
    pub fn fits(&self, period_type: PeriodType) -> bool {
        self.bounds(period_type).is_some()
    }

    /// The period types this text can be read as, for error messages.
    pub fn possible_types(&self) -> Vec<PeriodType> {
        PeriodType::ALL.iter().copied().filter(|t| self.fits(*t)).collect()
    }

    /// The days this period covers when read as `period_type`, or `None` when it is not a
    /// period of that type.
    pub fn bounds(&self, period_type: PeriodType) -> Option<PeriodBounds> {
        let y = self.year;
        let ymd = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d);
        let last_of_month = |y: i32, m: u32| {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            ymd(ny, nm, 1).and_then(|d| d.pred_opt())
        };
        let (start, end) = match (period_type, self.kind, self.part) {
            (PeriodType::CalendarYear, Shape::Year, None) => (ymd(y, 1, 1)?, ymd(y, 12, 31)?),
            // Financial years run April to March (HM Treasury, NHS and local government).
            (PeriodType::FinancialYear, Shape::SplitYear, Some(_)) => (ymd(y, 4, 1)?, ymd(y + 1, 3, 31)?),
            // School years run September to August (the NCMP and school readiness data).
            (PeriodType::AcademicYear, Shape::SplitYear, Some(_)) => (ymd(y, 9, 1)?, ymd(y + 1, 8, 31)?),
            (PeriodType::Quarter, Shape::Quarter, Some(q)) => {
                let first_month = (q - 1) * 3 + 1;
                (ymd(y, first_month, 1)?, last_of_month(y, first_month + 2)?)
            }
            (PeriodType::Month, Shape::Dashed, Some(m)) if (1..=12).contains(&m) => {
                (ymd(y, m, 1)?, last_of_month(y, m)?)
            }
            (PeriodType::RollingThreeYear, Shape::Dashed, Some(p)) if u32::try_from((y + 2) % 100).ok() == Some(p) => {
                (ymd(y, 1, 1)?, ymd(y + 2, 12, 31)?)
            }
            _ => return None,
        };
        Some(PeriodBounds { start, end })
    }
}

impl Period {
    /// The period just before this one when read as `period_type` (for a rolling three
    /// years, the three years starting a year earlier), or `None` when this text is not a
    /// period of that type or the one before falls outside the years the grammar allows.
    pub fn previous(&self, period_type: PeriodType) -> Option<Self> {
        self.bounds(period_type)?;
        let y = self.year;
        let text = match period_type {
            PeriodType::CalendarYear => format!("{}", y - 1),
            PeriodType::FinancialYear | PeriodType::AcademicYear => format!("{}/{:02}", y - 1, y % 100),
            PeriodType::Quarter => match self.part? {
                1 => format!("{}-Q4", y - 1),
                q => format!("{y}-Q{}", q - 1),
            },
            PeriodType::Month => match self.part? {
                1 => format!("{}-12", y - 1),
                m => format!("{y}-{:02}", m - 1),
            },
            PeriodType::RollingThreeYear => format!("{}-{:02}", y - 1, (y + 1) % 100),
        };
        Self::parse(&text).ok().filter(|p| p.fits(period_type))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{Period, PeriodType};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("BUG: test date")
    }

    #[test]
    fn each_period_type_steps_back_one_period() {
        let before = |text: &str, t| Period::parse(text).expect("a period").previous(t).map(|p| p.to_string());
        assert_eq!(before("2023", PeriodType::CalendarYear).as_deref(), Some("2022"));
        assert_eq!(before("2000/01", PeriodType::FinancialYear).as_deref(), Some("1999/00"));
        assert_eq!(before("2023/24", PeriodType::AcademicYear).as_deref(), Some("2022/23"));
        assert_eq!(before("2023-Q1", PeriodType::Quarter).as_deref(), Some("2022-Q4"));
        assert_eq!(before("2023-Q3", PeriodType::Quarter).as_deref(), Some("2023-Q2"));
        assert_eq!(before("2023-01", PeriodType::Month).as_deref(), Some("2022-12"));
        assert_eq!(before("2023-10", PeriodType::Month).as_deref(), Some("2023-09"));
        assert_eq!(before("2020-22", PeriodType::RollingThreeYear).as_deref(), Some("2019-21"));
        assert_eq!(before("2098-00", PeriodType::RollingThreeYear).as_deref(), Some("2097-99"));
        assert_eq!(before("1900", PeriodType::CalendarYear), None);
        assert_eq!(before("2023", PeriodType::Month), None);
    }

    #[test]
    fn each_form_of_the_grammar_parses_to_its_own_type() {
        let cases = [
            ("2023", PeriodType::CalendarYear, day(2023, 1, 1), day(2023, 12, 31)),
            ("2023/24", PeriodType::FinancialYear, day(2023, 4, 1), day(2024, 3, 31)),
            ("2023/24", PeriodType::AcademicYear, day(2023, 9, 1), day(2024, 8, 31)),
            ("2023-Q1", PeriodType::Quarter, day(2023, 1, 1), day(2023, 3, 31)),
            ("2023-Q4", PeriodType::Quarter, day(2023, 10, 1), day(2023, 12, 31)),
            ("2024-02", PeriodType::Month, day(2024, 2, 1), day(2024, 2, 29)),
            ("2023-12", PeriodType::Month, day(2023, 12, 1), day(2023, 12, 31)),
            ("2020-22", PeriodType::RollingThreeYear, day(2020, 1, 1), day(2022, 12, 31)),
            ("1999/00", PeriodType::FinancialYear, day(1999, 4, 1), day(2000, 3, 31)),
        ];
        for (text, kind, start, end) in cases {
            let period = Period::parse(text).expect("valid period");
            let bounds = period.bounds(kind).expect("fits its type");
            assert_eq!((bounds.start, bounds.end), (start, end), "{text} as {kind:?}");
            assert_eq!(period.as_str(), text);
        }
    }

    #[test]
    fn a_period_does_not_fit_another_type() {
        let year = Period::parse("2023").expect("valid");
        assert_eq!(year.possible_types(), vec![PeriodType::CalendarYear]);
        let split = Period::parse("2023/24").expect("valid");
        assert_eq!(split.possible_types(), vec![PeriodType::FinancialYear, PeriodType::AcademicYear]);
        let rolling = Period::parse("2020-22").expect("valid");
        assert_eq!(rolling.possible_types(), vec![PeriodType::RollingThreeYear]);
        assert!(!Period::parse("2023-05").expect("valid").fits(PeriodType::RollingThreeYear));
    }

    #[test]
    fn text_that_fits_two_forms_is_read_by_the_measure_type() {
        let both = Period::parse("2010-12").expect("valid");
        assert_eq!(both.possible_types(), vec![PeriodType::Month, PeriodType::RollingThreeYear]);
        assert_eq!(both.bounds(PeriodType::Month).map(|b| b.end), Some(day(2010, 12, 31)));
        assert_eq!(both.bounds(PeriodType::RollingThreeYear).map(|b| b.end), Some(day(2012, 12, 31)));
    }

    #[test]
    fn malformed_periods_are_refused() {
        for bad in [
            "",
            "23",
            "20233",
            "2023/25",
            "2023/2024",
            "2023-Q0",
            "2023-Q5",
            "2023-Q12",
            "2023-13",
            "2023-00",
            "2020-23",
            "2023-5",
            "2023 ",
            " 2023",
            "abcd",
            "2023/ab",
            "1899",
            "2101",
            "2023-q1",
            "2023-W01",
            "+023",
            "2023--1",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
