//! The 1+X chain as a transition table (DESIGN.md section 3). Intake is the router: a stage
//! service reports an outcome, and only a transition listed there moves the case. The table
//! lives in the kernel, where every stage service reads it too.

pub use sieve_kernel::stage::{FIRST_STAGE, Stage, allows};
