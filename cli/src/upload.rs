//! The client side of a header-first upload (`SubmitBatch`, `ImportRulings`).

use futures::{Stream, StreamExt};
use indicatif::ProgressBar;

/// `header`, then `rows` in chunks of `chunk`, each made a message by `chunk_message`. Chunks
/// are cut as tonic pulls them, so `bar` follows what has gone out; once the last is sent it
/// says that the summary is awaited.
pub fn header_first<M, R>(
    header: M,
    rows: Vec<R>,
    chunk: usize,
    bar: ProgressBar,
    chunk_message: impl Fn(Vec<R>) -> M + Send + 'static,
) -> impl Stream<Item = M> + Send + 'static
where
    M: Send + 'static,
    R: Send + 'static,
{
    let chunk = chunk.max(1);
    let chunks = futures::stream::unfold(rows.into_iter(), move |mut rest| {
        let sent = bar.clone();
        let taken: Vec<R> = rest.by_ref().take(chunk).collect();
        let message = if taken.is_empty() {
            sent.set_message("waiting for the summary");
            None
        } else {
            sent.inc(taken.len() as u64);
            Some(taken)
        };
        futures::future::ready(message.map(|rows| (rows, rest)))
    })
    .map(chunk_message);
    futures::stream::iter([header]).chain(chunks)
}
