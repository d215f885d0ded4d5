//! Sharded embedding and the training index build: a worker embeds its share of the training
//! shards into a part (vectors, keys, manifest), and the build checks and merges the parts
//! into one index.

pub mod build;
pub mod parts;
pub mod worker;
