//! The macros' compile-time contract: what compiles (`tests/ui/pass`), and what the compiler
//! says about what does not (`tests/ui/fail`, with its messages in the `.stderr` files).
//!
//! After changing a message: `TRYBUILD=overwrite cargo test -p iogate-macros --test ui`, then
//! read the new `.stderr` files.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
