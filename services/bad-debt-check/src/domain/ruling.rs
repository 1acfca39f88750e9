//! Rulings terminating enforcement for lack of property (终本裁定) as the registry holds them:
//! validation at import, re-import by ruling number, matching keys, the recency window, and
//! parsing the enforcement system's export.
//!
//! Sources: RULES.md "Bad-debt pre-check (预查废)" (matching by ID number; Interp. 517 and the
//! SPC provisions on terminating the current enforcement (2016) art. 1: more than 3 months
//! since filing), "Counting time and amounts" (months), GB 11643 (resident ID), and the limits of the
//! protobuf contract `RulingInput` (field names, lengths).
//!
//! Pure: no I/O, no clock (today's date is a parameter), no protobuf types.

use chrono::NaiveDate;
use sieve_kernel::rules::Label;
/// One rule a ruling broke (the kernel's violation; fields in [`field`], rules in [`rule`]).
pub use sieve_kernel::rules::Violation;
/// Periods in months (RULES.md "Counting time and amounts"), the kernel's.
pub use sieve_kernel::rules::dates::{add_months, sub_months};
use sieve_kernel::rules::mask;
use sieve_kernel::rules::violation::{negative, required, text_field};

/// The matching key (RULES.md "Bad-debt pre-check": the same debtor is the same ID number)
/// is the kernel's, shared with intake.
pub use sieve_kernel::rules::resident_id::normalize_id_number;
use sieve_kernel::rules::resident_id::{self, Checks, IdNumberError};

/// Months from filing the enforcement case before it may be terminated (Interp. 517; SPC 终本
/// provisions (2016) art. 1).
pub const MIN_MONTHS_BEFORE_TERMINATION: u32 = 3;

/// Length limits, in characters (the protobuf contract).
pub const MAX_RULING_NUMBER_CHARS: usize = 64;
pub const MAX_COURT_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 64;

/// A ruling as the enforcement system exported it, before validation. Empty strings and
/// `None` mean "not given"; amounts are integer fen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RulingDraft {
    /// The import key, e.g. `(2024)黑0722执300号之一`.
    pub ruling_number: String,
    pub court_name: String,
    pub debtor_name: String,
    pub debtor_id_number: String,
    /// When the enforcement case was filed (立案).
    pub filed_on: Option<NaiveDate>,
    /// When enforcement was terminated (终本).
    pub terminated_on: Option<NaiveDate>,
    /// What remained unpaid at termination.
    pub unpaid_fen: i64,
    /// Enforcement resumed (已恢复执行): the ruling no longer matches.
    pub revoked: bool,
}

impl RulingDraft {
    /// The draft as the registry stores it: text trimmed, the ID number normalized
    /// ([`normalize_id_number`]), so that re-imports compare equal.
    pub fn normalized(&self) -> RulingDraft {
        RulingDraft {
            ruling_number: self.ruling_number.trim().to_owned(),
            court_name: self.court_name.trim().to_owned(),
            debtor_name: self.debtor_name.trim().to_owned(),
            debtor_id_number: normalize_id_number(&self.debtor_id_number),
            ..self.clone()
        }
    }
}

/// Field names of the protobuf `RulingInput` the violations point at.
pub mod field {
    pub const RULING_NUMBER: &str = "ruling_number";
    pub const COURT: &str = "court";
    pub const DEBTOR_NAME: &str = "debtor_name";
    pub const DEBTOR_ID_NUMBER: &str = "debtor_id_number";
    pub const ENFORCEMENT_FILED_ON: &str = "enforcement_filed_on";
    pub const TERMINATED_ON: &str = "terminated_on";
    pub const UNPAID_FEN: &str = "unpaid_fen";
    /// Not a `RulingInput` field: the standing/revoked status, for [`super::compare`].
    pub const STATUS: &str = "status";
}

/// Stable rule codes: the kernel's shared ones (`required`, `max_length`, `id_number.*`,
/// `amount.negative`) and the registry's own. Clients may match on them; never rename one.
pub mod rule {
    pub use sieve_kernel::rules::rule::*;

    /// A date is after today: the export cannot know of it yet.
    pub const DATE_FUTURE: &str = "date.future";
    /// Terminated before the enforcement case was filed.
    pub const DATE_ORDER: &str = "date.order";
    /// Terminated 3 months or less after filing (Interp. 517; SPC 终本 provisions (2016)
    /// art. 1: 超过三个月; RULES.md "Bad-debt pre-check").
    pub const RULING_THREE_MONTHS: &str = "ruling.three_months";
    /// A ruling number already in the registry names another debtor, filing date or court.
    pub const RULING_CONTRADICTS_STORED: &str = "ruling.contradicts_stored";
    /// A ruling number that an earlier row of the same import already holds.
    pub const RULING_NUMBER_DUPLICATE_IN_IMPORT: &str = "ruling_number.duplicate_in_import";
}

const RULING_NUMBER: Label = Label {
    zh: "终本裁定文书号",
    en: "Ruling number",
};
const COURT: Label = Label {
    zh: "法院",
    en: "Court",
};
const NAME: Label = Label {
    zh: "被执行人姓名",
    en: "Debtor name",
};
const ID_NUMBER: Label = Label {
    zh: "被执行人身份证号",
    en: "Debtor ID number",
};
const FILED_ON: Label = Label {
    zh: "执行立案日期",
    en: "Enforcement filing date",
};
const TERMINATED_ON: Label = Label {
    zh: "终本日期",
    en: "Termination date",
};
const UNPAID: Label = Label {
    zh: "未履行金额",
    en: "Unpaid amount",
};

/// Validates a ruling for import. An empty answer means it is admitted; otherwise every rule
/// it broke, in the order of the fields of `RulingInput`, at most one per field.
pub fn validate(draft: &RulingDraft, today: NaiveDate) -> Vec<Violation> {
    let mut out = Vec::new();

    // Required, bounded (protobuf contract): the number is the import key, court and name are
    // printed on certificates.
    text_field(
        &mut out,
        field::RULING_NUMBER,
        RULING_NUMBER,
        &draft.ruling_number,
        MAX_RULING_NUMBER_CHARS,
    );
    text_field(
        &mut out,
        field::COURT,
        COURT,
        &draft.court_name,
        MAX_COURT_CHARS,
    );
    text_field(
        &mut out,
        field::DEBTOR_NAME,
        NAME,
        &draft.debtor_name,
        MAX_NAME_CHARS,
    );

    // The matching key (RULES.md "Bad-debt pre-check"): a resident ID by GB 11643.
    let id = normalize_id_number(&draft.debtor_id_number);
    if id.is_empty() {
        out.push(required(field::DEBTOR_ID_NUMBER, ID_NUMBER));
    } else if let Some(v) = id_number_violation(&id) {
        out.push(v);
    }

    dates(&mut out, draft, today);

    if draft.unpaid_fen < 0 {
        out.push(negative(field::UNPAID_FEN, UNPAID, draft.unpaid_fen));
    }

    out
}

/// Filing and termination dates: present, not in the future, in order, and more than 3
/// months apart.
fn dates(out: &mut Vec<Violation>, draft: &RulingDraft, today: NaiveDate) {
    let filed = match draft.filed_on {
        None => {
            out.push(required(field::ENFORCEMENT_FILED_ON, FILED_ON));
            None
        }
        Some(d) if d > today => {
            out.push(future(field::ENFORCEMENT_FILED_ON, FILED_ON, d, today));
            None
        }
        Some(d) => Some(d),
    };
    let terminated = match draft.terminated_on {
        None => {
            out.push(required(field::TERMINATED_ON, TERMINATED_ON));
            return;
        }
        Some(d) if d > today => {
            out.push(future(field::TERMINATED_ON, TERMINATED_ON, d, today));
            return;
        }
        Some(d) => d,
    };
    let Some(filed) = filed else { return };

    if terminated < filed {
        out.push(Violation {
            field: field::TERMINATED_ON,
            rule: rule::DATE_ORDER,
            description: format!(
                "终本日期 {terminated} 早于执行立案日期 {filed}。 \
                 The termination date {terminated} is before the enforcement filing date \
                 {filed}."
            ),
        });
        return;
    }

    // Interp. 517; SPC 终本 provisions (2016) art. 1: enforcement may be terminated only once
    // more than (超过, which excludes the number itself: Civil Code 1259) 3 months have passed
    // since the case was filed, the months counted as RULES.md "Counting time and amounts"
    // counts them. Terminated on the day 3 months end is too early; the day after is not.
    // The one 终本 condition the registry can see.
    let three_months = add_months(filed, MIN_MONTHS_BEFORE_TERMINATION);
    let earliest = three_months.succ_opt().unwrap_or(three_months);
    if terminated < earliest {
        out.push(Violation {
            field: field::TERMINATED_ON,
            rule: rule::RULING_THREE_MONTHS,
            description: format!(
                "执行立案日期 {filed} 至终本日期 {terminated} 未超过3个月（最早可于 {earliest} \
                 终本），不符合终结本次执行程序的条件（《民诉法解释》第517条；最高人民法院\
                 关于严格规范终结本次执行程序的规定（试行）第一条）。 Enforcement was \
                 terminated on {terminated}, not more than 3 months after the case was filed on \
                 {filed} (earliest {earliest}); the conditions for terminating the current \
                 enforcement are not met (Interp. 517; SPC provisions on terminating the current \
                 enforcement (2016) art. 1)."
            ),
        });
    }
}

/// The GB 11643 checks the registry needs of an already normalized ID number: 18 characters,
/// 17 digits then a digit or X, a birth date that exists, the right check character (the
/// form alone: these are the court's own enforcement records). The registry holds natural
/// persons only, so an organisation code fails as a non-digit.
fn id_number_violation(id: &str) -> Option<Violation> {
    let error = resident_id::parse(id, Checks::Form).err()?;
    // Past the length, an 18th character that is neither digit nor X is a non-digit here,
    // whatever else the number gets wrong after its body.
    let last = id.chars().last().unwrap_or(' ');
    let last_ok = last.is_ascii_digit() || last == 'X';
    if matches!(error, IdNumberError::NonDigit { .. })
        || !last_ok && !matches!(error, IdNumberError::WrongLength { .. })
    {
        let masked = mask::id_number(id);
        return Some(Violation {
            field: field::DEBTOR_ID_NUMBER,
            rule: rule::ID_NUMBER_NON_DIGIT,
            description: format!(
                "身份证号 {masked} 应为17位数字加1位数字或X；登记簿只收录自然人。 \
                 ID number {masked} must be 17 digits then a digit or X; the registry holds \
                 natural persons only."
            ),
        });
    }
    Some(resident_id::violation(field::DEBTOR_ID_NUMBER, id, &error))
}

/// What a re-import of a ruling number does (the import is idempotent by ruling number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// No ruling is stored under the number: add it. [`compare`] never answers this; the caller
    /// does when its lookup finds nothing (or calls [`compare_stored`]).
    New,
    /// Same as stored: nothing to write.
    Identical,
    /// These fields (see [`field`]) change; the caller first refuses a row that
    /// [`contradicts`] the stored ruling.
    Changed(Vec<&'static str>),
}

/// Compares a re-imported ruling with the one stored under its number, both normalized first.
/// `revoked` is compared as [`merge_revoked`] would store it, so an export that still shows a
/// revoked ruling as standing is `Identical`, not a change.
pub fn compare(stored: &RulingDraft, incoming: &RulingDraft) -> Comparison {
    let s = stored.normalized();
    let i = incoming.normalized();
    let mut changed = Vec::new();
    if s.court_name != i.court_name {
        changed.push(field::COURT);
    }
    if s.debtor_name != i.debtor_name {
        changed.push(field::DEBTOR_NAME);
    }
    if s.debtor_id_number != i.debtor_id_number {
        changed.push(field::DEBTOR_ID_NUMBER);
    }
    if s.filed_on != i.filed_on {
        changed.push(field::ENFORCEMENT_FILED_ON);
    }
    if s.terminated_on != i.terminated_on {
        changed.push(field::TERMINATED_ON);
    }
    if s.unpaid_fen != i.unpaid_fen {
        changed.push(field::UNPAID_FEN);
    }
    if merge_revoked(s.revoked, i.revoked) != s.revoked {
        changed.push(field::STATUS);
    }
    if changed.is_empty() {
        Comparison::Identical
    } else {
        Comparison::Changed(changed)
    }
}

/// [`compare`], with `New` when nothing is stored under the number.
pub fn compare_stored(stored: Option<&RulingDraft>, incoming: &RulingDraft) -> Comparison {
    match stored {
        None => Comparison::New,
        Some(stored) => compare(stored, incoming),
    }
}

/// Whether a re-imported row names another ruling than the one stored under its number: a
/// different debtor (ID number after normalization, or name by [`name_agreement`]), filing
/// date or court. Such a row is refused with `ruling.contradicts_stored` rather than
/// overwriting the ruling certificates may rest on; termination date, unpaid amount and status
/// are updates.
pub fn contradicts(stored: &RulingDraft, incoming: &RulingDraft) -> Option<Violation> {
    let s = stored.normalized();
    let i = incoming.normalized();
    let mut fields: Vec<&'static str> = Vec::new();
    let mut zh: Vec<String> = Vec::new();
    let mut en: Vec<String> = Vec::new();

    if s.court_name != i.court_name {
        fields.push(field::COURT);
        zh.push(COURT.zh.to_owned());
        en.push(COURT.en.to_lowercase());
    }
    if name_agreement(&s.debtor_name, &i.debtor_name) == NameAgreement::Differs {
        fields.push(field::DEBTOR_NAME);
        zh.push(NAME.zh.to_owned());
        en.push(NAME.en.to_lowercase());
    }
    if s.debtor_id_number != i.debtor_id_number {
        let (a, b) = (
            mask::id_number(&s.debtor_id_number),
            mask::id_number(&i.debtor_id_number),
        );
        fields.push(field::DEBTOR_ID_NUMBER);
        zh.push(format!("{}（已登记 {a}，本行 {b}）", ID_NUMBER.zh));
        en.push(format!("debtor ID number (registered {a}, this row {b})"));
    }
    if s.filed_on != i.filed_on {
        let (a, b) = (show_date(s.filed_on), show_date(i.filed_on));
        fields.push(field::ENFORCEMENT_FILED_ON);
        zh.push(format!("{}（已登记 {a}，本行 {b}）", FILED_ON.zh));
        en.push(format!(
            "enforcement filing date (registered {a}, this row {b})"
        ));
    }
    let first = *fields.first()?;
    let number = mask::excerpt(&s.ruling_number, MAX_RULING_NUMBER_CHARS);
    Some(Violation {
        field: first,
        rule: rule::RULING_CONTRADICTS_STORED,
        description: format!(
            "文书号 {number} 已登记，本行与已登记的裁定不一致：{}；请核对后另行处理，不予覆盖。 \
             Ruling {number} is already registered and this row contradicts it: {}; it is not \
             overwritten, please check the export.",
            zh.join("、"),
            en.join(", ")
        ),
    })
}

/// The status to store when a ruling is re-imported: once revoked, always revoked. Resumed
/// enforcement (已恢复执行) is a fact; a later export that still lists the ruling as 终本 (an
/// older snapshot, another court's system) must not make it match again and so revive
/// certificates that rest on it.
pub fn merge_revoked(stored_revoked: bool, incoming_revoked: bool) -> bool {
    stored_revoked || incoming_revoked
}

/// What an import does with a valid row, given the ruling stored under its number.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    /// Nothing is stored under the number.
    Add,
    /// The row names another ruling than the stored one ([`contradicts`]).
    Refuse(Violation),
    Unchanged,
    /// Termination date, amount or status change; `revoked` as [`merge_revoked`] stores it,
    /// `newly_revoked` when this row is what revokes it.
    Update {
        revoked: bool,
        newly_revoked: bool,
    },
}

pub fn reconcile(stored: Option<&RulingDraft>, incoming: &RulingDraft) -> Reconciled {
    let Some(stored) = stored else {
        return Reconciled::Add;
    };
    if let Some(v) = contradicts(stored, incoming) {
        return Reconciled::Refuse(v);
    }
    match compare(stored, incoming) {
        Comparison::Identical | Comparison::New => Reconciled::Unchanged,
        Comparison::Changed(_) => {
            let revoked = merge_revoked(stored.revoked, incoming.revoked);
            Reconciled::Update {
                revoked,
                newly_revoked: revoked && !stored.revoked,
            }
        }
    }
}

/// One chunk of an import, checked row by row: the rows that may be written (each with what
/// the caller carries along, `T`) and the refused ones with their violations. A ruling number
/// seen earlier in the chunk is refused.
pub struct Screened<T> {
    pub valid: Vec<(i64, T, RulingDraft)>,
    /// Row, ruling number, what it broke.
    pub refused: Vec<(i64, String, Vec<Violation>)>,
}

pub fn screen<T>(rows: Vec<(i64, T, RulingDraft)>, today: NaiveDate) -> Screened<T> {
    let mut out = Screened {
        valid: Vec::with_capacity(rows.len()),
        refused: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    for (row, carried, draft) in rows {
        let mut violations = validate(&draft, today);
        if violations.is_empty() && !seen.insert(draft.ruling_number.clone()) {
            violations.push(Violation {
                field: field::RULING_NUMBER,
                rule: rule::RULING_NUMBER_DUPLICATE_IN_IMPORT,
                description: "同一文书号在本次导入中重复 / the same ruling number appears \
                              earlier in this import"
                    .into(),
            });
        }
        if violations.is_empty() {
            out.valid.push((row, carried, draft));
        } else {
            out.refused
                .push((row, draft.ruling_number.clone(), violations));
        }
    }
    out
}

/// Whether a certificate citing `numbers` has lost its basis: every ruling it rests on is
/// revoked (enforcement resumed), so the debt is no longer shown uncollectable. One standing
/// ruling keeps it; a certificate citing none never loses it this way.
pub fn basis_gone(numbers: &[String], revoked: impl Fn(&str) -> bool) -> bool {
    !numbers.is_empty() && numbers.iter().all(|n| revoked(n))
}

/// Whether the name on a case and on a ruling agree. Matching is by ID number (RULES.md
/// "Bad-debt pre-check"); the names are reported to the clerk, never required to agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameAgreement {
    Same,
    Differs,
}

/// Compares two names after dropping whitespace (incl. U+3000) and the middle dots that
/// separate the parts of a transliterated name (`阿依古丽·买买提` and `阿依古丽•买买提` are
/// the same name typed on different keyboards).
pub fn name_agreement(case_name: &str, ruling_name: &str) -> NameAgreement {
    if name_key(case_name) == name_key(ruling_name) {
        NameAgreement::Same
    } else {
        NameAgreement::Differs
    }
}

/// Middle dots in use for separating name parts: U+00B7, U+2022, U+2027, U+2219, U+30FB,
/// U+FF65.
const NAME_DOTS: [char; 6] = ['·', '•', '‧', '∙', '・', '･'];

fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && !NAME_DOTS.contains(c))
        .collect()
}

/// Whether a ruling counts under the configured recency window (RULES.md "Bad-debt pre-check":
/// how recent the matched ruling must be is configuration, default any). `None` counts any
/// ruling; `Some(m)` those terminated on or after `today` minus `m` months.
pub fn within_window(
    terminated_on: NaiveDate,
    today: NaiveDate,
    window_months: Option<u32>,
) -> bool {
    match window_months {
        None => true,
        Some(m) => terminated_on >= sub_months(today, m),
    }
}

/// The first termination date a window admits, for recording on a check; `None` for any.
pub fn window_start(today: NaiveDate, window_months: Option<u32>) -> Option<NaiveDate> {
    window_months.map(|m| sub_months(today, m))
}

/// The status column of the export: `Some(false)` for a standing ruling (终本, `standing`),
/// `Some(true)` for a revoked one (已恢复执行, 恢复执行, `revoked`), `None` for anything else.
/// English words in any case.
pub fn parse_status(s: &str) -> Option<bool> {
    let t = s.trim();
    match t {
        "终本" => Some(false),
        "已恢复执行" | "恢复执行" => Some(true),
        _ if t.eq_ignore_ascii_case("standing") => Some(false),
        _ if t.eq_ignore_ascii_case("revoked") => Some(true),
        _ => None,
    }
}

fn future(path: &'static str, label: Label, date: NaiveDate, today: NaiveDate) -> Violation {
    Violation {
        field: path,
        rule: rule::DATE_FUTURE,
        description: format!(
            "{} {date} 晚于今天（{today}）。 {} {date} is after today ({today}).",
            label.zh, label.en
        ),
    }
}

fn show_date(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "—".to_owned(), |d| d.to_string())
}

#[cfg(test)]
mod tests;
