//! Writing results: the scan's match list (JSON Lines, CSV or Parquet) and the labelled review
//! set.

mod parquet;
pub mod report;
mod report_html;
mod report_svg;
mod review_html;
mod review_page;
mod review_row;
mod review_set;
mod scan_output;

pub use parquet::{REVIEW_PARQUET_VERSION, SCAN_PARQUET_VERSION};
pub use report_html::report_html;
pub use review_html::escape_html;
pub use review_page::PAGE_LABELS_FORMAT;
pub use review_row::ReviewRow;
pub use review_set::{
    CurrentNames, ExportError, ExportReport, ExportRequest, ReviewFormat, csv_text_cell,
    csv_text_uncell, export_review_set, is_exported, review_rows,
};
pub use scan_output::{ScanOutputFormat, write_scan_results};
