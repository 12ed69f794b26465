//! The London Vision partner API: the London health and care partnership's ten priorities,
//! their commitments and outcome measures, served over GraphQL to boroughs, ICSs and
//! front-end developers.

pub mod values;
