//! One signal per element of a list, by id: an element's view reads its own signal, set only
//! when that element changed, so a keystroke in one note of 500 (or one project of 200) updates
//! one card instead of making every card look for its element in the list.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;

/// An element of a board that has an id.
pub trait Keyed: Clone + Default + PartialEq + Send + Sync + 'static {
    fn key(&self) -> &str;
}

impl Keyed for shared::Note {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for shared::Project {
    fn key(&self) -> &str {
        &self.id
    }
}

/// The signals of the elements of `list` that a view asked for, kept up to date by one effect.
pub struct Cards<T: Keyed> {
    list: RwSignal<Vec<T>>,
    signals: StoredValue<HashMap<String, ArcRwSignal<T>>, LocalStorage>,
}

impl<T: Keyed> Clone for Cards<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Keyed> Copy for Cards<T> {}

impl<T: Keyed> Cards<T> {
    /// Follows `list`: on each change, the signal of each element that changed is set and the
    /// signals of elements gone are dropped.
    pub fn new(list: RwSignal<Vec<T>>) -> Self {
        let cards = Self {
            list,
            signals: StoredValue::new_local(HashMap::new()),
        };
        Effect::new(move |_| {
            list.with(|items| {
                cards.signals.update_value(|signals| {
                    for item in items {
                        if let Some(signal) = signals.get(item.key())
                            && signal.with_untracked(|shown| shown != item)
                        {
                            signal.set(item.clone());
                        }
                    }
                    let ids: HashSet<&str> = items.iter().map(Keyed::key).collect();
                    signals.retain(|id, _| ids.contains(id.as_str()));
                })
            })
        });
        cards
    }

    /// The signal of element `id`, made from the list the first time a view asks for it (the
    /// default element when `id` is not in the list).
    pub fn get(&self, id: &str) -> Signal<T> {
        if let Some(signal) = self.signals.with_value(|signals| signals.get(id).cloned()) {
            return signal.read_only().into();
        }
        let item = self
            .list
            .with_untracked(|items| items.iter().find(|item| item.key() == id).cloned())
            .unwrap_or_default();
        let signal = ArcRwSignal::new(item);
        self.signals.update_value(|signals| {
            signals.insert(id.to_owned(), signal.clone());
        });
        signal.read_only().into()
    }
}

/// A finger held still on an element for [`LONG_PRESS_MS`] (a long press): what a right click
/// does with a mouse. Browsers differ (iOS fires no context menu on a long press), so the app
/// times it itself from pointer events.
#[derive(Clone, Copy)]
pub struct LongPress {
    pending: StoredValue<Option<TimeoutHandle>, LocalStorage>,
    at: StoredValue<(i32, i32)>,
}

/// How long a finger is held for a long press.
pub const LONG_PRESS_MS: u64 = 500;
/// A finger moving farther than this (CSS px) scrolls or drags: no long press.
const LONG_PRESS_SLOP_PX: i32 = 10;

impl LongPress {
    pub fn new() -> Self {
        LongPress {
            pending: StoredValue::new_local(None),
            at: StoredValue::new((0, 0)),
        }
    }

    /// A finger touched down: `fire` runs if it stays there long enough. Mice and pens are
    /// left alone.
    pub fn start(self, ev: &web_sys::PointerEvent, fire: impl FnOnce() + 'static) {
        self.cancel();
        if ev.pointer_type() != "touch" || !ev.is_primary() {
            return;
        }
        self.at.set_value((ev.client_x(), ev.client_y()));
        let pending = self.pending;
        let handle = set_timeout_with_handle(
            move || {
                pending.set_value(None);
                fire();
            },
            std::time::Duration::from_millis(LONG_PRESS_MS),
        );
        self.pending.set_value(handle.ok());
    }

    /// The finger moved: past the slop, it is not a long press.
    pub fn moved(self, ev: &web_sys::PointerEvent) {
        let (x, y) = self.at.get_value();
        if (ev.client_x() - x).abs().max((ev.client_y() - y).abs()) > LONG_PRESS_SLOP_PX {
            self.cancel();
        }
    }

    /// The finger lifted, or the browser took the gesture over.
    pub fn cancel(self) {
        if let Some(handle) = self.pending.try_update_value(Option::take).flatten() {
            handle.clear();
        }
    }
}

/// Whether a context menu event comes from a finger held on the screen (a long press), not
/// from a mouse's right button or the keyboard's menu key: the app's own long press handles
/// it, so the browser's menu and text selection stay away.
pub fn by_finger(ev: &web_sys::MouseEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.dyn_ref::<web_sys::PointerEvent>()
        .is_some_and(|p| p.pointer_type() == "touch")
}
