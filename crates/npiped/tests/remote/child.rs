//! The entry point of helper processes (this binary, run again).

#[test]
fn entry() {
    let Ok(_role) = std::env::var("NPIPED_TEST_CHILD") else {
        return; // an ordinary test run: nothing to do
    };
}
