//! Case files: one row per case event, the rows of a case together.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::Read;

use uuid::Uuid;

use super::entities::flag;
use super::format::named;
use super::{
    CellError, Field, ImportError, Kind, Mapping, Parsed, Raw, Reason, Rejection, Row, Rows,
};
use crate::domain::{
    Actor, AgentId, BotId, Case, CaseEvent, CaseEventKind, CaseId, Channel, CustomerId, Priority,
};
use crate::error::ValidationError;
use crate::import::{Batch, Format};

const fn field(name: &'static str, required: bool, doc: &'static str) -> Field {
    Field {
        name,
        required,
        doc,
    }
}

pub(super) const CASE_FIELDS: &[Field] = &[
    field(
        "case_id",
        true,
        "the case id; the rows of a case are contiguous, oldest first",
    ),
    field(
        "customer_id",
        true,
        "the customer (on the created row; later rows empty or equal)",
    ),
    field(
        "subject",
        true,
        "the subject (on the created row; later rows empty or equal)",
    ),
    field(
        "priority",
        false,
        "low, normal (default), high or urgent (created row)",
    ),
    field(
        "channel",
        true,
        "the channel the case came in through (created row)",
    ),
    field("at", true, "when the event happened"),
    field(
        "event",
        true,
        "created, public_reply, private_note, customer_reply, bot_reply, escalated_to_human, status_changed, solved, reopened, closed or assigned",
    ),
    field("actor", true, "customer, agent, bot or system"),
    field(
        "actor_id",
        false,
        "the agent's or bot's id when the actor is one",
    ),
    field(
        "public_message",
        false,
        "created: whether the first message is public (default true)",
    ),
    field("status", false, "status_changed: open, pending or on_hold"),
    field("agent_id", false, "assigned: the agent now responsible"),
    field("team_id", false, "assigned: the team now responsible"),
    field("body", false, "the message or note text (personal data)"),
];

/// A case being assembled from its rows.
struct Building {
    id: CaseId,
    lines: Vec<u64>,
    case: Option<Case>,
    /// The line (and reason) that rejected the case, if one did.
    failed: Option<u64>,
}

/// Streams the cases of one CSV file of case events.
///
/// A case is yielded when its last row has been read. If any of its rows is
/// rejected, the whole case is rejected: the row at fault with its reason,
/// every other row of the case with [`Reason::CaseRejected`], because
/// importing the rest would alter the case's history.
///
/// # Example
/// ```
/// use crmkit::import::{CaseRecords, Format, Kind, Mapping};
/// let csv = "\
/// case_id,customer_id,subject,channel,at,event,actor,actor_id
/// 00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-00000000000a,Invoice missing,email,2026-03-01T09:00:00Z,created,customer,
/// 00000000-0000-0000-0000-000000000001,,,,2026-03-01T10:00:00Z,public_reply,agent,00000000-0000-0000-0000-000000000007
/// 00000000-0000-0000-0000-000000000001,,,,2026-03-01T11:00:00Z,solved,agent,00000000-0000-0000-0000-000000000007
/// ";
/// let batch = CaseRecords::new("events.csv", csv.as_bytes(), &Mapping::new(Kind::Cases), &Format::default())?
///     .collect_batch()?;
/// assert_eq!(batch.valid.len(), 1);
/// assert_eq!(batch.valid[0].events().len(), 3);
/// assert!(batch.rejected.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CaseRecords<R: Read> {
    rows: Rows<R>,
    seen: HashMap<Uuid, u64>,
    building: Option<Building>,
    out: VecDeque<Parsed<Case>>,
    done: bool,
}

impl<R: Read> fmt::Debug for CaseRecords<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaseRecords")
            .field("file", &self.rows.file)
            .finish_non_exhaustive()
    }
}

fn cell_err(field: &'static str, e: ValidationError) -> CellError {
    CellError {
        field: Some(field),
        reason: Reason::Invalid(e),
    }
}

fn event(row: &Row<'_>) -> Result<CaseEvent, CellError> {
    let f = row.format;
    let at = row.required("at", |s| f.instant("at", s))?;
    let actor = match row.required("actor", |s| Ok(s.to_owned()))?.as_str() {
        "customer" => Actor::Customer,
        "system" => Actor::System,
        "agent" => {
            Actor::Agent(row.required("actor_id", |s| f.id::<AgentId>("actor_id", "agent", s))?)
        }
        "bot" => Actor::Bot(row.required("actor_id", |s| f.id::<BotId>("actor_id", "bot", s))?),
        other => {
            return Err(cell_err(
                "actor",
                ValidationError::Format {
                    field: "actor",
                    value: other.to_owned(),
                    reason: "expected customer, agent, bot or system",
                },
            ));
        }
    };
    let name = row.required("event", |s| Ok(s.to_owned()))?;
    let kind = match name.as_str() {
        "created" => CaseEventKind::Created {
            by_agent: matches!(actor, Actor::Agent(_)),
            public_message: flag(row, "public_message")?.unwrap_or(true),
        },
        "status_changed" => CaseEventKind::StatusChanged {
            to: row.required("status", |s| {
                named("status", s, "expected open, pending or on_hold")
            })?,
        },
        "assigned" => CaseEventKind::Assigned {
            agent: row.cell("agent_id", |s| f.id("agent_id", "agent", s))?,
            team: row.cell("team_id", |s| f.id("team_id", "team", s))?,
        },
        other => named::<CaseEventKind>(
            "event",
            other,
            "expected created, public_reply, private_note, customer_reply, bot_reply, escalated_to_human, status_changed, solved, reopened, closed or assigned",
        )
        .map_err(|e| cell_err("event", e))?,
    };
    let e = CaseEvent::new(at, actor, kind);
    match row.get("body") {
        Some(b) => e.with_body(b).map_err(|err| cell_err("body", err)),
        None => Ok(e),
    }
}

/// Checks that a later row's case-level cells are empty or equal to the case's.
fn same_case(row: &Row<'_>, case: &Case) -> Result<(), CellError> {
    let f = row.format;
    let differs = |field: &'static str, what: String| {
        cell_err(
            field,
            ValidationError::Inconsistent {
                field,
                reason: format!("differs from the case's created row ({what})"),
            },
        )
    };
    if let Some(c) = row.cell("customer_id", |s| {
        f.id::<CustomerId>("customer_id", "customer", s)
    })? && c != case.customer()
    {
        return Err(differs("customer_id", case.customer().to_string()));
    }
    if let Some(s) = row.get("subject")
        && s != case.subject().expose()
    {
        return Err(differs("subject", "another subject".into()));
    }
    if let Some(p) = row.cell("priority", |s| {
        named::<Priority>("priority", s, "expected low, normal, high or urgent")
    })? && p != case.priority()
    {
        return Err(differs(
            "priority",
            super::format::name_of(&case.priority()),
        ));
    }
    if let Some(c) = row.cell("channel", str::parse::<Channel>)?
        && c != case.channel()
    {
        return Err(differs("channel", case.channel().to_string()));
    }
    Ok(())
}

fn open(row: &Row<'_>, id: CaseId) -> Result<Case, CellError> {
    let f = row.format;
    let customer = row.required("customer_id", |s| {
        f.id::<CustomerId>("customer_id", "customer", s)
    })?;
    let subject = row.required("subject", |s| Ok(s.to_owned()))?;
    let priority = row
        .cell("priority", |s| {
            named("priority", s, "expected low, normal, high or urgent")
        })?
        .unwrap_or(Priority::Normal);
    let channel = row.required("channel", str::parse::<Channel>)?;
    let created = event(row)?;
    Case::open(id, customer, subject, priority, channel, created).map_err(CellError::row)
}

impl<R: Read> CaseRecords<R> {
    /// Reads the header of `input` (called `file` in rejections).
    ///
    /// # Errors
    /// As [`CsvRecords::new`](super::CsvRecords::new).
    pub fn new(
        file: &str,
        input: R,
        mapping: &Mapping,
        format: &Format,
    ) -> Result<Self, ImportError> {
        if mapping.kind() != Kind::Cases {
            return Err(ImportError::UnknownField {
                kind: Kind::Cases,
                field: format!("(a mapping for {} files)", mapping.kind()),
            });
        }
        Ok(Self {
            rows: Rows::new(file, input, mapping, format)?,
            seen: HashMap::new(),
            building: None,
            out: VecDeque::new(),
            done: false,
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
    pub fn collect_batch(self) -> Result<Batch<Case>, ImportError> {
        Batch::collect(self)
    }

    /// Moves the case being built to the output.
    fn finish(&mut self) {
        let Some(b) = self.building.take() else {
            return;
        };
        if b.failed.is_none()
            && let Some(case) = b.case
        {
            let line = b.lines.first().copied().unwrap_or(0);
            self.out.push_back(Parsed::Valid { line, value: case });
        }
    }

    /// Rejects `r` and fails the case being built because of it: the
    /// case's earlier rows are rejected too, before `r`, in file order.
    fn fail(&mut self, r: Rejection) {
        let line = r.line;
        if let Some(b) = self.building.as_mut()
            && b.failed.is_none()
        {
            b.failed = Some(line);
            b.case = None;
            let case = b.id.to_string();
            let earlier: Vec<u64> = b.lines.iter().copied().filter(|l| *l != line).collect();
            for l in earlier {
                let e = self.rows.reject(
                    l,
                    None,
                    Reason::CaseRejected {
                        case: case.clone(),
                        line,
                    },
                );
                self.out.push_back(Parsed::Rejected(e));
            }
        }
        self.out.push_back(Parsed::Rejected(r));
    }

    fn step(&mut self) -> Result<(), ImportError> {
        let line = match self.rows.next_raw() {
            None => {
                self.finish();
                self.done = true;
                return Ok(());
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(Raw::Bad(r))) => {
                // A damaged row of the case being built fails that case.
                let id = self
                    .rows
                    .row()
                    .get("case_id")
                    .and_then(|s| self.rows.format.id::<CaseId>("case_id", "case", s).ok());
                match self.building.as_mut() {
                    Some(b) if Some(b.id) == id => {
                        b.lines.push(r.line);
                        self.fail(r);
                    }
                    _ => self.out.push_back(Parsed::Rejected(r)),
                }
                return Ok(());
            }
            Some(Ok(Raw::Row { line })) => line,
        };
        let id = {
            let row = self.rows.row();
            row.required("case_id", |s| row.format.id::<CaseId>("case_id", "case", s))
        };
        let id = match id {
            Ok(id) => id,
            Err(e) => {
                let r = self.rows.cell_rejection(line, e);
                self.out.push_back(Parsed::Rejected(r));
                return Ok(());
            }
        };
        let same = self.building.as_ref().is_some_and(|b| b.id == id);
        if !same {
            self.finish();
            let first = self.seen.get(&id.as_uuid()).copied();
            self.building = Some(Building {
                id,
                lines: vec![line],
                case: None,
                failed: None,
            });
            if let Some(first_line) = first {
                let r = self.rows.reject(
                    line,
                    Some("case_id"),
                    Reason::Duplicate {
                        id: id.to_string(),
                        first_line,
                    },
                );
                self.fail(r);
                return Ok(());
            }
            let _ = self.seen.insert(id.as_uuid(), line);
            let opened = open(&self.rows.row(), id);
            match opened {
                Ok(case) => {
                    if let Some(b) = self.building.as_mut() {
                        b.case = Some(case);
                    }
                }
                Err(e) => {
                    let r = self.rows.cell_rejection(line, e);
                    self.fail(r);
                }
            }
            return Ok(());
        }
        // Another row of the case being built.
        let failed = self.building.as_ref().and_then(|b| b.failed);
        if let Some(b) = self.building.as_mut() {
            b.lines.push(line);
        }
        if let Some(bad) = failed {
            let r = self.rows.reject(
                line,
                None,
                Reason::CaseRejected {
                    case: id.to_string(),
                    line: bad,
                },
            );
            self.out.push_back(Parsed::Rejected(r));
            return Ok(());
        }
        let recorded = {
            let row = self.rows.row();
            match self.building.as_mut().and_then(|b| b.case.as_mut()) {
                Some(case) => same_case(&row, case)
                    .and_then(|()| event(&row))
                    .and_then(|e| case.record(e).map_err(CellError::row)),
                None => Ok(()),
            }
        };
        if let Err(e) = recorded {
            let r = self.rows.cell_rejection(line, e);
            self.fail(r);
        }
        Ok(())
    }
}

impl<R: Read> Iterator for CaseRecords<R> {
    type Item = Result<Parsed<Case>, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(p) = self.out.pop_front() {
                return Some(Ok(p));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.step() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}
