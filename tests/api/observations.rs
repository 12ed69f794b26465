//! Reading values: anonymous callers see approved revisions only, history lists revisions,
//! and a commitment is judged on London's latest approved value. Returns are arranged
//! directly in the database here; submitting them through the API is the returns pipeline's.

use chrono::{NaiveDate, Utc};
use entity::{geography, measure, observation, organisation, return_};
use london_vision::values::Role;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::spawn_app;

async fn add_return(db: &DatabaseConnection, status: &str, values: &[(&str, f64, i32)]) {
    let org = organisation::Entity::find()
        .filter(organisation::Column::Slug.eq("gla"))
        .one(db)
        .await
        .expect("q")
        .expect("gla");
    let london = geography::Entity::find()
        .filter(geography::Column::Code.eq("E12000007"))
        .one(db)
        .await
        .expect("q")
        .expect("london");
    let m = measure::Entity::find()
        .filter(measure::Column::Slug.eq("reception-overweight"))
        .one(db)
        .await
        .expect("q")
        .expect("measure");
    let ret = return_::ActiveModel {
        organisation_id: Set(org.id),
        status: Set(status.to_owned()),
        submitted_at: Set(Utc::now()),
        submitted_by: Set("analyst@london.gov.uk".to_owned()),
        reviewed_at: Set((status != "SUBMITTED").then(Utc::now)),
        ..Default::default()
    };
    let return_id = return_::Entity::insert(ret).exec(db).await.expect("insert return").last_insert_id;
    for (period, value, revision) in values {
        let start: i32 = period[..4].parse().expect("year");
        let row = observation::ActiveModel {
            measure_id: Set(m.id),
            geography_id: Set(london.id),
            period: Set((*period).to_owned()),
            period_start: Set(NaiveDate::from_ymd_opt(start, 9, 1).expect("date")),
            period_end: Set(NaiveDate::from_ymd_opt(start + 1, 8, 31).expect("date")),
            revision: Set(*revision),
            value: Set(*value),
            return_id: Set(return_id),
            submitted_at: Set(Utc::now()),
            submitted_by: Set("analyst@london.gov.uk".to_owned()),
            ..Default::default()
        };
        observation::Entity::insert(row).exec(db).await.expect("insert observation");
    }
    // Written around the API: the current values approvals keep are brought up to date.
    london_vision::picture::load::rebuild_current_values(db).await.expect("current values rebuilt");
}

#[tokio::test]
async fn anonymous_readers_see_approved_values_and_the_commitment_is_judged_on_them() {
    let app = spawn_app().await;
    let db = app.database().await;
    add_return(&db, "APPROVED", &[("2018/19", 21.5, 1), ("2020/21", 20.5, 1)]).await;
    // A correction still in review, and a rejected one: neither is public.
    add_return(&db, "SUBMITTED", &[("2020/21", 21.9, 2)]).await;
    add_return(&db, "REJECTED", &[("2018/19", 30.0, 2)]).await;

    let data = app
        .data(
            r#"{ measure(slug: "reception-overweight") {
                   observations(geography: "E12000007") { totalCount nodes { period value revision status submittedBy
                     geography { code } history { revision value status } } } }
                 priority(slug: "childhood-obesity") { commitments { latest { value period } status progress } } }"#,
            json!({}),
        )
        .await;
    let obs = &data["measure"]["observations"];
    assert_eq!(obs["totalCount"], 2, "one current value per period: {obs:#}");
    let values: Vec<(Value, Value, Value)> = obs["nodes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|o| (o["period"].clone(), o["value"].clone(), o["status"].clone()))
        .collect();
    assert_eq!(
        values,
        [(json!("2018/19"), json!(21.5), json!("APPROVED")), (json!("2020/21"), json!(20.5), json!("APPROVED"))]
    );
    for o in obs["nodes"].as_array().expect("list") {
        assert_eq!(o["submittedBy"], Value::Null, "who submitted is for partners only");
        assert_eq!(o["history"], json!([{ "revision": 1, "value": o["value"], "status": "APPROVED" }]));
    }

    // 22% in 2017/18 to 19.8% by 2023/24: half-way in time the line expects 20.9; 20.5 is ahead.
    let c = &data["priority"]["commitments"][0];
    assert_eq!(c["latest"], json!({ "value": 20.5, "period": "2020/21" }));
    assert_eq!(c["status"], "ON_TRACK");
    let progress = c["progress"].as_f64().expect("progress");
    assert!((progress - 1.5 / 2.2).abs() < 1e-9, "{progress}");

    let filtered = app
        .data(
            r#"{ measure(slug: "reception-overweight") { observations(period: "2018/19") { nodes { value } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(filtered["measure"]["observations"]["nodes"], json!([{ "value": 21.5 }]));
}

#[tokio::test]
async fn partners_also_see_values_in_review_with_their_status() {
    let app = spawn_app().await;
    let db = app.database().await;
    add_return(&db, "APPROVED", &[("2020/21", 20.5, 1)]).await;
    add_return(&db, "SUBMITTED", &[("2020/21", 21.9, 2)]).await;
    add_return(&db, "REJECTED", &[("2020/21", 30.0, 3)]).await;
    // The values are London's, so a pan-London partner sees those in review.
    let token = app.token("gla", &[Role::Submitter]);
    let data = app
        .data_as(
            &token,
            r#"{ measure(slug: "reception-overweight") { observations { nodes { value revision status submittedBy
                 history { revision value status } } } } }"#,
            json!({}),
        )
        .await;
    let nodes = data["measure"]["observations"]["nodes"].as_array().expect("list");
    assert_eq!(nodes.len(), 1);
    let current = &nodes[0];
    assert_eq!(
        (current["value"].clone(), current["revision"].clone()),
        (json!(21.9), json!(2)),
        "the correction in review is current"
    );
    assert_eq!(current["status"], "SUBMITTED");
    assert_eq!(current["submittedBy"], "analyst@london.gov.uk");
    // A rejected revision is never current, and partners see it in no history either.
    assert_eq!(
        current["history"],
        json!([{ "revision": 1, "value": 20.5, "status": "APPROVED" }, { "revision": 2, "value": 21.9, "status": "SUBMITTED" }])
    );
}
