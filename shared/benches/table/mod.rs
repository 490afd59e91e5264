//! What both benches share: a row of the table scripts/bench prints, and where the rows go.

use std::io::Write;
use std::path::PathBuf;

/// The runtime a bench drives its fakes and stores on: two workers, one per core here.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One row of the table: what, result, reference, ratio, target.
pub struct Row(pub [String; 5]);

pub fn row(what: impl Into<String>, result: String, reference: String, ratio: f64, target: &str) -> Row {
    Row([
        what.into(),
        result,
        reference,
        format!("{ratio:.2}"),
        target.to_owned(),
    ])
}

/// Appends the rows, tab-separated, to the file after `--rows`; prints them without one.
/// (`cargo bench` passes `--bench`; anything else we do not know is ignored.)
pub fn write(rows: &[Row]) {
    let args: Vec<String> = std::env::args().collect();
    let rows_file = args
        .iter()
        .position(|arg| arg == "--rows")
        .and_then(|at| args.get(at + 1))
        .map(PathBuf::from);
    let lines: String = rows.iter().map(|Row(cells)| cells.join("\t") + "\n").collect();
    match rows_file {
        Some(path) => std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .and_then(|mut file| file.write_all(lines.as_bytes()))
            .expect("the rows file is writable"),
        None => print!("{lines}"),
    }
}
