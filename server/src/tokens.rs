//! Capability tokens: one random secret per role and board, stored only as SHA-256 hashes.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a token (192 bits).
const TOKEN_BYTES: usize = 24;

/// What a token lets its holder do on a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Editor,
    /// An editor who came in through the board's join code (`crate::join`): edits as an editor
    /// does, with a credential of its own, so that the facilitator can revoke every credential
    /// minted through codes without touching the editor link.
    CodeEditor,
    Facilitator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor | Role::CodeEditor => "editor",
            Role::Facilitator => "facilitator",
        }
    }

    pub fn can_edit(self) -> bool {
        self >= Role::Editor
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "facilitator" => Some(Role::Facilitator),
            _ => None,
        }
    }
}

/// The three secrets of a new board, shown once to its creator.
pub struct BoardTokens {
    pub facilitator: String,
    pub editor: String,
    pub viewer: String,
}

impl BoardTokens {
    pub fn generate() -> Self {
        BoardTokens {
            facilitator: random_token(),
            editor: random_token(),
            viewer: random_token(),
        }
    }

    pub fn hashes(&self) -> TokenHashes {
        TokenHashes {
            facilitator: sha256(&self.facilitator),
            editor: sha256(&self.editor),
            viewer: sha256(&self.viewer),
        }
    }
}

/// What the store keeps of a board's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHashes {
    pub facilitator: [u8; 32],
    pub editor: [u8; 32],
    pub viewer: [u8; 32],
}

impl TokenHashes {
    pub fn from_slices(facilitator: &[u8], editor: &[u8], viewer: &[u8]) -> Option<Self> {
        Some(TokenHashes {
            facilitator: facilitator.try_into().ok()?,
            editor: editor.try_into().ok()?,
            viewer: viewer.try_into().ok()?,
        })
    }

    /// The role a presented token grants, if any. Every hash is compared, in constant time,
    /// so timing tells nothing about which role (if any) came close.
    /// Replaces the hash of one role's token.
    pub fn set(&mut self, role: Role, hash: [u8; 32]) {
        match role {
            Role::Viewer => self.viewer = hash,
            Role::Editor => self.editor = hash,
            Role::Facilitator => self.facilitator = hash,
            Role::CodeEditor => {}
        }
    }

    pub fn role_of(&self, token: &str) -> Option<Role> {
        let presented = sha256(token);
        let mut role = None;
        for (hash, candidate) in [
            (&self.viewer, Role::Viewer),
            (&self.editor, Role::Editor),
            (&self.facilitator, Role::Facilitator),
        ] {
            if bool::from(hash.ct_eq(&presented)) {
                role = Some(candidate);
            }
        }
        role
    }
}

/// Compares two secrets without leaking where they differ.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    bool::from(sha256(a).ct_eq(&sha256(b)))
}

pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

pub fn random_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_grants_its_role_and_nothing_else_grants_any() {
        let tokens = BoardTokens::generate();
        let hashes = tokens.hashes();
        assert_eq!(hashes.role_of(&tokens.facilitator), Some(Role::Facilitator));
        assert_eq!(hashes.role_of(&tokens.editor), Some(Role::Editor));
        assert_eq!(hashes.role_of(&tokens.viewer), Some(Role::Viewer));
        assert_eq!(hashes.role_of(""), None);
        assert_eq!(hashes.role_of(&tokens.editor[1..]), None);
        assert_ne!(tokens.editor, BoardTokens::generate().editor);
        assert_eq!(tokens.editor.len(), TOKEN_BYTES * 2);
    }
}
