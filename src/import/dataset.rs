//! Several files at once: which file holds which kind, strict mode, and
//! reading everything into memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::{
    Batch, CaseRecords, CsvRecords, Format, ImportError, Importable, Kind, Mapping, Parsed,
    Rejection,
};
use crate::domain::{Case, Customer, Interaction, Purchase, SurveyResponse};

/// One file to import and how its columns are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file.
    pub path: PathBuf,
    /// Its columns (the mapping's kind is the kind of file).
    pub mapping: Mapping,
}

/// An import of up to one file of each [`Kind`].
///
/// # Example
/// ```
/// use crmkit::import::{Import, Format, Kind};
/// let dir = std::env::temp_dir().join(format!("crmkit-doc-import-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("purchases.csv");
/// std::fs::write(&path, "id,customer_id,occurred_at,amount,currency\n\
///     00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002,2026-01-05T10:00:00Z,9.90,EUR\n\
///     00000000-0000-0000-0000-000000000003,00000000-0000-0000-0000-000000000002,2026-01-06T10:00:00Z,9.90,EURO\n")?;
/// let import = Import::new(Format::default()).file(Kind::Purchases, &path);
/// let data = import.read()?;
/// assert_eq!(data.purchases.len(), 1);
/// assert_eq!(data.rejected[0].line, 3);
/// // Strict: one bad row and nothing is read.
/// assert!(import.strict(true).read().is_err());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Import {
    sources: BTreeMap<Kind, Source>,
    format: Format,
    strict: bool,
}

/// Everything read by [`Import::read`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dataset {
    /// Valid customers.
    pub customers: Vec<Customer>,
    /// Valid purchases.
    pub purchases: Vec<Purchase>,
    /// Valid survey responses.
    pub responses: Vec<SurveyResponse>,
    /// Valid interactions.
    pub interactions: Vec<Interaction>,
    /// Valid cases.
    pub cases: Vec<Case>,
    /// Every rejected row, file by file in [`Kind::ALL`] order.
    pub rejected: Vec<Rejection>,
    /// Mapped optional columns that a file's header does not have.
    pub absent_columns: Vec<(Kind, String)>,
}

impl Import {
    /// An import reading cells as `format` says, not strict.
    pub fn new(format: Format) -> Self {
        Self {
            sources: BTreeMap::new(),
            format,
            strict: false,
        }
    }

    /// Reads `kind` from `path` with the default column names.
    pub fn file(self, kind: Kind, path: impl AsRef<Path>) -> Self {
        self.mapped(path, Mapping::new(kind))
    }

    /// Reads `path` with `mapping` (which names the kind).
    pub fn mapped(mut self, path: impl AsRef<Path>, mapping: Mapping) -> Self {
        let _ = self.sources.insert(
            mapping.kind(),
            Source {
                path: path.as_ref().to_owned(),
                mapping,
            },
        );
        self
    }

    /// In strict mode, one rejected row fails the whole import
    /// ([`ImportError::Rejected`]) and nothing is imported.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Whether the import is strict.
    pub const fn is_strict(&self) -> bool {
        self.strict
    }

    /// The cell format.
    pub const fn format(&self) -> &Format {
        &self.format
    }

    /// The files, by kind.
    pub const fn sources(&self) -> &BTreeMap<Kind, Source> {
        &self.sources
    }

    /// Reads every file into memory: the valid records, the rejected rows
    /// and the absent optional columns. For large files, import into a
    /// store instead, which streams.
    ///
    /// # Errors
    /// [`ImportError::Rejected`] in strict mode when any row is rejected;
    /// otherwise the errors of [`CsvRecords::new`] and I/O errors.
    pub fn read(&self) -> Result<Dataset, ImportError> {
        let mut d = Dataset::default();
        for (kind, source) in &self.sources {
            let input = open(&source.path)?;
            let file = source.path.display().to_string();
            let m = &source.mapping;
            let f = &self.format;
            match kind {
                Kind::Customers => take(CsvRecords::new(&file, input, m, f)?, &mut d, |d| {
                    &mut d.customers
                })?,
                Kind::Purchases => take(CsvRecords::new(&file, input, m, f)?, &mut d, |d| {
                    &mut d.purchases
                })?,
                Kind::Responses => take(CsvRecords::new(&file, input, m, f)?, &mut d, |d| {
                    &mut d.responses
                })?,
                Kind::Interactions => {
                    take(CsvRecords::new(&file, input, m, f)?, &mut d, |d| {
                        &mut d.interactions
                    })?;
                }
                Kind::Cases => {
                    let r = CaseRecords::new(&file, input, m, f)?;
                    d.absent_columns
                        .extend(r.absent_columns().into_iter().map(|c| (Kind::Cases, c)));
                    let Batch { valid, rejected } = r.collect_batch()?;
                    d.cases = valid;
                    d.rejected.extend(rejected);
                }
            }
        }
        if self.strict && !d.rejected.is_empty() {
            return Err(ImportError::Rejected {
                rejections: d.rejected,
            });
        }
        Ok(d)
    }
}

pub(super) fn open(path: &Path) -> Result<BufReader<File>, ImportError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| ImportError::Io {
            file: path.display().to_string(),
            source,
        })
}

fn take<T: Importable, R: std::io::Read>(
    records: CsvRecords<T, R>,
    d: &mut Dataset,
    into: impl FnOnce(&mut Dataset) -> &mut Vec<T>,
) -> Result<(), ImportError> {
    d.absent_columns
        .extend(records.absent_columns().into_iter().map(|c| (T::KIND, c)));
    let mut valid = Vec::new();
    for p in records {
        match p? {
            Parsed::Valid { value, .. } => valid.push(value),
            Parsed::Rejected(r) => d.rejected.push(r),
        }
    }
    *into(d) = valid;
    Ok(())
}
