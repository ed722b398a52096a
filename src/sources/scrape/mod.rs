//! Scraping local exporters.
pub mod parse;
