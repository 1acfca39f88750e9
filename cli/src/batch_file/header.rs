//! A file's header row mapped onto the fields a caller's file carries: the bank's batch file
//! and the court's rulings export read their headers the same way.

use super::{FileError, RowError};

/// A field a header may name: Chinese exactly (the first name is the canonical one), English
/// in any case.
pub(crate) struct Heading<F: 'static> {
    pub field: F,
    pub chinese: &'static [&'static str],
    pub english: &'static str,
    pub required: bool,
}

impl<F> Heading<F> {
    pub(crate) const fn new(
        field: F,
        chinese: &'static [&'static str],
        english: &'static str,
        required: bool,
    ) -> Self {
        Heading {
            field,
            chinese,
            english,
            required,
        }
    }

    fn matches(&self, header: &str) -> bool {
        self.chinese.contains(&header) || self.english.eq_ignore_ascii_case(header)
    }
}

/// Which column holds which field, with the header as the file wrote it.
pub(crate) struct Header<F: 'static> {
    headings: &'static [Heading<F>],
    /// Indexed like `headings`: (column index, header as written).
    slots: Vec<Option<(usize, String)>>,
}

impl<F: Copy + PartialEq> Header<F> {
    /// Maps `header` onto `headings`: every cell names a field, none twice, every required
    /// one present.
    pub(crate) fn read(
        header: &[String],
        headings: &'static [Heading<F>],
    ) -> Result<Self, FileError> {
        // Trailing empty header cells (trailing commas, formatted-but-empty Excel columns)
        // are ignored; an empty one before a named column is an error.
        let used = header
            .iter()
            .rposition(|h| !h.trim().is_empty())
            .map_or(0, |i| i + 1);
        if used == 0 {
            return Err(FileError::NoHeader);
        }
        let mut slots: Vec<Option<(usize, String)>> = vec![None; headings.len()];
        let mut unknown = Vec::new();
        for (col, raw) in header[..used].iter().enumerate() {
            let written = raw.trim().trim_start_matches('\u{feff}').trim();
            if written.is_empty() {
                return Err(FileError::EmptyHeader { column: col + 1 });
            }
            let Some(pos) = headings.iter().position(|s| s.matches(written)) else {
                unknown.push(written.to_owned());
                continue;
            };
            if let Some((_, first)) = &slots[pos] {
                return Err(FileError::DuplicateHeader {
                    field: canonical(&headings[pos]).to_owned(),
                    headers: vec![first.clone(), written.to_owned()],
                });
            }
            slots[pos] = Some((col, written.to_owned()));
        }
        if !unknown.is_empty() {
            return Err(FileError::UnknownHeaders(unknown));
        }
        let missing: Vec<String> = headings
            .iter()
            .zip(&slots)
            .filter(|(spec, slot)| spec.required && slot.is_none())
            .map(|(spec, _)| format!("{} ({})", canonical(spec), spec.english))
            .collect();
        if !missing.is_empty() {
            return Err(FileError::MissingHeaders(missing));
        }
        Ok(Header { headings, slots })
    }

    /// Columns up to the last one named.
    pub(crate) fn width(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .map(|(col, _)| col + 1)
            .max()
            .unwrap_or(0)
    }

    /// The column of `field` and its header as written; `None` when the file has none.
    pub(crate) fn slot(&self, field: F) -> Option<&(usize, String)> {
        self.headings
            .iter()
            .position(|s| s.field == field)
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
    }

    /// The trimmed text cell of `field` in `cells`: empty when the column is absent or the row
    /// short (CSV rows, whose cells are all text).
    pub(crate) fn text<'a>(&self, cells: &'a [String], field: F) -> &'a str {
        self.slot(field)
            .and_then(|(col, _)| cells.get(*col))
            .map_or("", |s| s.trim())
    }

    /// The header of `field` as written, or its canonical name when the file has none.
    pub(crate) fn name(&self, field: F) -> String {
        match self.slot(field) {
            Some((_, written)) => written.clone(),
            None => self
                .headings
                .iter()
                .find(|s| s.field == field)
                .map_or("", canonical)
                .to_owned(),
        }
    }

    /// Why `row` could not be read: `message`, under the header of `field` as written.
    pub(crate) fn error(&self, row: u64, field: F, message: String) -> RowError {
        RowError {
            row,
            column: self.name(field),
            message,
        }
    }

    /// [`Header::within`] for a row of text cells (a CSV's).
    pub(crate) fn within_text(&self, row: u64, cells: &[String]) -> Result<(), RowError> {
        self.within(row, cells.iter().map(|c| c.trim().is_empty()))
    }

    /// Refuses a row with a value beyond the header's columns (a trailing comma is fine):
    /// `blank` says, cell by cell, whether the row left it empty.
    pub(crate) fn within(
        &self,
        row: u64,
        blank: impl IntoIterator<Item = bool>,
    ) -> Result<(), RowError> {
        let width = self.width();
        match blank.into_iter().enumerate().skip(width).find(|(_, b)| !b) {
            None => Ok(()),
            Some((col, _)) => Err(RowError {
                row,
                column: format!("#{}", col + 1),
                message: format!(
                    "the row has a value in column {} but the header has only {width} columns",
                    col + 1
                ),
            }),
        }
    }
}

fn canonical<F>(heading: &Heading<F>) -> &'static str {
    heading.chinese.first().copied().unwrap_or(heading.english)
}
