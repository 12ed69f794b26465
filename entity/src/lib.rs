//! sea-orm entities, one file per table of the `migration` crate. Nothing else lives here:
//! rules belong to the library, public types to its GraphQL adapter.

pub mod audit_event;
pub mod case_study;
pub mod case_study_geography;
pub mod case_study_organisation;
pub mod case_study_priority;
pub mod commitment;
pub mod current_value;
pub mod geography;
pub mod issued_token;
pub mod measure;
pub mod observation;
pub mod organisation;
pub mod organisation_member;
pub mod period_lock;
pub mod priority;
pub mod return_;
pub mod revoked_token;
pub mod series_break;
pub mod webhook;
pub mod webhook_delivery;
