use super::inline_numbers;

#[test]
fn only_numbers_are_inlined_one_per_placeholder() {
    assert_eq!(
        inline_numbers("SELECT a FROM t WHERE id = ? OR x = ?", &["12", "345"]).as_deref(),
        Some("SELECT a FROM t WHERE id = 12 OR x = 345")
    );
    assert_eq!(inline_numbers("WHERE id = ?", &["1 OR 1=1"]), None);
    assert_eq!(inline_numbers("WHERE id = ?", &[""]), None);
    assert_eq!(
        inline_numbers("WHERE id = ? AND ?", &["1"]),
        None,
        "too few"
    );
    assert_eq!(
        inline_numbers("WHERE id = ?", &["1", "2"]),
        None,
        "too many"
    );
    assert_eq!(inline_numbers("SELECT 1", &[]).as_deref(), Some("SELECT 1"));
}
