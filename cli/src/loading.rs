//! Data named on the command line (`--fixture`, `--csv`, `--parquet`, `--json`), loaded
//! into the script's models right after they are registered — before the script's first
//! query, where Django's runner creates its tables — with a progress bar on large files.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use quiver::Database;

use crate::script::ScriptError;

/// Files smaller than this load without a progress bar.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// One file to load.
#[derive(Debug, Clone)]
pub enum DataLoad {
    Fixture(PathBuf),
    Csv(String, PathBuf),
    Parquet(String, PathBuf),
    Json(String, PathBuf),
}

/// The callback the interpreter runs once its models are registered.
pub type OnReady = Box<dyn FnMut(&Database) -> Result<(), ScriptError>>;

/// A callback that loads `loads` in order (once).
pub fn loader(loads: Vec<DataLoad>) -> OnReady {
    let mut loads = Some(loads);
    Box::new(move |db| {
        for load in loads.take().unwrap_or_default() {
            run(db, &load)?;
        }
        Ok(())
    })
}

fn progress(path: &PathBuf) -> Option<ProgressBar> {
    let size = std::fs::metadata(path).ok()?.len();
    if size < PROGRESS_MIN_BYTES {
        return None;
    }
    let bar = ProgressBar::new(size);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("loading {}", path.display()));
    Some(bar)
}

/// For loads that read the whole file at once (Parquet, fixtures): a spinner on large
/// files, as progress in bytes is not known.
fn spinner(path: &PathBuf) -> Option<ProgressBar> {
    progress(path).map(|_| {
        let s = ProgressBar::new_spinner();
        s.set_message(format!("loading {}", path.display()));
        s.enable_steady_tick(Duration::from_millis(120));
        s
    })
}

fn open(path: &PathBuf) -> Result<File, ScriptError> {
    File::open(path)
        .map_err(|e| ScriptError::new("FileNotFoundError", format!("{}: {e}", path.display())))
}

/// Loads one file (with a progress bar when it is large); returns the rows loaded.
pub fn run(db: &Database, load: &DataLoad) -> Result<usize, ScriptError> {
    Ok(match load {
        DataLoad::Fixture(path) => {
            let spinner = spinner(path);
            let n = db.load_fixture(path);
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            n?
        }
        DataLoad::Csv(model, path) => {
            let file = open(path)?;
            let name = path.display().to_string();
            match progress(path) {
                Some(bar) => {
                    let n = db.load_csv_from(model, bar.wrap_read(file), &name)?;
                    bar.finish_and_clear();
                    n
                }
                None => db.load_csv_from(model, file, &name)?,
            }
        }
        DataLoad::Json(model, path) => {
            let mut text = String::new();
            let file = open(path)?;
            let read = match progress(path) {
                Some(bar) => {
                    let r = bar.wrap_read(file).read_to_string(&mut text);
                    bar.finish_and_clear();
                    r
                }
                None => {
                    let mut file = file;
                    file.read_to_string(&mut text)
                }
            };
            read.map_err(|e| ScriptError::new("OSError", format!("{}: {e}", path.display())))?;
            db.load_json_text(model, &text, &path.display().to_string())?
        }
        DataLoad::Parquet(model, path) => {
            let spinner = spinner(path);
            let n = db.load_parquet(model, path);
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            n?
        }
    })
}
