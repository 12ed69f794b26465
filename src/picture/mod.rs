//! The pan-London picture as pure functions: the distributions and intervals of the public
//! health profiles' methods, aggregation, comparison, ranking, trends, small-number
//! suppression and the trajectories of commitments. Loading lives in `load`.

pub mod build;
pub mod compare;
pub mod intervals;
pub mod load;
pub mod public_hidden;
pub mod stats;
pub mod suppress;
pub mod trajectory;
pub mod trend;
