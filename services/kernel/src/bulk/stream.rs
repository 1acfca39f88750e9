//! The header-first client stream of an upload: the first message is its header, the rest are
//! chunks of rows. The reader refuses a stream that does not start with the header or sends it
//! twice, counts rows against the header's declared count, and numbers them: a row that names
//! its number must follow the one before, one that does not (0) takes the next number.
//!
//! What each refusal says comes from the upload's [`Kind`], so intake, the gateway's door in
//! front of it and the registry answer as they always have, from one piece of code.

use futures::{Stream, StreamExt};
use tonic::Status;

use crate::error::{Error, Result, reason};

/// What one message of an upload holds (each service says how to split its protobuf `oneof`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<H, R> {
    Header(H),
    Rows(Vec<R>),
    /// A message with neither set.
    Neither,
}

/// How much a refusal says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// Names the row and field (`BadRequest`), restates the rule and says what was kept: what
    /// a new upload should use.
    Full,
    /// The message alone: the registry's import has always answered so, and a client may
    /// match on it.
    Terse,
}

/// An upload's words and reasons, for its refusals.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// "batch", "import".
    pub what: &'static str,
    /// With its article: "a batch", "an import".
    pub a_what: &'static str,
    /// Its rows, as the request's field names them: "cases", "rulings".
    pub rows: &'static str,
    /// The message's `oneof`, as a refusal names it: "item" (or "request.item" where the
    /// gateway wraps the message).
    pub item_field: &'static str,
    /// What became of the upload when its stream broke ("nothing was kept").
    pub kept: &'static str,
    /// The stream ended before the header.
    pub empty: &'static str,
    /// More rows than declared.
    pub longer: &'static str,
    /// Fewer rows than declared.
    pub shorter: &'static str,
    pub wording: Wording,
}

/// A bank's batch of cases (intake's `SubmitBatch` and `SubmitCases`, the gateway's bank door):
/// a broken batch is aborted whole.
pub const BATCH: Kind = Kind {
    what: "batch",
    a_what: "a batch",
    rows: "cases",
    item_field: "item",
    kept: "nothing was kept",
    empty: reason::BATCH_EMPTY,
    longer: reason::BATCH_LONGER_THAN_DECLARED,
    shorter: reason::BATCH_SHORTER_THAN_DECLARED,
    wording: Wording::Full,
};

/// A court's import of rulings (the registry's `ImportRulings`): chunks already written stay.
pub const IMPORT: Kind = Kind {
    what: "import",
    a_what: "an import",
    rows: "rulings",
    item_field: "item",
    kept: "rulings of earlier chunks stay imported",
    empty: reason::IMPORT_EMPTY,
    longer: reason::IMPORT_LONGER_THAN_DECLARED,
    shorter: reason::IMPORT_SHORTER_THAN_DECLARED,
    wording: Wording::Terse,
};

impl Kind {
    fn full(&self) -> bool {
        self.wording == Wording::Full
    }

    pub fn header_first(&self) -> Error {
        Error::bad_request(
            reason::HEADER_FIRST,
            format!("the first message of {} must be its header", self.a_what),
        )
        .with_violation(self.item_field, "expected header")
    }

    pub fn empty(&self) -> Error {
        Error::bad_request(
            self.empty,
            format!("the stream ended before the {} header", self.what),
        )
    }

    pub fn header_twice(&self) -> Error {
        let e = Error::bad_request(
            reason::HEADER_TWICE,
            format!("{} has one header, first", self.a_what),
        );
        if self.full() {
            e.with_violation(
                self.item_field,
                format!("expected a chunk of {}", self.rows),
            )
        } else {
            e
        }
    }

    /// The stream broke: a message that does not decode, or a caller that went away.
    pub fn broken(&self, status: &Status) -> Error {
        crate::wire::stream_error(status, self.what, self.kept)
    }

    /// Row `position` (1-based) is past the `declared` count.
    pub fn longer(&self, declared: i64, position: i64) -> Error {
        let e = Error::bad_request(
            self.longer,
            format!(
                "the header declared {declared} {} but more arrived",
                self.rows
            ),
        );
        if self.full() {
            e.with_violation(
                format!("{}[{position}]", self.rows),
                "beyond the declared count",
            )
        } else {
            e
        }
    }

    /// Row `position` names number `row`, not past the `previous` one.
    pub fn out_of_order(&self, row: i64, previous: i64, position: i64) -> Error {
        if self.full() {
            Error::bad_request(
                reason::ROWS_OUT_OF_ORDER,
                format!("row {row} follows row {previous}; row numbers must increase"),
            )
            .with_violation(
                format!("{}[{position}].row", self.rows),
                "must be greater than the previous row",
            )
        } else {
            Error::bad_request(
                reason::ROWS_OUT_OF_ORDER,
                format!("row {row} follows row {previous}"),
            )
        }
    }

    pub fn shorter(&self, declared: i64, received: i64) -> Error {
        let message = if self.full() {
            format!(
                "the header declared {declared} {} but only {received} arrived; {}",
                self.rows, self.kept
            )
        } else {
            format!(
                "the header declared {declared} {} but {received} arrived",
                self.rows
            )
        };
        Error::bad_request(self.shorter, message)
    }
}

/// The header from an upload's first message; `None` when the stream ended before one.
pub fn header<H, R>(first: Option<Part<H, R>>, kind: &Kind) -> Result<H> {
    match first {
        Some(Part::Header(h)) => Ok(h),
        Some(_) => Err(kind.header_first()),
        None => Err(kind.empty()),
    }
}

/// Counts an upload's rows against its declared count and numbers them in order.
#[derive(Debug, Clone)]
pub struct Tally {
    kind: &'static Kind,
    declared: i64,
    /// Rows received so far.
    position: i64,
    /// The number of the last row (the caller's, or the one after the row before).
    last_row: i64,
}

impl Tally {
    pub fn new(kind: &'static Kind, declared: i64) -> Self {
        Self {
            kind,
            declared,
            position: 0,
            last_row: 0,
        }
    }

    /// The number of the next row: `given` when it is past the last one, the one after the
    /// last when `given` is 0 (or less).
    pub fn next(&mut self, given: i64) -> Result<i64> {
        self.position += 1;
        if self.position > self.declared {
            return Err(self.kind.longer(self.declared, self.position));
        }
        let row = if given > 0 {
            if given <= self.last_row {
                return Err(self.kind.out_of_order(given, self.last_row, self.position));
            }
            given
        } else {
            // After the largest number there is none: refused, not wrapped (or a panic).
            self.last_row.checked_add(1).ok_or_else(|| {
                self.kind
                    .out_of_order(self.last_row, self.last_row, self.position)
            })?
        };
        self.last_row = row;
        Ok(row)
    }

    /// Rows received so far.
    pub fn received(&self) -> i64 {
        self.position
    }

    /// Once the stream ended: refused when fewer rows arrived than declared.
    pub fn finish(&self) -> Result<()> {
        if self.position < self.declared {
            return Err(self.kind.shorter(self.declared, self.position));
        }
        Ok(())
    }
}

/// An upload whose header has been read: what follows are its chunks.
pub struct Upload<S, M, H, R> {
    stream: S,
    kind: &'static Kind,
    split: fn(M) -> Part<H, R>,
}

impl<S, M, H, R> Upload<S, M, H, R>
where
    S: Stream<Item = std::result::Result<M, Status>> + Unpin,
{
    /// Reads the header, the stream's first message (a `tonic::Streaming` or any stream of
    /// messages); `split` says what a message holds.
    pub async fn begin(
        mut stream: S,
        kind: &'static Kind,
        split: fn(M) -> Part<H, R>,
    ) -> Result<(H, Self)> {
        let first = stream
            .next()
            .await
            .transpose()
            .map_err(|status| kind.broken(&status))?;
        let h = header(first.map(split), kind)?;
        Ok((
            h,
            Self {
                stream,
                kind,
                split,
            },
        ))
    }

    /// The chunks after the header, counted against `declared`; `row` reads the number a
    /// row names (0 for none).
    pub fn rows(
        self,
        declared: i64,
        row: fn(&R) -> i64,
    ) -> Rows<impl Stream<Item = Result<Vec<R>>> + Unpin, R> {
        let Self {
            stream,
            kind,
            split,
        } = self;
        let chunks = stream.map(move |message| match message.map(split) {
            Ok(Part::Rows(rows)) => Ok(rows),
            Ok(_) => Err(kind.header_twice()),
            Err(status) => Err(kind.broken(&status)),
        });
        Rows::new(chunks, kind, declared, row)
    }
}

/// An upload's chunks, each row numbered and counted. The first error ends the upload.
pub struct Rows<C, R> {
    chunks: C,
    tally: Tally,
    row: fn(&R) -> i64,
}

impl<C, R> Rows<C, R>
where
    C: Stream<Item = Result<Vec<R>>> + Unpin,
{
    /// Chunks from anywhere (a unary call's one list, say), held to the same rules.
    pub fn new(chunks: C, kind: &'static Kind, declared: i64, row: fn(&R) -> i64) -> Self {
        Self {
            chunks,
            tally: Tally::new(kind, declared),
            row,
        }
    }

    /// The next chunk's rows with their numbers; `None` once the stream ended (then
    /// [`Rows::finish`] says whether all declared rows came). A chunk with a row past the
    /// declared count or out of order is refused whole.
    pub async fn next(&mut self) -> Result<Option<Vec<(i64, R)>>> {
        let Some(chunk) = self.chunks.next().await else {
            return Ok(None);
        };
        let chunk = chunk?;
        let mut numbered = Vec::with_capacity(chunk.len());
        for r in chunk {
            let row = self.tally.next((self.row)(&r))?;
            numbered.push((row, r));
        }
        Ok(Some(numbered))
    }

    /// Refused when fewer rows arrived than declared.
    pub fn finish(&self) -> Result<()> {
        self.tally.finish()
    }

    pub fn received(&self) -> i64 {
        self.tally.received()
    }

    /// The chunks as a stream that ends with [`Rows::finish`]'s refusal when rows are missing,
    /// and ends at the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Vec<(i64, R)>>> {
        futures::stream::unfold(Some(self), |rows| async move {
            let mut rows = rows?;
            match rows.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(rows))),
                Ok(None) => rows.finish().err().map(|e| (Err(e), None)),
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}
