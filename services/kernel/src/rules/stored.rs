//! JSON a service stored with its rows (refusals, differing fields, a certificate's ruling
//! numbers), read back strictly: JSON that does not parse is corruption, an internal error
//! whose cause is logged under a reference when it is answered — never an empty list, which
//! would read as "no refusals", "nothing differs" or "no bases".

use crate::error::Error;

/// `json` as a `T`. `whose` names the row and `what` the column in the logged cause
/// ("batch b row 7: the stored refusals do not parse: …").
pub fn decode<T: serde::de::DeserializeOwned>(
    json: &str,
    whose: impl std::fmt::Display,
    what: &str,
) -> Result<T, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::internal(format!("{whose}: the stored {what} do not parse: {e}")))
}

/// `value` as stored JSON; a value that cannot be written is an internal error, never a
/// stand-in such as `[]`.
pub fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_json_round_trips_and_corruption_is_internal() {
        let numbers = vec!["(2024)黑0722执1号".to_string()];
        let json = encode(&numbers).expect("encodes");
        let back: Vec<String> = decode(&json, "certificate c", "ruling numbers").expect("decodes");
        assert_eq!(back, numbers);
        crate::rules::violation::testing::assert_corruption_is_internal(|json| {
            decode::<Vec<String>>(json, "certificate c", "ruling numbers")
        });
        let e = decode::<Vec<String>>("[", "certificate c", "ruling numbers").unwrap_err();
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert!(source.is_some_and(|s| {
            s.starts_with("certificate c: the stored ruling numbers do not parse")
        }),);
    }
}
