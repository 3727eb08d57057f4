//! Turning a whole-string edit (what an input box reports) into the smallest Y.Text change,
//! so two people typing in one node merge character by character.

/// One contiguous change: delete `delete_len` bytes at byte offset `index`, then insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChange {
    pub index: usize,
    pub delete_len: usize,
    pub insert: String,
}

/// The change from `old` to `new`, `None` when they are equal. Offsets are bytes on char
/// boundaries (yrs' default offset kind).
pub fn text_change(old: &str, new: &str) -> Option<TextChange> {
    if old == new {
        return None;
    }
    let prefix = old
        .char_indices()
        .zip(new.chars())
        .find(|((_, a), b)| a != b)
        .map(|((i, _), _)| i)
        .unwrap_or(old.len().min(new.len()));
    // Step back to a char boundary of both strings (the zip stops at the shorter one).
    let mut prefix = prefix;
    while !old.is_char_boundary(prefix) || !new.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let (old_rest, new_rest) = (&old[prefix..], &new[prefix..]);
    let suffix = old_rest
        .chars()
        .rev()
        .zip(new_rest.chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum::<usize>();
    Some(TextChange {
        index: prefix,
        delete_len: old_rest.len() - suffix,
        insert: new_rest[..new_rest.len() - suffix].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn apply(old: &str, change: &TextChange) -> String {
        let mut out = old.to_owned();
        out.replace_range(
            change.index..change.index + change.delete_len,
            &change.insert,
        );
        out
    }

    #[test]
    fn typical_edits_become_minimal_changes() {
        let cases = [
            ("Mobilité", "Mobilités", 9, 0, "s"),
            ("Mobilités", "Mobilité", 9, 1, ""),
            ("abc", "aXc", 1, 1, "X"),
            ("été", "étés", 5, 0, "s"),
            ("", "Québec", 0, 0, "Québec"),
        ];
        for (old, new, index, delete_len, insert) in cases {
            let change = text_change(old, new).unwrap();
            assert_eq!(
                change,
                TextChange {
                    index,
                    delete_len,
                    insert: insert.into()
                },
                "{old} -> {new}"
            );
        }
        assert_eq!(text_change("same", "same"), None);
    }

    proptest! {
        #[test]
        fn applying_the_change_gives_the_new_text(old in "[aé€ b]{0,12}", new in "[aé€ b]{0,12}") {
            match text_change(&old, &new) {
                None => prop_assert_eq!(&old, &new),
                Some(change) => prop_assert_eq!(apply(&old, &change), new),
            }
        }
    }
}
