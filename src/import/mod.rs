//! Import a business's own data from CSV files (feature `csv`).
//!
//! Five kinds of file are read, one record a row:
//! [`Customer`](crate::domain::Customer)s,
//! [`Purchase`](crate::domain::Purchase)s,
//! [`SurveyResponse`](crate::domain::SurveyResponse)s,
//! [`Interaction`](crate::domain::Interaction)s, and
//! [`Case`](crate::domain::Case)s
//! (one row per case event, the rows of a case together and in time order).
//! [`Kind::fields`] lists each kind's columns; [`Mapping`] renames them to
//! the headers of your export, and [`Format`] says how dates, amounts,
//! lists and ids are written.
//!
//! # What is checked, and what is reported
//!
//! - Before any row is read, the header must hold every required column;
//!   otherwise the whole file is refused with [`ImportError::MissingColumns`].
//!   Optional columns that are absent are listed by
//!   [`CsvRecords::absent_columns`], so a report can say what it skipped.
//! - Every row goes through the domain constructors, so an imported value
//!   is as valid as one built in code. A row that fails is a [`Rejection`]
//!   with its file, line, column and reason (the
//!   [`ValidationError`] message where a
//!   value was invalid). No row is silently dropped, and no value is
//!   altered: cells are not trimmed, numbers are not rounded, ambiguous
//!   local times are rejected rather than guessed.
//! - A row whose id was already seen in the file is rejected as a
//!   duplicate, naming the line of the first one.
//! - A row with fewer or more cells than the header is rejected; when it
//!   is the last row and the file does not end with a line break, the
//!   rejection says the last line was truncated.
//!
//! # Importing
//!
//! [`Import`] names the files of a run. [`Import::read`] reads them into
//! memory; [`Import::into_store`] streams them into any store offering a
//! [`UnitOfWork`](crate::store::UnitOfWork) (the memory store, SQLite, your
//! own) in one transaction: every valid row, with the rejected ones in the
//! [`ImportReport`], or in strict mode nothing at all.
//!
//! # Memory
//!
//! Files are streamed: [`CsvRecords`] holds one row (and one row of
//! look-ahead) at a time, plus the ids seen so far (for duplicates: 16
//! bytes and a line number per row). Cases are assembled one at a time.
//!
//! # Example
//! ```
//! use crmkit::import::{CsvRecords, Format, Mapping, Kind, Parsed};
//! use crmkit::domain::{Currency, Purchase};
//!
//! let csv = "\
//! order,client,date,total
//! 00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-00000000000a,05.01.2026,\"49,90\"
//! 00000000-0000-0000-0000-000000000002,00000000-0000-0000-0000-00000000000a,31.02.2026,\"10,00\"
//! ";
//! let mapping = Mapping::new(Kind::Purchases)
//!     .rename("id", "order")?
//!     .rename("customer_id", "client")?
//!     .rename("occurred_at", "date")?
//!     .rename("amount", "total")?;
//! let format = Format {
//!     date_formats: vec!["%d.%m.%Y".into()],
//!     default_currency: Some(Currency::EUR),
//!     decimal_separator: ',',
//!     ..Format::default()
//! };
//! let batch = CsvRecords::<Purchase, _>::new("orders.csv", csv.as_bytes(), &mapping, &format)?
//!     .collect_batch()?;
//! assert_eq!(batch.valid.len(), 1);
//! let bad = &batch.rejected[0];
//! assert_eq!((bad.line, bad.column.as_deref()), (3, Some("date")));
//! assert!(bad.to_string().starts_with("orders.csv:3: column date: occurred_at has an invalid format"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cases;
mod dataset;
mod entities;
pub mod export;
mod format;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;

use csv::StringRecord;
use uuid::Uuid;

use crate::error::ValidationError;

pub use cases::CaseRecords;
pub use dataset::{Dataset, Import, Source};
pub use format::{Format, IdPolicy};
pub use store::ImportReport;

/// The kinds of file that can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Customers, one a row.
    Customers,
    /// Sales and refunds, one a row.
    Purchases,
    /// Survey responses, one a row.
    Responses,
    /// Interactions, one a row.
    Interactions,
    /// Case events, one a row; the rows of a case are contiguous.
    Cases,
}

impl Kind {
    /// Every kind, in the order an import writes them (customers first).
    pub const ALL: [Kind; 5] = [
        Kind::Customers,
        Kind::Purchases,
        Kind::Responses,
        Kind::Interactions,
        Kind::Cases,
    ];

    /// The kind's name (`customers`, `purchases`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customers => "customers",
            Self::Purchases => "purchases",
            Self::Responses => "responses",
            Self::Interactions => "interactions",
            Self::Cases => "cases",
        }
    }

    /// The fields of this kind of file, in the exporter's column order.
    ///
    /// # Example
    /// ```
    /// use crmkit::import::Kind;
    /// let required: Vec<&str> = Kind::Purchases.fields().iter()
    ///     .filter(|f| f.required).map(|f| f.name).collect();
    /// assert_eq!(required, ["id", "customer_id", "occurred_at", "amount"]);
    /// ```
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Customers => entities::CUSTOMER_FIELDS,
            Self::Purchases => entities::PURCHASE_FIELDS,
            Self::Responses => entities::RESPONSE_FIELDS,
            Self::Interactions => entities::INTERACTION_FIELDS,
            Self::Cases => cases::CASE_FIELDS,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field of an importable file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's name, which is also its default column header.
    pub name: &'static str,
    /// Whether the header must have this column.
    pub required: bool,
    /// What the cell holds and how it is written.
    pub doc: &'static str,
}

/// Which column of a file holds which field: by default the column named
/// like the field.
///
/// # Example
/// ```
/// use crmkit::import::{Kind, Mapping};
/// let m = Mapping::new(Kind::Purchases).rename("occurred_at", "Order Date")?;
/// assert_eq!(m.column("occurred_at"), Some("Order Date"));
/// assert_eq!(m.column("amount"), Some("amount"));
/// assert!(Mapping::new(Kind::Purchases).rename("ocurred_at", "x").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    kind: Kind,
    columns: BTreeMap<&'static str, String>,
}

impl Mapping {
    /// The default mapping of `kind`: every column named like its field.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            columns: BTreeMap::new(),
        }
    }

    /// The kind of file mapped.
    pub const fn kind(&self) -> Kind {
        self.kind
    }

    /// Reads `field` from the column headed `column`.
    ///
    /// # Errors
    /// [`ImportError::UnknownField`] if the kind has no such field.
    pub fn rename(mut self, field: &str, column: impl Into<String>) -> Result<Self, ImportError> {
        let f = self
            .kind
            .fields()
            .iter()
            .find(|f| f.name == field)
            .ok_or_else(|| ImportError::UnknownField {
                kind: self.kind,
                field: field.to_owned(),
            })?;
        let _ = self.columns.insert(f.name, column.into());
        Ok(self)
    }

    /// The column header of `field`, or `None` if the kind has no such field.
    pub fn column(&self, field: &str) -> Option<&str> {
        let f = self.kind.fields().iter().find(|f| f.name == field)?;
        Some(self.columns.get(f.name).map_or(f.name, String::as_str))
    }
}

/// Why a row was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// A cell (or the row as a whole) failed the domain's validation; a
    /// required cell that is empty is [`ValidationError::Empty`].
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The row's id was already on an earlier line of the file.
    #[error("duplicate id {id}: already on line {first_line}")]
    Duplicate {
        /// The repeated id.
        id: String,
        /// The line that first had it.
        first_line: u64,
    },
    /// The row has another number of cells than the header.
    #[error("{found} cells where the header has {expected}{}", if *.truncated { " (the last line is truncated: the file ends inside it)" } else { "" })]
    CellCount {
        /// Cells in the row.
        found: usize,
        /// Columns in the header.
        expected: usize,
        /// Whether this is the last line and the file ends without a line break.
        truncated: bool,
    },
    /// The row is not readable CSV (for example, not UTF-8).
    #[error("unreadable row: {0}")]
    Malformed(String),
    /// Another row of the same case was rejected, so the case is not
    /// imported (importing the rest would alter its history).
    #[error("case {case} is not imported because line {line} was rejected")]
    CaseRejected {
        /// The case.
        case: String,
        /// The line whose rejection rejected the case.
        line: u64,
    },
    /// The store refused the record (for example, its id is already stored).
    #[error("the store refused it: {0}")]
    Store(String),
}

/// A rejected row: where it is and why.
///
/// Displays as `file:line: column name: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The file name given to the reader.
    pub file: String,
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// The column header of the cell at fault, if one cell is.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: Reason,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(c) = &self.column {
            write!(f, "column {c}: ")?;
        }
        write!(f, "{}", self.reason)
    }
}

/// Errors that stop an import as a whole (rows are [`Rejection`]s instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The header lacks required columns; no row was read.
    #[error("{file}: missing required columns: {}", columns.join(", "))]
    MissingColumns {
        /// The file.
        file: String,
        /// The missing column headers (as mapped).
        columns: Vec<String>,
    },
    /// The header names a column twice that the mapping uses.
    #[error("{file}: column {column} appears more than once in the header")]
    DuplicateColumn {
        /// The file.
        file: String,
        /// The repeated header.
        column: String,
    },
    /// A [`Mapping`] named a field its kind does not have.
    #[error("{kind} files have no field {field}")]
    UnknownField {
        /// The kind of file.
        kind: Kind,
        /// The unknown field.
        field: String,
    },
    /// The header row is unreadable.
    #[error("{file}: unreadable header: {message}")]
    Header {
        /// The file.
        file: String,
        /// What the CSV reader said.
        message: String,
    },
    /// The store failed; the unit of work was rolled back.
    #[error("the store failed, nothing was imported: {0}")]
    Store(#[from] crate::store::StoreError),
    /// Strict mode: some rows were rejected, so nothing was imported.
    #[error("{} rows rejected, nothing imported (strict mode); first: {}", rejections.len(), rejections.first().map(ToString::to_string).unwrap_or_default())]
    Rejected {
        /// Every rejected row.
        rejections: Vec<Rejection>,
    },
}

/// A row's outcome: a valid record or a rejection.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<T> {
    /// A valid record and the line it starts on.
    Valid {
        /// The line.
        line: u64,
        /// The record.
        value: T,
    },
    /// A rejected row.
    Rejected(Rejection),
}

/// Every valid record and every rejection of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<T> {
    /// The valid records, in file order.
    pub valid: Vec<T>,
    /// The rejected rows, in file order.
    pub rejected: Vec<Rejection>,
}

impl<T> Batch<T> {
    /// Sorts parsed rows into valid records and rejections, in file order;
    /// stops at the first error that ends the reading.
    pub(crate) fn collect(
        rows: impl IntoIterator<Item = Result<Parsed<T>, ImportError>>,
    ) -> Result<Self, ImportError> {
        let mut batch = Batch {
            valid: Vec::new(),
            rejected: Vec::new(),
        };
        for p in rows {
            match p? {
                Parsed::Valid { value, .. } => batch.valid.push(value),
                Parsed::Rejected(r) => batch.rejected.push(r),
            }
        }
        Ok(batch)
    }
}

/// A record kind that can be read from one CSV row.
pub trait Importable: Sized + private::Sealed {
    /// The kind of file.
    const KIND: Kind;
    /// The id that must be unique in the file.
    fn unique_id(&self) -> Uuid;
    /// Builds the record from a row.
    #[doc(hidden)]
    fn from_row(row: &Row<'_>) -> Result<Self, CellError>;
}

mod private {
    pub trait Sealed {}
    impl Sealed for crate::domain::Customer {}
    impl Sealed for crate::domain::Purchase {}
    impl Sealed for crate::domain::SurveyResponse {}
    impl Sealed for crate::domain::Interaction {}
    impl Sealed for crate::domain::Case {}
}

/// A cell error: the field at fault (`None` for the row as a whole) and why.
#[doc(hidden)]
#[derive(Debug)]
pub struct CellError {
    field: Option<&'static str>,
    reason: Reason,
}

impl CellError {
    fn row(e: ValidationError) -> Self {
        Self {
            field: None,
            reason: Reason::Invalid(e),
        }
    }
}

/// One row, with its cells reachable by field name.
#[doc(hidden)]
#[derive(Debug)]
pub struct Row<'a> {
    record: &'a StringRecord,
    layout: &'a Layout,
    format: &'a Format,
}

impl<'a> Row<'a> {
    /// The cell of `field`; `None` if the column is absent or the cell empty.
    fn get(&self, field: &'static str) -> Option<&'a str> {
        let i = self.layout.index(field)?;
        self.record.get(i).filter(|s| !s.is_empty())
    }

    fn cell<T>(
        &self,
        field: &'static str,
        parse: impl FnOnce(&str) -> Result<T, ValidationError>,
    ) -> Result<Option<T>, CellError> {
        self.get(field)
            .map(parse)
            .transpose()
            .map_err(|e| CellError {
                field: Some(field),
                reason: Reason::Invalid(e),
            })
    }

    fn required<T>(
        &self,
        field: &'static str,
        parse: impl FnOnce(&str) -> Result<T, ValidationError>,
    ) -> Result<T, CellError> {
        self.cell(field, parse)?.ok_or(CellError {
            field: Some(field),
            reason: Reason::Invalid(ValidationError::Empty { field }),
        })
    }

    fn text(&self, field: &'static str) -> Option<String> {
        self.get(field).map(str::to_owned)
    }
}

/// Which header column holds each field of a kind.
#[derive(Debug)]
struct Layout {
    fields: &'static [Field],
    /// Column index per field (same order as `fields`).
    index: Vec<Option<usize>>,
    /// Column header per field (as mapped).
    names: Vec<String>,
    width: usize,
}

impl Layout {
    fn new(file: &str, header: &StringRecord, mapping: &Mapping) -> Result<Self, ImportError> {
        let fields = mapping.kind.fields();
        let mut index = Vec::with_capacity(fields.len());
        let mut names = Vec::with_capacity(fields.len());
        let mut missing = Vec::new();
        for f in fields {
            let name = mapping.column(f.name).unwrap_or(f.name).to_owned();
            let mut found = header.iter().enumerate().filter(|(_, h)| *h == name);
            let at = found.next().map(|(i, _)| i);
            if found.next().is_some() {
                return Err(ImportError::DuplicateColumn {
                    file: file.to_owned(),
                    column: name,
                });
            }
            if at.is_none() && f.required {
                missing.push(name.clone());
            }
            index.push(at);
            names.push(name);
        }
        if !missing.is_empty() {
            return Err(ImportError::MissingColumns {
                file: file.to_owned(),
                columns: missing,
            });
        }
        Ok(Self {
            fields,
            index,
            names,
            width: header.len(),
        })
    }

    fn position(&self, field: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == field)
    }

    fn index(&self, field: &str) -> Option<usize> {
        self.position(field)
            .and_then(|p| self.index.get(p).copied().flatten())
    }

    fn column(&self, field: &str) -> Option<String> {
        self.position(field)
            .and_then(|p| self.names.get(p).cloned())
    }

    fn absent(&self) -> Vec<String> {
        self.index
            .iter()
            .zip(&self.names)
            .filter(|(i, _)| i.is_none())
            .map(|(_, n)| n.clone())
            .collect()
    }
}

/// A reader that remembers the last byte it returned, to tell a truncated
/// last line from a complete one.
#[derive(Debug)]
struct Tail<R> {
    inner: R,
    last: Option<u8>,
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = buf.get(..n).and_then(|b| b.last()) {
            self.last = Some(*b);
        }
        Ok(n)
    }
}

/// The raw rows of one file, with one row of look-ahead.
struct Rows<R: Read> {
    file: String,
    reader: csv::Reader<Tail<R>>,
    layout: Layout,
    format: Format,
    current: StringRecord,
    ahead: StringRecord,
    /// Whether `ahead` holds an unread row, or the error reading it.
    pending: Option<Result<(), csv::Error>>,
}

/// A raw row: the record is in `Rows::current`.
enum Raw {
    Row { line: u64 },
    Bad(Rejection),
}

impl<R: Read> Rows<R> {
    fn new(file: &str, input: R, mapping: &Mapping, format: &Format) -> Result<Self, ImportError> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(format.delimiter)
            .flexible(true)
            .from_reader(Tail {
                inner: input,
                last: None,
            });
        let header = reader.headers().map_err(|e| header_error(file, e))?.clone();
        let layout = Layout::new(file, &header, mapping)?;
        let mut rows = Self {
            file: file.to_owned(),
            reader,
            layout,
            format: format.clone(),
            current: StringRecord::new(),
            ahead: StringRecord::new(),
            pending: None,
        };
        rows.read_ahead();
        Ok(rows)
    }

    fn read_ahead(&mut self) {
        self.pending = match self.reader.read_record(&mut self.ahead) {
            Ok(true) => Some(Ok(())),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        };
    }

    /// The next row, or `None` at the end.
    fn next_raw(&mut self) -> Option<Result<Raw, ImportError>> {
        let got = self.pending.take()?;
        std::mem::swap(&mut self.current, &mut self.ahead);
        match got {
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                if fatal {
                    return Some(Err(ImportError::Io {
                        file: self.file.clone(),
                        source: std::io::Error::other(e.to_string()),
                    }));
                }
                self.read_ahead();
                Some(Ok(Raw::Bad(self.reject(
                    line,
                    None,
                    Reason::Malformed(e.to_string()),
                ))))
            }
            Ok(()) => {
                let line = self.current.position().map_or(0, csv::Position::line);
                self.read_ahead();
                let found = self.current.len();
                if found != self.layout.width {
                    let last = self.pending.is_none();
                    let truncated =
                        last && !matches!(self.reader.get_ref().last, Some(b'\n' | b'\r'));
                    return Some(Ok(Raw::Bad(self.reject(
                        line,
                        None,
                        Reason::CellCount {
                            found,
                            expected: self.layout.width,
                            truncated,
                        },
                    ))));
                }
                Some(Ok(Raw::Row { line }))
            }
        }
    }

    fn row(&self) -> Row<'_> {
        Row {
            record: &self.current,
            layout: &self.layout,
            format: &self.format,
        }
    }

    fn reject(&self, line: u64, field: Option<&str>, reason: Reason) -> Rejection {
        Rejection {
            file: self.file.clone(),
            line,
            column: field.and_then(|f| self.layout.column(f)),
            reason,
        }
    }

    fn cell_rejection(&self, line: u64, e: CellError) -> Rejection {
        self.reject(line, e.field, e.reason)
    }
}

fn header_error(file: &str, e: csv::Error) -> ImportError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ImportError::Io {
            file: file.to_owned(),
            source,
        },
        other => ImportError::Header {
            file: file.to_owned(),
            message: format!("{other:?}"),
        },
    }
}

/// Streams the records of one CSV file of customers, purchases, responses
/// or interactions (cases: [`CaseRecords`]).
///
/// Iterating yields each row's [`Parsed`] outcome in file order; an
/// [`ImportError`] (an I/O error mid-file) ends the iteration.
pub struct CsvRecords<T: Importable, R: Read> {
    rows: Rows<R>,
    seen: HashMap<Uuid, u64>,
    _kind: PhantomData<fn() -> T>,
}

impl<T: Importable, R: Read> fmt::Debug for CsvRecords<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvRecords")
            .field("file", &self.rows.file)
            .field("kind", &T::KIND)
            .finish_non_exhaustive()
    }
}

impl<T: Importable, R: Read> CsvRecords<T, R> {
    /// Reads the header of `input` (called `file` in rejections) and checks
    /// it against `mapping`.
    ///
    /// # Errors
    /// [`ImportError::MissingColumns`], [`ImportError::DuplicateColumn`],
    /// [`ImportError::Header`], [`ImportError::Io`]; and
    /// [`ImportError::UnknownField`] if `mapping` is for another kind.
    pub fn new(
        file: &str,
        input: R,
        mapping: &Mapping,
        format: &Format,
    ) -> Result<Self, ImportError> {
        if mapping.kind != T::KIND {
            return Err(ImportError::UnknownField {
                kind: T::KIND,
                field: format!("(a mapping for {} files)", mapping.kind),
            });
        }
        Ok(Self {
            rows: Rows::new(file, input, mapping, format)?,
            seen: HashMap::new(),
            _kind: PhantomData,
        })
    }

    /// The mapped optional columns that the header does not have.
    pub fn absent_columns(&self) -> Vec<String> {
        self.rows.layout.absent()
    }

    /// Reads the whole file into memory (for small files and tests).
    ///
    /// # Errors
    /// An [`ImportError`] that stopped the reading.
    pub fn collect_batch(self) -> Result<Batch<T>, ImportError> {
        Batch::collect(self)
    }
}

impl<T: Importable, R: Read> Iterator for CsvRecords<T, R> {
    type Item = Result<Parsed<T>, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = match self.rows.next_raw()? {
            Err(e) => return Some(Err(e)),
            Ok(Raw::Bad(r)) => return Some(Ok(Parsed::Rejected(r))),
            Ok(Raw::Row { line }) => line,
        };
        let value = match T::from_row(&self.rows.row()) {
            Ok(v) => v,
            Err(e) => return Some(Ok(Parsed::Rejected(self.rows.cell_rejection(line, e)))),
        };
        let id = value.unique_id();
        if let Some(first_line) = self.seen.get(&id) {
            return Some(Ok(Parsed::Rejected(self.rows.reject(
                line,
                Some("id"),
                Reason::Duplicate {
                    id: id.to_string(),
                    first_line: *first_line,
                },
            ))));
        }
        let _ = self.seen.insert(id, line);
        Some(Ok(Parsed::Valid { line, value }))
    }
}
