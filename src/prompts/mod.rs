//! The prompt side of an audit, as the paper did it: captions drawn from the training set as
//! prompts ([`set`]), each generation linked back to its caption's training image, and the
//! phrases whose use goes with copying ([`phrases`], [`analysis`]). Pure: reading sources and
//! writing reports is the jobs' (`audit`, `scan`).

pub mod analysis;
pub mod phrases;
pub mod set;
