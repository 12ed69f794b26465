//! CSV exports for spreadsheets and statistical tools: `GET /picture.csv` (one row an area)
//! and `GET /observations.csv` (one row a current value), with the same visibility and
//! suppression as GraphQL: values in review only for partners within their areas, and
//! small numbers hidden from everyone outside the area.

use std::collections::HashMap;

use axum::{
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    AppState,
    graphql::{error, principal},
};
use crate::{
    auth::Principal,
    catalogue::{Visibility, geographies, measures, observations},
    error::AppError,
    picture::{build::AreaFigure, load},
    values::{Lines, Period, PeriodType, ReturnStatus, ValueType, forbidden_character},
};

/// What `/picture.csv` takes.
#[derive(Debug, Deserialize)]
pub struct PictureParams {
    measure: String,
    period: Option<String>,
    #[serde(rename = "asOf")]
    as_of: Option<String>,
}

/// What `/observations.csv` takes.
#[derive(Debug, Deserialize)]
pub struct ObservationParams {
    measure: String,
    geography: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::BadUserInput(message.into())
}

fn fail(e: AppError) -> Response {
    error(e.http_status(), e)
}

/// A CSV answer, named for download.
fn csv_response(name: &str, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// Writes rows as CSV.
fn write_csv(name: &str, rows: impl Iterator<Item = Vec<String>>) -> Result<Response, AppError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.write_record(row.iter().map(|cell| safe_cell(cell).into_owned()))
            .map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
    }
    let body = out.into_inner().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
    Ok(csv_response(name, body))
}

/// A cell made safe for spreadsheets, whatever column it is in (names, codes, notes, methods):
/// text that starts like a formula gets a leading apostrophe, as spreadsheet programs
/// themselves mark literal text. A number (a negative value starts with `-`) is left as it is.
pub fn safe_cell(text: &str) -> std::borrow::Cow<'_, str> {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r', '|', '%']);
    if formula && text.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

fn number(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn period_param(raw: &str, field: &str, period_type: PeriodType) -> Result<Period, AppError> {
    let p = Period::parse(raw).map_err(|e| bad(format!("{field}: {}", e.0)))?;
    if !p.fits(period_type) {
        return Err(bad(format!("{field}: {} is not a period of {period_type}", crate::values::quoted(raw))));
    }
    Ok(p)
}

/// The longest query parameter accepted (slugs, codes, periods and times are far shorter).
const MAX_PARAM: usize = 200;

fn check_text(params: &[(&str, Option<&str>)]) -> Result<(), AppError> {
    for (name, value) in params {
        if let Some(v) = value
            && (v.len() > MAX_PARAM || forbidden_character(v, Lines::One).is_some())
        {
            return Err(bad(format!("`{name}` is not an acceptable value")));
        }
    }
    Ok(())
}

async fn measure_of(state: &AppState, slug: &str) -> Result<(entity::measure::Model, PeriodType), AppError> {
    let m = measures::by_slug(&state.db.conn, slug)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no measure has the slug '{slug}'")))?;
    let period_type = PeriodType::parse(&m.period_type).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((m, period_type))
}

const PICTURE_HEADER: [&str; 22] = [
    "measure",
    "period",
    "code",
    "name",
    "level",
    "value",
    "numerator",
    "denominator",
    "lower_ci_95",
    "upper_ci_95",
    "lower_ci_99_8",
    "upper_ci_99_8",
    "interval_method",
    "compared_to_london",
    "compared_to_london_99_8",
    "compared_to_ics",
    "rank",
    "quintile",
    "trend",
    "trend_assessment",
    "source",
    "suppressed",
];

pub async fn picture(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PictureParams>) -> Response {
    match principal(&state, &headers).await {
        Ok(viewer) => {
            let answer = picture_csv(&state, viewer.as_ref(), q).await.unwrap_or_else(fail);
            cached_as(answer, viewer.is_some(), state.http_max_age)
        }
        Err(refused) => refused,
    }
}

/// How an export may be kept: what a token sees (values in review, its own small numbers)
/// is the caller's alone, never kept by a browser or a proxy; what anyone sees may be kept
/// for `max_age` seconds. Either way it varies with the token.
fn cached_as(mut response: Response, signed_in: bool, max_age: u32) -> Response {
    let policy = if signed_in || !response.status().is_success() {
        HeaderValue::from_static("private, no-store")
    } else {
        HeaderValue::from_str(&format!("public, max-age={max_age}")).unwrap_or(HeaderValue::from_static("no-cache"))
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, policy);
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    response
}

async fn picture_csv(state: &AppState, viewer: Option<&Principal>, q: PictureParams) -> Result<Response, AppError> {
    check_text(&[("measure", Some(&q.measure)), ("period", q.period.as_deref()), ("asOf", q.as_of.as_deref())])?;
    let (m, period_type) = measure_of(state, &q.measure).await?;
    let period = q.period.as_deref().map(|p| period_param(p, "period", period_type)).transpose()?;
    let as_of = q
        .as_of
        .as_deref()
        .map(chrono::DateTime::parse_from_rfc3339)
        .transpose()
        .map_err(|e| bad(format!("asOf: not an RFC 3339 date and time ({e})")))?
        .map(|t| t.with_timezone(&chrono::Utc));
    let visibility = Visibility::of(viewer);
    let slug = m.slug.clone();
    let pic = load::picture(&state.db.conn, m, period, as_of, &visibility).await?;
    let period = pic.period.clone().unwrap_or_default();
    let header = std::iter::once(PICTURE_HEADER.iter().map(|s| (*s).to_owned()).collect());
    let rows = pic
        .areas
        .iter()
        .filter_map(|a| pic.geographies.get(&a.geography_id).map(|g| picture_row(&slug, &period, g, a)));
    write_csv(&format!("picture-{slug}.csv"), header.chain(rows))
}

fn picture_row(slug: &str, period: &str, g: &entity::geography::Model, a: &AreaFigure) -> Vec<String> {
    let shown = |v: Option<f64>| if a.suppressed { String::new() } else { number(v) };
    let (lower_95, upper_95) = (a.interval_95.map(|i| i.lower), a.interval_95.map(|i| i.upper));
    let (lower_998, upper_998) = (a.interval_99_8.map(|i| i.lower), a.interval_99_8.map(|i| i.upper));
    vec![
        slug.to_owned(),
        period.to_owned(),
        g.code.clone(),
        g.name.clone(),
        g.level.clone(),
        shown(a.computed.value),
        shown(a.computed.numerator),
        shown(a.computed.value.and(a.computed.denominator)),
        number(lower_95),
        number(upper_95),
        number(lower_998),
        number(upper_998),
        a.interval_95.map(|i| i.method.to_string()).unwrap_or_default(),
        a.vs_london[0].to_string(),
        a.vs_london[1].to_string(),
        a.vs_ics[0].to_string(),
        a.rank.map(|r| r.to_string()).unwrap_or_default(),
        a.quintile.map(|q| q.to_string()).unwrap_or_default(),
        a.trend.direction.to_string(),
        a.trend.assessment.to_string(),
        a.computed.source.map(|s| s.to_string()).unwrap_or_default(),
        a.suppressed.to_string(),
    ]
}

pub async fn observations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ObservationParams>,
) -> Response {
    match principal(&state, &headers).await {
        Ok(viewer) => {
            let answer = observations_csv(&state, viewer.as_ref(), q).await.unwrap_or_else(fail);
            cached_as(answer, viewer.is_some(), state.http_max_age)
        }
        Err(refused) => refused,
    }
}

async fn observations_csv(
    state: &AppState,
    viewer: Option<&Principal>,
    q: ObservationParams,
) -> Result<Response, AppError> {
    check_text(&[
        ("measure", Some(q.measure.as_str())),
        ("geography", q.geography.as_deref()),
        ("from", q.from.as_deref()),
        ("to", q.to.as_deref()),
    ])?;
    let (m, period_type) = measure_of(state, &q.measure).await?;
    // Periods of one type are told apart by their last day: `from` and `to` are inclusive.
    let bound = |raw: Option<&str>, field: &str| -> Result<Option<chrono::NaiveDate>, AppError> {
        let Some(raw) = raw else { return Ok(None) };
        Ok(period_param(raw, field, period_type)?.bounds(period_type).map(|b| b.end))
    };
    let (from, to) = (bound(q.from.as_deref(), "from")?, bound(q.to.as_deref(), "to")?);
    let db = &state.db.conn;
    let area = match &q.geography {
        Some(code) => Some(
            geographies::by_code(db, code)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no geography has the code '{code}'")))?
                .id,
        ),
        None => None,
    };
    let visibility = Visibility::of(viewer);
    let rows = observations::current_between(db, m.id, area, from, to, &visibility).await?;
    let mut periods: Vec<String> = rows.iter().map(|o| o.period.clone()).collect();
    periods.sort();
    periods.dedup();
    let hidden = load::hidden_in(db, &[(&m, periods)], &visibility).await?;
    let statuses = observations::return_statuses(db, &rows.iter().map(|o| o.return_id).collect::<Vec<_>>()).await?;
    let areas: HashMap<i64, entity::geography::Model> =
        geographies::all(db).await?.into_iter().map(|g| (g.id, g)).collect();
    let limit = m.suppress_up_to.map(f64::from);
    let is_count = m.value_type == ValueType::Count.as_str();
    let header = [
        "measure",
        "code",
        "name",
        "period",
        "value",
        "numerator",
        "denominator",
        "lower_ci",
        "upper_ci",
        "status",
        "revision",
        "submitted_at",
        "note",
        "suppressed",
    ];
    let records = rows.iter().map(|o| {
        let own = visibility.sees_review_in(o.geography_id);
        let count = if is_count { Some(o.value) } else { o.numerator };
        let small = limit.is_some_and(|l| count.is_some_and(|c| c > 0.0 && c <= l));
        let covered = hidden.get(&(m.id, o.period.clone())).is_some_and(|set| set.contains(&o.geography_id));
        let suppressed = !own && (small || covered);
        let shown = |v: Option<f64>| if suppressed { String::new() } else { number(v) };
        let g = areas.get(&o.geography_id);
        let status = statuses.get(&o.return_id).copied().unwrap_or(ReturnStatus::Submitted);
        vec![
            m.slug.clone(),
            g.map(|g| g.code.clone()).unwrap_or_default(),
            g.map(|g| g.name.clone()).unwrap_or_default(),
            o.period.clone(),
            shown(Some(o.value)),
            shown(o.numerator),
            shown(o.denominator),
            shown(o.lower_ci),
            shown(o.upper_ci),
            status.to_string(),
            o.revision.to_string(),
            o.submitted_at.to_rfc3339(),
            o.note.clone().unwrap_or_default(),
            suppressed.to_string(),
        ]
    });
    let header = std::iter::once(header.iter().map(|s| (*s).to_owned()).collect());
    write_csv(&format!("observations-{}.csv", m.slug), header.chain(records))
}
