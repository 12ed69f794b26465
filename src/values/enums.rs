//! The enumerations of the public contract. Each is defined once: the same upper-case
//! names are what the database stores and what GraphQL shows, so the GraphQL derive lives
//! here rather than on a copy in the adapter (a copy would be a second list to keep in step).

use super::ParseError;

macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            /// Every value, in the order of the contract.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored and published name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }

            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                match raw {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(ParseError(format!(
                        "{} is not a {}: expected one of {}",
                        super::quoted(raw),
                        stringify!($name),
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_enum! {
    /// The level of an area in London's geography.
    pub enum GeographyLevel {
        /// The London region (E12000007).
        Region => "REGION",
        /// One of the five Integrated Care Systems (E54000027 to E54000031).
        Ics => "ICS",
        /// One of the 32 London boroughs or the City of London (E09000001 to E09000033).
        Borough => "BOROUGH",
        /// A neighbourhood within a borough (a Primary Care Network area of 30,000 to 50,000 people).
        Neighbourhood => "NEIGHBOURHOOD",
    }
}

impl GeographyLevel {
    /// The level directly above this one, where there is one.
    pub fn parent(self) -> Option<Self> {
        match self {
            Self::Region => None,
            Self::Ics => Some(Self::Region),
            Self::Borough => Some(Self::Ics),
            Self::Neighbourhood => Some(Self::Borough),
        }
    }
}

text_enum! {
    /// What kind of body an organisation is.
    pub enum OrganisationKind {
        /// A London borough council or the City of London Corporation.
        BoroughCouncil => "BOROUGH_COUNCIL",
        /// An Integrated Care System (the five sub-regional health and care systems).
        IntegratedCareSystem => "INTEGRATED_CARE_SYSTEM",
        /// A pan-London body of the partnership: GLA, London Councils, NHS England (London), OHID, UKHSA.
        RegionalBody => "REGIONAL_BODY",
        /// A national body acting in London (for example the Local Government Association).
        NationalBody => "NATIONAL_BODY",
        /// An NHS trust or foundation trust providing services.
        NhsProvider => "NHS_PROVIDER",
        /// A partnership, board, alliance or programme formed by other organisations.
        Partnership => "PARTNERSHIP",
        /// A charity or community organisation.
        VoluntarySector => "VOLUNTARY_SECTOR",
        /// A university or research centre.
        Academic => "ACADEMIC",
        /// Another public service, such as the police or transport authority.
        PublicService => "PUBLIC_SERVICE",
    }
}

text_enum! {
    /// The unit a measure's values are expressed in.
    pub enum Unit {
        /// A percentage, 0 to 100 (numerator / denominator × 100).
        Percent => "PERCENT",
        /// A difference between two percentages, in percentage points (-100 to 100).
        PercentagePoints => "PERCENTAGE_POINTS",
        /// A rate per 100 of the population (numerator / denominator × 100).
        RatePer100 => "RATE_PER_100",
        /// A rate per 1,000 of the population or households (numerator / denominator × 1,000).
        RatePer1000 => "RATE_PER_1000",
        /// A rate per 100,000 of the population (numerator / denominator × 100,000).
        RatePer100000 => "RATE_PER_100000",
        /// A whole number of people, places or events.
        Count => "COUNT",
        /// A number of years (for example healthy life expectancy).
        Years => "YEARS",
    }
}

impl Unit {
    /// What a value is scaled by from numerator / denominator, for units that are ratios.
    pub fn multiplier(self) -> Option<f64> {
        match self {
            Self::Percent | Self::RatePer100 => Some(100.0),
            Self::RatePer1000 => Some(1_000.0),
            Self::RatePer100000 => Some(100_000.0),
            Self::PercentagePoints | Self::Count | Self::Years => None,
        }
    }
}

text_enum! {
    /// Whether a higher or a lower value is better, as in public health profiles.
    pub enum Polarity {
        /// Lower values are better (for example smoking prevalence).
        LowIsGood => "LOW_IS_GOOD",
        /// Higher values are better (for example school readiness).
        HighIsGood => "HIGH_IS_GOOD",
        /// Neither direction is better in itself (for example diagnosis rates that reflect testing as well as disease).
        NoJudgement => "NO_JUDGEMENT",
    }
}

text_enum! {
    /// The kind of period a measure is reported for; each measure has exactly one.
    pub enum PeriodType {
        /// A calendar year, written `2023`.
        CalendarYear => "CALENDAR_YEAR",
        /// A financial year, April to March, written `2023/24`.
        FinancialYear => "FINANCIAL_YEAR",
        /// An academic (school) year, September to August, written `2023/24`.
        AcademicYear => "ACADEMIC_YEAR",
        /// A calendar quarter, written `2023-Q1`.
        Quarter => "QUARTER",
        /// A calendar month, written `2023-05`.
        Month => "MONTH",
        /// Three calendar years pooled, written `2020-22` (as used for suicide rates).
        RollingThreeYear => "ROLLING_THREE_YEAR",
    }
}

impl PeriodType {
    /// A period of this type, for messages that show the expected form.
    pub fn example(self) -> &'static str {
        match self {
            Self::CalendarYear => "2023",
            Self::FinancialYear | Self::AcademicYear => "2023/24",
            Self::Quarter => "2023-Q1",
            Self::Month => "2023-05",
            Self::RollingThreeYear => "2020-22",
        }
    }
}

text_enum! {
    /// Where a return is in its review.
    pub enum ReturnStatus {
        /// Submitted and waiting for an approver; visible to partners only.
        Submitted => "SUBMITTED",
        /// Approved by an approver whose area covers the return; visible to everyone.
        Approved => "APPROVED",
        /// Rejected by an approver; its values never become current.
        Rejected => "REJECTED",
        /// Withdrawn by its submitting organisation before a decision; its values never
        /// become current.
        Withdrawn => "WITHDRAWN",
    }
}

text_enum! {
    /// Where a commitment stands against the straight line from its baseline to its target.
    pub enum TrajectoryStatus {
        /// The latest value is at least as good as the line from baseline to target expects by now.
        OnTrack => "ON_TRACK",
        /// The latest value is worse than the line expects, or the target date has passed unmet.
        OffTrack => "OFF_TRACK",
        /// The latest value meets the target.
        Achieved => "ACHIEVED",
        /// Nothing to judge: no approved value for London yet, or no numeric target.
        NoData => "NO_DATA",
    }
}

text_enum! {
    /// What a partner's token allows, besides reading.
    pub enum Role {
        /// Submits returns and writes case studies for the organisation's own area.
        Submitter => "SUBMITTER",
        /// Approves or rejects returns within the organisation's area, and publishes case studies.
        Approver => "APPROVER",
        /// Administers the catalogue: priorities, commitments, measures, organisations.
        Admin => "ADMIN",
    }
}

text_enum! {
    /// Why a mutation's input was not accepted; each `UserError` names one.
    pub enum UserErrorCode {
        /// The value is malformed (a slug, code, period or number out of its form).
        Invalid => "INVALID",
        /// A required value is missing or empty.
        Required => "REQUIRED",
        /// The text is longer than allowed.
        TooLong => "TOO_LONG",
        /// The slug or number is already used by another record.
        Taken => "TAKEN",
        /// The input refers to something that does not exist.
        NotFound => "NOT_FOUND",
        /// The input names an area outside the caller's organisation's area.
        OutOfScope => "OUT_OF_SCOPE",
        /// A value is outside the measure's bounds, or not a whole number for a count.
        OutOfRange => "OUT_OF_RANGE",
        /// The period is of another type than the measure's.
        WrongPeriodType => "WRONG_PERIOD_TYPE",
        /// Figures disagree: numerator above denominator, value not what they give, or a
        /// confidence interval that does not contain the value.
        Inconsistent => "INCONSISTENT",
        /// A second row for the same measure, area and period in one return.
        Duplicate => "DUPLICATE",
        /// The measure's period is locked: no more values are taken for it.
        PeriodLocked => "PERIOD_LOCKED",
        /// The request conflicts with what was done before (an idempotency key reused for
        /// other data, or a return already reviewed).
        Conflict => "CONFLICT",
        /// The idempotency key names a return that was rejected or withdrawn: to send the
        /// values again, use a new key.
        ReturnClosed => "RETURN_CLOSED",
        /// The caller may not do this to this record (for example, review their own return).
        NotAllowed => "NOT_ALLOWED",
    }
}

text_enum! {
    /// What a submission did to one value.
    pub enum ChangeKind {
        /// The first value for its measure, area and period.
        New => "NEW",
        /// Different from the current value: written as the next revision.
        Revised => "REVISED",
        /// The same as the current value: nothing written.
        Unchanged => "UNCHANGED",
    }
}

#[cfg(test)]
mod tests {
    use super::{GeographyLevel, PeriodType, Unit};

    #[test]
    fn every_value_round_trips_through_its_text() {
        for level in GeographyLevel::ALL {
            assert_eq!(GeographyLevel::parse(level.as_str()), Ok(*level));
        }
        for unit in Unit::ALL {
            assert_eq!(Unit::parse(unit.as_str()), Ok(*unit));
        }
    }

    #[test]
    fn unknown_text_names_the_accepted_values() {
        let err = PeriodType::parse("WEEK").expect_err("WEEK is not a period type");
        assert!(err.0.contains("CALENDAR_YEAR") && err.0.contains("ROLLING_THREE_YEAR"), "{err}");
    }

    #[test]
    fn levels_nest_region_ics_borough_neighbourhood() {
        assert_eq!(GeographyLevel::Neighbourhood.parent(), Some(GeographyLevel::Borough));
        assert_eq!(GeographyLevel::Borough.parent(), Some(GeographyLevel::Ics));
        assert_eq!(GeographyLevel::Ics.parent(), Some(GeographyLevel::Region));
        assert_eq!(GeographyLevel::Region.parent(), None);
    }
}

text_enum! {
    /// What kind of statistic a measure's values are, as the public health profiles class
    /// them: it decides whether values add up across areas and how intervals are computed.
    pub enum ValueType {
        /// A share of a population (numerator / denominator × 100): adds up as the sum of the
        /// numerators over the sum of the denominators; Wilson score intervals.
        Proportion => "PROPORTION",
        /// Events per head of a population, not standardised (numerator / denominator ×
        /// multiplier): adds up like a proportion; Byar's or exact Poisson intervals.
        CrudeRate => "CRUDE_RATE",
        /// A number of people, places or events: adds up as a sum; no interval is computed.
        Count => "COUNT",
        /// A rate standardised to a reference population: cannot be added up from areas'
        /// figures; intervals only as submitted.
        DirectlyStandardisedRate => "DIRECTLY_STANDARDISED_RATE",
        /// An average, such as a life expectancy: cannot be added up; intervals only as submitted.
        Mean => "MEAN",
        /// An index or a difference, such as a slope index of inequality or a gap in
        /// percentage points: cannot be added up; intervals only as submitted.
        Index => "INDEX",
    }
}

impl ValueType {
    /// The type a measure in this unit has unless it says otherwise.
    pub fn for_unit(unit: Unit) -> Self {
        match unit {
            Unit::Percent => Self::Proportion,
            Unit::RatePer100 | Unit::RatePer1000 | Unit::RatePer100000 => Self::CrudeRate,
            Unit::Count => Self::Count,
            Unit::Years => Self::Mean,
            Unit::PercentagePoints => Self::Index,
        }
    }

    /// Whether areas' values of this type add up to the value of the area holding them.
    pub fn additive(self) -> bool {
        matches!(self, Self::Proportion | Self::CrudeRate | Self::Count)
    }
}

text_enum! {
    /// How an area's value compares with a benchmark (London, or the area's ICS): the
    /// area's confidence interval against the benchmark's value, as the public health
    /// profiles compare.
    pub enum Comparison {
        /// Significantly better than the benchmark (the interval lies wholly on the better side).
        Better => "BETTER",
        /// Not significantly different: the interval contains the benchmark's value.
        Similar => "SIMILAR",
        /// Significantly worse than the benchmark.
        Worse => "WORSE",
        /// Significantly lower, for a measure where neither direction is better.
        Lower => "LOWER",
        /// Significantly higher, for a measure where neither direction is better.
        Higher => "HIGHER",
        /// Not compared: no value, no interval, or no benchmark.
        NotCompared => "NOT_COMPARED",
    }
}

text_enum! {
    /// The confidence level of an interval or a comparison.
    pub enum ConfidenceLevel {
        /// 95%: z = 1.959964 (the 97.5th percentile of the normal distribution).
        NinetyFive => "NINETY_FIVE",
        /// 99.8%: z = 3.090232 (the 99.9th percentile), about three standard errors.
        NinetyNinePointEight => "NINETY_NINE_POINT_EIGHT",
    }
}

text_enum! {
    /// How a confidence interval was obtained.
    pub enum IntervalMethod {
        /// As the submitting organisation gave it.
        Submitted => "SUBMITTED",
        /// Wilson score interval for a proportion (Wilson 1927; Newcombe 1998).
        Wilson => "WILSON",
        /// Byar's approximation to the Poisson interval of the numerator, for 10 events or more
        /// (Breslow and Day 1987), scaled to the rate.
        Byar => "BYAR",
        /// The exact Poisson interval of the numerator from the chi-squared distribution, for
        /// fewer than 10 events, scaled to the rate.
        ExactPoisson => "EXACT_POISSON",
    }
}

text_enum! {
    /// Where an area's value in the picture comes from.
    pub enum ValueSource {
        /// Submitted for the area itself by an organisation, and approved.
        Submitted => "SUBMITTED",
        /// Added up from the approved values of the areas it holds.
        Aggregated => "AGGREGATED",
    }
}

text_enum! {
    /// How an area's values have moved over its most recent periods.
    pub enum TrendDirection {
        /// A significant rise (p < 0.002) that holds when each point is left out in turn.
        Increasing => "INCREASING",
        /// A significant fall (p < 0.002) that holds when each point is left out in turn.
        Decreasing => "DECREASING",
        /// No significant rise or fall.
        NoSignificantChange => "NO_SIGNIFICANT_CHANGE",
        /// Too few consecutive values, a series break among them, or values without what
        /// the method needs (counts for a proportion, intervals otherwise).
        CannotBeCalculated => "CANNOT_BE_CALCULATED",
    }
}

text_enum! {
    /// Whether a trend is an improvement, by the measure's polarity.
    pub enum TrendAssessment {
        /// Moving the good way.
        GettingBetter => "GETTING_BETTER",
        /// Moving the bad way.
        GettingWorse => "GETTING_WORSE",
        /// No significant movement, or a measure where neither direction is better.
        NoJudgement => "NO_JUDGEMENT",
    }
}

text_enum! {
    /// The test a trend was judged by.
    pub enum TrendMethod {
        /// The chi-squared test for trend in proportions (Cochran-Armitage), from the
        /// numerators and denominators, one degree of freedom.
        ChiSquaredForTrend => "CHI_SQUARED_FOR_TREND",
        /// Weighted least-squares regression of the values on time, each weighted by the
        /// inverse of its variance, the standard error taken from its 95% interval.
        WeightedRegression => "WEIGHTED_REGRESSION",
    }
}

text_enum! {
    /// How the picture adds areas up.
    pub enum AggregationMethod {
        /// The sum of the numerators over the sum of the denominators, times the measure's
        /// multiplier (proportions and crude rates); never an average of rates.
        RatioOfSums => "RATIO_OF_SUMS",
        /// The sum of the areas' values (counts).
        Sum => "SUM",
        /// Not added up: the measure's values (standardised rates, means, indices) cannot be;
        /// only values submitted for an area itself are shown.
        NotAggregated => "NOT_AGGREGATED",
    }
}

text_enum! {
    /// What happened to a return, as a webhook is told of it.
    pub enum WebhookEvent {
        /// A return was submitted: sent to the organisations above the submitter, whose
        /// approvers may decide it (and to the submitter's own).
        ReturnSubmitted => "RETURN_SUBMITTED",
        /// A return was approved: its values are now the current ones.
        ReturnApproved => "RETURN_APPROVED",
        /// A return was rejected, with the reviewer's note.
        ReturnRejected => "RETURN_REJECTED",
        /// A return was withdrawn by its organisation while in review.
        ReturnWithdrawn => "RETURN_WITHDRAWN",
    }
}

text_enum! {
    /// Where a webhook delivery stands.
    pub enum DeliveryStatus {
        /// Not yet delivered: waiting for its first or next attempt.
        Pending => "PENDING",
        /// The endpoint answered with a 2xx status.
        Delivered => "DELIVERED",
        /// Every attempt failed; no more will be made.
        Failed => "FAILED",
    }
}
