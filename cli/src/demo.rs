//! Realistic synthetic cases for `sieve demo --cases N`.
//!
//! Debtors domiciled in Jiayin County (230722): Chinese names whose gender matches the ID
//! number, resident ID numbers with real birth dates (ages 20 to 70 at the reference date) and
//! a correct GB 11643 check character, mobile numbers, addresses in the county's towns. Credit
//! cards and loans (loans of 100,000.00 yuan or less), with plausible amounts in fen.
//!
//! About 3% of the cases are flawed on purpose, one flaw each, the kinds taken in turn (see
//! [`Flaw`]), so a demo shows the server refusing them with a reason. Everything follows from
//! the seed: the same `(n, seed)` always gives the same cases.

use std::collections::HashSet;
use std::fmt;

use chrono::{Datelike, Months, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sieve_kernel::rules::dates::date_pb;
use sieve_kernel::rules::resident_id::{self, check_character};
use sieve_kernel::rules::uscc;
use sieve_proto::bad_debt_check::v1::{RulingInput, RulingStatus};
use sieve_proto::common::v1::{Claim, Debtor, DebtorKind, ProductType};
use sieve_proto::intake::v1::CaseInput;

use crate::registry::CourtSpec;

/// The court's district: Jiayin County.
pub const DISTRICT: &str = "230722";
/// The loan scope limit, 100,000.00 yuan, in fen (inclusive).
pub const LOAN_LIMIT_FEN: i64 = 10_000_000;
/// Share of intentionally flawed cases, in percent.
pub const FLAWED_PERCENT: usize = 3;

/// A deliberate defect that the server must refuse. Each flawed case has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flaw {
    /// The resident ID's check character is wrong.
    WrongCheckCharacter,
    /// A loan whose contract amount exceeds 100,000.00 yuan.
    LoanOverLimit,
    /// The debtor is an organisation identified by a unified social credit code.
    Organisation,
    /// A 10-digit mobile number.
    ShortPhone,
    /// The debtor is domiciled outside the court's district (and the contract does not name
    /// this court).
    OutsideDistrict,
}

impl Flaw {
    /// Every kind, in the order they are dealt out.
    pub const ALL: [Flaw; 5] = [
        Flaw::WrongCheckCharacter,
        Flaw::LoanOverLimit,
        Flaw::Organisation,
        Flaw::ShortPhone,
        Flaw::OutsideDistrict,
    ];

    /// A short stable label, e.g. for a demo summary.
    pub fn code(self) -> &'static str {
        match self {
            Flaw::WrongCheckCharacter => "wrong_id_check_character",
            Flaw::LoanOverLimit => "loan_over_limit",
            Flaw::Organisation => "organisation_debtor",
            Flaw::ShortPhone => "short_phone",
            Flaw::OutsideDistrict => "outside_district",
        }
    }

    /// What is wrong, in Chinese and English.
    pub fn description(self) -> &'static str {
        match self {
            Flaw::WrongCheckCharacter => "身份证号校验码错误 / wrong ID check character",
            Flaw::LoanOverLimit => "借款金额超过10万元 / loan over 100,000.00 yuan",
            Flaw::Organisation => "债务人为法人 / debtor is an organisation",
            Flaw::ShortPhone => "手机号只有10位 / 10-digit phone number",
            Flaw::OutsideDistrict => "住所地不在本院辖区 / debtor outside the district",
        }
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A generated case and, when it was made invalid on purpose, how.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCase {
    pub input: CaseInput,
    pub flaw: Option<Flaw>,
}

impl DemoCase {
    pub fn is_intentionally_invalid(&self) -> bool {
        self.flaw.is_some()
    }
}

/// The default reference date for ages: 2025-01-01.
pub fn default_reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default()
}

/// How many of `n` cases are flawed: 3%, rounded half up.
pub fn flawed_count(n: usize) -> usize {
    (n.saturating_mul(FLAWED_PERCENT) + 50) / 100
}

/// `n` cases from `seed`, ages relative to 2025-01-01.
pub fn generate(n: usize, seed: u64) -> Vec<DemoCase> {
    generate_at(n, seed, default_reference_date())
}

/// `n` cases from `seed`, debtors aged 20 to 70 at `reference`.
pub fn generate_at(n: usize, seed: u64, reference: NaiveDate) -> Vec<DemoCase> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut flaws: Vec<Option<Flaw>> = vec![None; n];
    let mut positions = rand::seq::index::sample(&mut rng, n, flawed_count(n).min(n)).into_vec();
    positions.sort_unstable();
    for (k, pos) in positions.into_iter().enumerate() {
        flaws[pos] = Some(Flaw::ALL[k % Flaw::ALL.len()]);
    }

    let mut generator = Generator {
        rng,
        seed,
        reference,
        used_ids: HashSet::new(),
    };
    flaws
        .into_iter()
        .enumerate()
        .map(|(i, flaw)| {
            let mut input = generator.case(i + 1);
            if let Some(flaw) = flaw {
                generator.apply(&mut input, flaw);
            }
            DemoCase { input, flaw }
        })
        .collect()
}

/// Share of the valid cases whose debtors get a standing ruling in the demo's registry, in
/// percent: those cases should match and become CERTIFIABLE.
pub const MATCHED_PERCENT: usize = 10;
/// Share of the valid cases whose debtors get a revoked ruling (enforcement resumed): listed
/// in the registry, yet they must not match.
pub const REVOKED_PERCENT: usize = 1;

/// A ruling of the demo's registry, for the debtor of case `row`.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRuling {
    pub input: RulingInput,
    /// The case of the same row.
    pub case_row: i64,
    /// Standing (终本): the case should match. Otherwise revoked (已恢复执行).
    pub standing: bool,
}

/// Rulings for the debtors of about [`MATCHED_PERCENT`] of the valid cases (standing, at
/// least one when any case is valid) and about [`REVOKED_PERCENT`] more (revoked), chosen
/// from `seed`. Each is valid for import: filed 4 to 23 months before it was terminated, in
/// 2022-2024. Ruling numbers name the demo's seed and size, so demos of other seeds or sizes
/// (whose debtors differ) never contradict each other's rulings.
pub fn demo_rulings(cases: &[DemoCase], seed: u64, court: &CourtSpec) -> Vec<DemoRuling> {
    let valid: Vec<&DemoCase> = cases.iter().filter(|c| c.flaw.is_none()).collect();
    let percent = |p: usize| (valid.len().saturating_mul(p) + 50) / 100;
    let matched = percent(MATCHED_PERCENT).max(usize::from(!valid.is_empty()));
    let revoked = percent(REVOKED_PERCENT)
        .max(usize::from(valid.len() > matched))
        .min(valid.len() - matched);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7265_6769_7374_7279);
    let mut chosen = rand::seq::index::sample(&mut rng, valid.len(), matched + revoked).into_vec();
    // The first `matched` drawn stand; the order of the file follows the cases.
    let standing: HashSet<usize> = chosen.iter().take(matched).copied().collect();
    chosen.sort_unstable();
    let n = cases.len();
    chosen
        .into_iter()
        .filter_map(|i| {
            let case = valid.get(i)?;
            let debtor = case.input.debtor.as_ref()?;
            let row = case.input.row;
            let terminated = default_reference_date()
                .checked_sub_days(chrono::Days::new(rng.random_range(30..=800)))?;
            let filed = terminated.checked_sub_months(Months::new(rng.random_range(4..=23)))?;
            let unpaid = case
                .input
                .claim
                .as_ref()
                .map_or(0, |c| c.principal_fen.saturating_add(c.interest_fen));
            let is_standing = standing.contains(&i);
            Some(DemoRuling {
                input: RulingInput {
                    ruling_number: format!(
                        "({}){}执{row}号之演示{seed}x{n}",
                        filed.year(),
                        court.code
                    ),
                    court: Some(court.court_of(&court.name)),
                    debtor_name: debtor.name.clone(),
                    debtor_id_number: debtor.id_number.clone(),
                    enforcement_filed_on: Some(date_pb(filed)),
                    terminated_on: Some(date_pb(terminated)),
                    unpaid_fen: unpaid,
                    status: if is_standing {
                        RulingStatus::Standing
                    } else {
                        RulingStatus::Revoked
                    } as i32,
                    row: 0,
                },
                case_row: row,
                standing: is_standing,
            })
        })
        .enumerate()
        .map(|(k, mut r)| {
            // Rows of the import, in order.
            r.input.row = i64::try_from(k + 1).unwrap_or(i64::MAX);
            r
        })
        .collect()
}

const ORG_CODE_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A unified social credit code (GB 32100) for a company registered in `division`, with an
/// 8-digit organisation code body, its GB 11714 check character and the GB 32100 one.
pub(crate) fn unified_social_credit_code(division: &str, body: u32) -> String {
    let body = format!("{:08}", body % 100_000_000);
    let sum: u32 = body
        .bytes()
        .zip(ORG_CODE_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let org_check = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from(b'0' + d as u8),
    };
    let first17 = format!("91{division}{body}{org_check}");
    let check = uscc::check_character(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
    "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛", "闫", "段", "雷", "侯", "龙",
    "史", "陶", "贺", "顾", "毛", "郝", "龚", "邵", "万", "钱", "严", "武", "戴", "孔", "汤",
    "欧阳",
];

const MALE_GIVEN: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "华", "飞", "鑫",
    "波", "斌", "宇", "浩", "凯", "健", "俊", "帅", "旭", "宁", "龙", "林", "阳", "建国", "建华",
    "志强", "志明", "海涛", "国庆", "永刚", "立新", "德胜", "文博", "子豪", "浩然", "宇轩", "俊杰",
    "明辉", "振华", "春雷", "长江", "晓东", "云龙", "金山",
];

const FEMALE_GIVEN: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "婷", "雪", "慧", "玲", "红", "燕", "梅", "琳",
    "颖", "倩", "晶", "欣", "丹", "秀英", "桂英", "玉兰", "秀兰", "佳怡", "雨欣", "淑珍", "凤霞",
    "春梅", "海燕", "丽娟", "晓燕", "桂芝", "玉梅", "秀云", "丽华", "雅琴", "欣怡", "思雨",
];

/// Towns of Jiayin County.
const TOWNS: &[&str] = &[
    "朝阳镇",
    "乌云镇",
    "乌拉嘎镇",
    "沿江乡",
    "常胜乡",
    "红光乡",
    "向阳乡",
    "保兴乡",
    "青山乡",
];

const COUNTY_PREFIX: &str = "黑龙江省伊春市嘉荫县";

/// Places outside the district: division code and address prefix.
const ELSEWHERE: &[(&str, &str)] = &[
    ("230717", "黑龙江省伊春市伊美区"),
    ("230781", "黑龙江省伊春市铁力市"),
    ("230102", "黑龙江省哈尔滨市道里区"),
    ("110105", "北京市朝阳区"),
    ("310115", "上海市浦东新区"),
];

const STREETS: &[&str] = &["人民路", "建设路", "解放路", "中山路", "新华街", "友谊路"];

const COMPANY_WORDS: &[&str] = &[
    "兴隆", "宏达", "鑫源", "龙江", "北疆", "金穗", "恒通", "江畔",
];
const COMPANY_TRADES: &[&str] = &["商贸", "农业发展", "木业", "物流", "建材", "粮油"];

/// Mobile prefixes: 13x, 15x (no 154), 18x.
const PHONE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "180", "181", "182", "183", "184", "185", "186",
    "187", "188", "189",
];

struct Generator {
    rng: StdRng,
    seed: u64,
    reference: NaiveDate,
    /// First 17 digits of the IDs handed out, to keep debtors distinct.
    used_ids: HashSet<u64>,
}

impl Generator {
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items.choose(&mut self.rng).copied().unwrap_or_default()
    }

    /// A valid case: natural person in the district, card or loan within scope.
    fn case(&mut self, index: usize) -> CaseInput {
        let male = self.rng.random_bool(0.5);
        let id_number = self.resident_id(DISTRICT, male);
        let name = format!(
            "{}{}",
            self.pick(SURNAMES),
            self.pick(if male { MALE_GIVEN } else { FEMALE_GIVEN })
        );
        let address = format!(
            "{COUNTY_PREFIX}{}{}号",
            self.pick(TOWNS),
            self.rng.random_range(1..=300)
        );
        let phone = self.phone();

        let loan = self.rng.random_bool(0.45);
        let (product, contract_amount_fen, claim) = if loan {
            let contract = self.rng.random_range(10..=100_i64) * 1_000 * 100;
            (ProductType::Loan, contract, self.loan_claim(contract))
        } else {
            (ProductType::CreditCard, 0, self.card_claim())
        };
        let year = self.rng.random_range(2016..=2024);

        CaseInput {
            bank_case_ref: format!("DEMO-{}-{index:06}", self.seed),
            product: product as i32,
            debtor: Some(Debtor {
                kind: DebtorKind::NaturalPerson as i32,
                name,
                id_number,
                phone,
                address,
                division_code: DISTRICT.to_owned(),
            }),
            contract_amount_fen,
            claim: Some(claim),
            contract_ref: format!("{}{year}{index:07}", if loan { "DK" } else { "XYK" }),
            contract_names_court: false,
            row: i64::try_from(index).unwrap_or(i64::MAX),
        }
    }

    /// An 18-character resident ID of `division`, unique within this generator when the
    /// space allows, with a birth date giving an age of 20 to 70 at the reference date.
    fn resident_id(&mut self, division: &str, male: bool) -> String {
        let mut first17 = String::new();
        for _ in 0..32 {
            let birth = self.birth_date();
            // The sequence's last digit is odd for men, even for women.
            let k = self.rng.random_range(0..499_u32);
            let sequence = if male { 2 * k + 1 } else { 2 * k + 2 };
            first17 = format!("{division}{}{sequence:03}", birth.format("%Y%m%d"));
            match first17.parse::<u64>() {
                Ok(key) if self.used_ids.insert(key) => break,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        let check = check_character(&first17).unwrap_or('0');
        format!("{first17}{check}")
    }

    fn birth_date(&mut self) -> NaiveDate {
        let oldest = self
            .reference
            .checked_sub_months(Months::new(12 * 70))
            .unwrap_or(self.reference);
        let youngest = self
            .reference
            .checked_sub_months(Months::new(12 * 20))
            .unwrap_or(self.reference);
        let span = (youngest - oldest).num_days().max(0);
        let offset = self.rng.random_range(0..=span);
        oldest
            .checked_add_days(chrono::Days::new(offset.unsigned_abs()))
            .unwrap_or(oldest)
    }

    fn phone(&mut self) -> String {
        let prefix = self.pick(PHONE_PREFIXES);
        format!("{prefix}{:08}", self.rng.random_range(0..100_000_000_u32))
    }

    /// What a cardholder owes: mostly modest balances, some large (cards have no limit).
    fn card_claim(&mut self) -> Claim {
        let principal = match self.rng.random_range(0..10) {
            0..=5 => self.rng.random_range(100_000..=2_000_000_i64),
            6..=8 => self.rng.random_range(2_000_000..=5_000_000),
            _ => self.rng.random_range(5_000_000..=15_000_000),
        };
        let fees = if self.rng.random_bool(0.4) {
            self.rng.random_range(1_000..=30_000)
        } else {
            0
        };
        self.claim(principal, 300..=1_800, fees)
    }

    /// What a borrower still owes of a loan of `contract` fen.
    fn loan_claim(&mut self, contract: i64) -> Claim {
        let percent = self.rng.random_range(20..=100_i64);
        let principal = if percent == 100 {
            contract
        } else {
            contract * percent / 100 + self.rng.random_range(0..100)
        };
        let fees = if self.rng.random_bool(0.1) {
            self.rng.random_range(5_000..=50_000)
        } else {
            0
        };
        self.claim(principal, 200..=1_200, fees)
    }

    /// Interest at `interest_bp` basis points of the principal, a smaller penalty.
    fn claim(
        &mut self,
        principal: i64,
        interest_bp: std::ops::RangeInclusive<i64>,
        fees: i64,
    ) -> Claim {
        let interest = principal * self.rng.random_range(interest_bp) / 10_000;
        let penalty = principal * self.rng.random_range(50..=500_i64) / 10_000;
        Claim {
            principal_fen: principal,
            interest_fen: interest,
            penalty_fen: penalty,
            fees_fen: fees,
            total_fen: 0,
        }
    }

    fn apply(&mut self, case: &mut CaseInput, flaw: Flaw) {
        match flaw {
            Flaw::WrongCheckCharacter => {
                if let Some(debtor) = case.debtor.as_mut() {
                    let body = debtor.id_number.get(..17).unwrap_or_default().to_owned();
                    let right = check_character(&body).unwrap_or('0');
                    let wrong = resident_id::CHECK_TABLE
                        .iter()
                        .copied()
                        .filter(|&c| c != right)
                        .collect::<Vec<_>>();
                    let wrong = wrong.choose(&mut self.rng).copied().unwrap_or('0');
                    debtor.id_number = format!("{body}{wrong}");
                }
            }
            Flaw::LoanOverLimit => {
                let contract = *[
                    LOAN_LIMIT_FEN + 1,
                    10_500_000,
                    12_000_000,
                    15_000_000,
                    20_000_000,
                    30_000_000,
                ]
                .choose(&mut self.rng)
                .unwrap_or(&(LOAN_LIMIT_FEN + 1));
                case.product = ProductType::Loan as i32;
                case.contract_amount_fen = contract;
                case.claim = Some(self.loan_claim(contract));
                if let Some(rest) = case.contract_ref.strip_prefix("XYK") {
                    case.contract_ref = format!("DK{rest}");
                }
            }
            Flaw::Organisation => {
                let name = format!(
                    "嘉荫县{}{}有限公司",
                    self.pick(COMPANY_WORDS),
                    self.pick(COMPANY_TRADES)
                );
                let body = self.rng.random_range(0..100_000_000_u32);
                let code = unified_social_credit_code(DISTRICT, body);
                if let Some(debtor) = case.debtor.as_mut() {
                    debtor.kind = DebtorKind::Organisation as i32;
                    debtor.name = name;
                    debtor.id_number = code;
                }
            }
            Flaw::ShortPhone => {
                if let Some(debtor) = case.debtor.as_mut() {
                    debtor.phone.pop();
                }
            }
            Flaw::OutsideDistrict => {
                let (division, prefix) = *ELSEWHERE
                    .choose(&mut self.rng)
                    .unwrap_or(&("110105", "北京市朝阳区"));
                let street = self.pick(STREETS);
                let number = self.rng.random_range(1..=500);
                let male = case
                    .debtor
                    .as_ref()
                    .and_then(|d| d.id_number.as_bytes().get(16).copied())
                    .is_some_and(|b| b % 2 == 1);
                let id_number = self.resident_id(division, male);
                if let Some(debtor) = case.debtor.as_mut() {
                    debtor.id_number = id_number;
                    debtor.division_code = division.to_owned();
                    debtor.address = format!("{prefix}{street}{number}号");
                }
                case.contract_names_court = false;
            }
        }
    }
}

#[cfg(test)]
mod tests;
