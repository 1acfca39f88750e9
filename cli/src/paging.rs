//! Following a paged listing to its end, as every `List*` call of the gateway pages.

use std::collections::HashSet;

use crate::error::CliError;

/// Visits every item of a paged listing. `page(token)` fetches one page: its items and the
/// next token, empty on the last page. A token seen before ends the listing: the server broke
/// its paging, and following it would loop forever.
pub async fn visit_pages<T, F, Fut>(mut page: F, mut visit: impl FnMut(T)) -> Result<(), CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), CliError>>,
{
    let mut token = String::new();
    let mut seen = HashSet::new();
    loop {
        let (items, next) = page(token).await?;
        items.into_iter().for_each(&mut visit);
        if next.is_empty() || !seen.insert(next.clone()) {
            return Ok(());
        }
        token = next;
    }
}

/// Every item of a paged listing ([`visit_pages`]).
pub async fn all_pages<T, F, Fut>(page: F) -> Result<Vec<T>, CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), CliError>>,
{
    let mut all = Vec::new();
    visit_pages(page, |item| all.push(item)).await?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_are_followed_to_the_end_and_a_repeated_token_stops() {
        let pages = |token: String| async move {
            Ok(match token.as_str() {
                "" => (vec![1, 2], "a".to_string()),
                "a" => (vec![3], "b".to_string()),
                _ => (vec![4], String::new()),
            })
        };
        assert_eq!(all_pages(pages).await.unwrap(), vec![1, 2, 3, 4]);
        // A server that answers "a" forever is read once.
        let circle = |_token: String| async { Ok((vec![7], "a".to_string())) };
        assert_eq!(all_pages(circle).await.unwrap(), vec![7, 7]);
    }
}
