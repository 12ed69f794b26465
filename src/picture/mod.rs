//! Pan-London analytics as pure functions: trajectories of commitments now; aggregation,
//! confidence intervals, comparison, ranking and coverage as the picture grows.

pub mod trajectory;
