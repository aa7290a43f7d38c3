//! Property tests of the deadlock parser through the binary-free path: arbitrary text and
//! mutations of the captured fixtures never panic. The fixtures in fixtures/innodb_status/ are the
//! seed corpus.
//!
//! The parser is private to the crate, so this drives it through `mytriage::fuzz_innodb_status`,
//! a hidden entry point that exists for this test.

use proptest::prelude::*;

fn corpus() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/innodb_status");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    texts.sort();
    assert!(texts.len() >= 10, "the seed corpus is there");
    texts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        mytriage::fuzz_innodb_status(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(index in 0usize..64, cut in 0usize..20_000, splice in "\\PC{0,40}", at in 0usize..20_000) {
        let corpus = corpus();
        let text = &corpus[index % corpus.len()];
        let chars: Vec<char> = text.chars().collect();
        let (cut, at) = (cut.min(chars.len()), at.min(chars.len()));
        // Cut the text short, and splice random characters in somewhere.
        let mut mutated: String = chars[..cut.max(at)].iter().collect();
        mutated.insert_str(mutated.char_indices().nth(at.min(cut.max(at))).map_or(mutated.len(), |(i, _)| i), &splice);
        mytriage::fuzz_innodb_status(&mutated);
    }
}
