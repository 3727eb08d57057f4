//! Feeds arbitrary bytes to what the relay does with a client's frame: the y-websocket framing,
//! the awareness decoder, and the guarded decode-and-apply of updates onto a board document.
//! None of it may panic or abort; refusals are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::protocol::{self, Message};
use yrs::updates::decoder::Decode;

fuzz_target!(|frame: &[u8]| {
    // The relay catches panics of the yrs decoder (`apply_untrusted`); libFuzzer's own hook
    // would abort on those caught panics. Only a panic escaping this function is a crash.
    static QUIET_PANICS: std::sync::Once = std::sync::Once::new();
    QUIET_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let doc = yrs::Doc::new();
    let initial = shared::doc::initial_update(shared::BoardKind::MindMap, "fuzz", shared::Lang::Fr);
    assert_eq!(
        server::room::apply_untrusted(&doc, &initial),
        server::room::Applied::Changed
    );
    // The frame as a whole, as the relay reads it.
    if let Ok(messages) = protocol::decode_frame(frame, 256) {
        for message in messages {
            match message {
                Message::SyncStep2(update) | Message::Update(update) => {
                    let _ = server::room::apply_untrusted(&doc, update);
                }
                Message::SyncStep1(state_vector) => {
                    let _ = std::panic::catch_unwind(|| yrs::StateVector::decode_v1(state_vector));
                }
                Message::Awareness(payload) => {
                    let _ = protocol::decode_awareness(payload, 1024);
                }
                Message::QueryAwareness | Message::Auth(_) => {}
            }
        }
    }
    // The raw bytes as an update, to reach the yrs decoder without the framing.
    let _ = server::room::apply_untrusted(&doc, frame);
});
