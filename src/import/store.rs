//! Importing into a store: one unit of work, streamed.

use std::collections::BTreeMap;

use super::dataset::open;
use super::{
    CaseRecords, CsvRecords, Import, ImportError, Importable, Kind, Parsed, Reason, Rejection,
};
use crate::store::{Record, StoreError, Transaction, UnitOfWork};

/// What an import into a store did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Records written, by kind.
    pub imported: BTreeMap<Kind, usize>,
    /// Every rejected row, file by file in [`Kind::ALL`] order.
    pub rejected: Vec<Rejection>,
    /// Mapped optional columns that a file's header does not have.
    pub absent_columns: Vec<(Kind, String)>,
}

impl ImportReport {
    /// Records written in all.
    pub fn total(&self) -> usize {
        self.imported.values().sum()
    }
}

fn insert<X: Transaction, R: Record>(
    tx: &mut X,
    file: &str,
    line: u64,
    value: R,
    report: &mut ImportReport,
    kind: Kind,
) -> Result<(), ImportError> {
    match tx.insert(value) {
        Ok(_) => {
            *report.imported.entry(kind).or_insert(0) += 1;
            Ok(())
        }
        Err(e @ (StoreError::AlreadyExists { .. } | StoreError::Invalid(_))) => {
            report.rejected.push(Rejection {
                file: file.to_owned(),
                line,
                column: None,
                reason: Reason::Store(e.to_string()),
            });
            Ok(())
        }
        Err(e) => Err(ImportError::Store(e)),
    }
}

fn stream<X: Transaction, T: Importable + Record>(
    tx: &mut X,
    file: &str,
    records: CsvRecords<T, std::io::BufReader<std::fs::File>>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    report.absent_columns.extend(
        records
            .absent_columns()
            .into_iter()
            .map(|c| (<T as Importable>::KIND, c)),
    );
    for p in records {
        match p? {
            Parsed::Valid { line, value } => {
                insert(tx, file, line, value, report, <T as Importable>::KIND)?
            }
            Parsed::Rejected(r) => report.rejected.push(r),
        }
    }
    Ok(())
}

impl Import {
    /// Streams every file into `store` in one unit of work: customers
    /// first, then purchases, responses, interactions and cases. Valid rows
    /// are written and rejected ones reported; a record whose id the store
    /// already holds is rejected too ([`Reason::Store`]). In strict mode any
    /// rejection rolls the whole unit of work back and nothing is written.
    ///
    /// Memory stays flat: rows are inserted as they are read.
    ///
    /// # Example
    /// ```
    /// use crmkit::import::{Format, Import, ImportError, Kind};
    /// use crmkit::store::blocking::block_on;
    /// use crmkit::store::memory::MemoryStore;
    /// let dir = std::env::temp_dir().join(format!("crmkit-doc-into-store-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("customers.csv");
    /// std::fs::write(&path, "id,acquired_at\n\
    ///     00000000-0000-0000-0000-000000000001,2025-01-01T00:00:00Z\n\
    ///     00000000-0000-0000-0000-000000000002,yesterday\n")?;
    /// let store = MemoryStore::new();
    /// let import = Import::new(Format::default()).file(Kind::Customers, &path);
    /// // Strict: the bad date on line 3 rolls everything back.
    /// assert!(matches!(block_on(import.clone().strict(true).into_store(&store)),
    ///     Err(ImportError::Rejected { .. })));
    /// // Lenient: line 2 is stored, line 3 reported.
    /// let report = block_on(import.into_store(&store))?;
    /// assert_eq!(report.imported.get(&Kind::Customers), Some(&1));
    /// assert_eq!(report.rejected[0].line, 3);
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ImportError::Rejected`] in strict mode; [`ImportError::Store`] when
    /// the store fails (the unit of work is rolled back); the errors of
    /// [`CsvRecords::new`] and I/O errors (also rolled back).
    pub async fn into_store<S: UnitOfWork>(&self, store: &S) -> Result<ImportReport, ImportError> {
        let import = self.clone();
        store
            .transaction(move |tx| {
                let mut report = ImportReport::default();
                for (kind, source) in import.sources() {
                    let input = open(&source.path)?;
                    let file = source.path.display().to_string();
                    let (m, f) = (&source.mapping, import.format());
                    match kind {
                        Kind::Customers => stream(
                            tx,
                            &file,
                            CsvRecords::<crate::domain::Customer, _>::new(&file, input, m, f)?,
                            &mut report,
                        )?,
                        Kind::Purchases => stream(
                            tx,
                            &file,
                            CsvRecords::<crate::domain::Purchase, _>::new(&file, input, m, f)?,
                            &mut report,
                        )?,
                        Kind::Responses => stream(
                            tx,
                            &file,
                            CsvRecords::<crate::domain::SurveyResponse, _>::new(
                                &file, input, m, f,
                            )?,
                            &mut report,
                        )?,
                        Kind::Interactions => stream(
                            tx,
                            &file,
                            CsvRecords::<crate::domain::Interaction, _>::new(&file, input, m, f)?,
                            &mut report,
                        )?,
                        Kind::Cases => {
                            let r = CaseRecords::new(&file, input, m, f)?;
                            report
                                .absent_columns
                                .extend(r.absent_columns().into_iter().map(|c| (Kind::Cases, c)));
                            for p in r {
                                match p? {
                                    Parsed::Valid { line, value } => {
                                        insert(tx, &file, line, value, &mut report, Kind::Cases)?
                                    }
                                    Parsed::Rejected(r) => report.rejected.push(r),
                                }
                            }
                        }
                    }
                }
                if import.is_strict() && !report.rejected.is_empty() {
                    return Err(ImportError::Rejected {
                        rejections: report.rejected,
                    });
                }
                Ok(report)
            })
            .await
    }
}
