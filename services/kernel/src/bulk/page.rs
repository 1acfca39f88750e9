//! A list call's page: how many items, and where the previous page ended. The token is the
//! last item's key (a row number, an id, a code); the next page starts after it, so a page
//! costs one indexed range read however deep the caller pages.

use sieve_proto::common::v1::PageRequest;

use crate::error::{Error, Result};

/// Items in a page when the caller does not say.
pub const DEFAULT_SIZE: i32 = 100;
/// The most items in one page; a larger request gets this many.
pub const MAX_SIZE: i32 = 1_000;

/// A page as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: u64,
    /// Empty for the first page.
    pub token: String,
}

impl Page {
    /// The request's page: no size (0) is [`DEFAULT_SIZE`], one over [`MAX_SIZE`] is
    /// `MAX_SIZE`, a negative one is refused.
    pub fn of(request: Option<&PageRequest>) -> Result<Self> {
        let (size, token) =
            request.map_or((0, String::new()), |p| (p.page_size, p.page_token.clone()));
        if size < 0 {
            return Err(Error::invalid_field(
                "page.page_size",
                "must not be negative",
            ));
        }
        let size = if size == 0 {
            DEFAULT_SIZE
        } else {
            size.min(MAX_SIZE)
        };
        Ok(Self {
            size: size as u64,
            token,
        })
    }

    /// The token as the row number the previous page ended on; 0 for the first page.
    pub fn after_row(&self) -> Result<i64> {
        if self.token.is_empty() {
            return Ok(0);
        }
        self.token
            .parse()
            .map_err(|_| Error::invalid_field("page.page_token", "not a token this call returned"))
    }

    /// The next page's token: the last item's key when this page is full, empty when it is
    /// the last.
    pub fn next_token<T, K: ToString>(&self, items: &[T], key: impl Fn(&T) -> K) -> String {
        match items.last() {
            Some(last) if items.len() as u64 == self.size => key(last).to_string(),
            _ => String::new(),
        }
    }
}
