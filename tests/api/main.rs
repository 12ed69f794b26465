//! Black-box tests of the partner API over HTTP, against a spawned application.

mod auth;
mod authority;
mod batching;
mod catalogue;
mod conformance;
mod csv;
mod faults;
mod helpers;
mod http;
mod mutations;
mod neighbourhoods;
mod nodes;
mod observations;
mod pagination;
mod picture;
mod readme;
mod receipts;
mod returns;
mod review_cycle;
mod schema;
mod shutdown;
mod sockets;
mod source_fidelity;
mod subscriptions;
mod trust;
mod webhooks;
