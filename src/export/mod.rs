//! Writing results: the scan's match list (JSON Lines or CSV) and the labelled review set.

mod scan_output;

pub use scan_output::{ScanOutputFormat, write_scan_results};
